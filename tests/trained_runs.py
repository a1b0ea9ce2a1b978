"""Real projects with trained runs in seconds: the 5celeb crops and the tiny test
architecture of tests/engine/training (32 px), for the evaluation report and the
Evaluate page."""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path
from typing import Iterator

import engine.models as models
from tests.engine.training.conftest import TINY_ARCH, TINY_SIZE, TinyNet


@contextlib.contextmanager
def tiny_arch_registered() -> Iterator[str]:
    """Register the tiny architecture unless another fixture already did; remove it
    afterwards only if this registered it."""
    known = {spec.name for spec in models.list_architectures()}
    if TINY_ARCH not in known:
        models.register_architecture(models.ArchSpec(
            name=TINY_ARCH, display_name="Tiny test CNN", description="A test network.",
            input_size=TINY_SIZE, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5), family="cnn",
            builder=TinyNet, head_path="head"))
    try:
        yield TINY_ARCH
    finally:
        if TINY_ARCH not in known:
            models.unregister_architecture(TINY_ARCH)


def trained_copy(source: Path, target: Path, epochs: tuple[int, ...] = (2, 3)) -> list[str]:
    """Copy a cropped project to ``target`` and train (and evaluate) one tiny run per
    entry of ``epochs``; returns the run ids, oldest first."""
    from engine.project import Project
    from engine.training.config import TrainConfig
    from engine.training.runner import train_run

    shutil.copytree(source, target)
    run_ids = []
    with Project.open(target) as project:
        for seed, count in enumerate(epochs, start=1):
            config = TrainConfig(arch=TINY_ARCH, epochs=count, batch_size=16, augment="none",
                                 seed=seed, early_stopping_patience=None)
            run_ids.append(train_run(project, config).run_id)
    return run_ids


# A 6th person for the lab loop of issue 18 (36 LFW photos, one face each).
NEW_PERSON = "Andre_Agassi"


def changed_project(source: Path, target: Path, datasets: Path) -> tuple[str, str]:
    """The lab loop of issue 18: copy a cropped 5-person project to ``target``, train a
    tiny run, import (labels from folders) and crop a folder adding a 6th person, train
    again. Returns (the run on 5 persons, the run on 6), both evaluated."""
    from engine.ingest import crop_pending, import_paths
    from engine.project import Project
    from engine.training.config import TrainConfig
    from engine.training.runner import train_run

    [old_run] = trained_copy(source, target, epochs=(2,))
    with Project.open(target) as project:
        import_paths(project, [datasets / "lfw20" / NEW_PERSON], labels_from_folders=True)
        crop_pending(project)
        config = TrainConfig(arch=TINY_ARCH, epochs=2, batch_size=16, augment="none", seed=7,
                             early_stopping_patience=None)
        new_run = train_run(project, config).run_id
    return old_run, new_run
