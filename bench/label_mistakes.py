"""Precision and recall of the label-mistake finder on planted mistakes in real photos.

Per data set: import the photos with their folder labels and crop the faces (once;
`--workdir` keeps the projects for a re-run), then for each seed move a share of the
labelled faces (`--fraction`, default 3%) to another person chosen at random, run
`find_label_mistakes` with each method, and score the flagged list against the planted
mistakes (top-K = the number flagged, as the app shows it):

  precision  planted mistakes among the flagged faces / faces flagged
  recall     planted mistakes flagged / mistakes planted

The labels are put back after each run. Also printed: the out-of-fold accuracy the
list rests on (what the app and `facelab mistakes` show) and the time of each run.
The face network's first run includes embedding every face; later runs read the
project's embedding cache, so its time is printed for both.

    .venv/bin/python bench/label_mistakes.py [--sets lfw20,5celeb] [--fraction 0.03]
        [--seeds 0,1,2] [--methods quick,face-network] [--workdir DIR] [--threads 1]

The original labels of these sets are taken as true; a face the finder flags that
was not planted may still be a real mistake of the set (LFW has a few), which counts
against precision here.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

from engine.evaluation.mistakes import FACE_NETWORK, QUICK, find_label_mistakes  # noqa: E402
from engine.ingest import crop_pending, import_paths  # noqa: E402
from engine.project import CATALOG_NAME, Project  # noqa: E402

DATASETS = REPO.parent / "shared" / "datasets"


@dataclass(frozen=True)
class Outcome:
    method: str
    seed: int
    planted: int
    flagged: int
    hits: int
    oof_accuracy: float
    seconds: float

    @property
    def precision(self) -> float:
        return self.hits / self.flagged if self.flagged else 1.0

    @property
    def recall(self) -> float:
        return self.hits / self.planted if self.planted else 1.0


def open_project(name: str, workdir: Path) -> Project:
    root = workdir / name
    if (root / CATALOG_NAME).exists():
        project = Project.open(root)
        if project.catalog.labelled_faces():
            return project
        project.close()
    started = time.monotonic()
    project = Project.create(root)
    import_paths(project, [DATASETS / name], labels_from_folders=True)
    report = crop_pending(project)
    print(f"{name}: imported and cropped {len(project.catalog.labelled_faces())} labelled faces "
          f"in {time.monotonic() - started:.0f} s ({len(report.errors)} errors)", flush=True)
    return project


def plant_mistakes(project: Project, fraction: float, seed: int) -> dict[int, int]:
    """Move ``fraction`` of the labelled faces to a random other person; face id -> true person."""
    catalog = project.catalog
    labelled = catalog.labelled_faces()
    persons = [p.id for p in catalog.persons()]
    rng = np.random.default_rng(seed)
    chosen = rng.choice(len(labelled), size=max(1, round(fraction * len(labelled))), replace=False)
    truth = {}
    for index in chosen:
        face_id, person_id, _ = labelled[index]
        wrong = int(rng.choice([p for p in persons if p != person_id]))
        catalog.set_labels([face_id], wrong, description="bench: plant a mistake")
        truth[face_id] = person_id
    return truth


def restore(project: Project, truth: dict[int, int]) -> None:
    for face_id, person_id in truth.items():
        project.catalog.set_labels([face_id], person_id, description="bench: restore")


def measure(project: Project, method: str, seed: int, fraction: float, folds: int) -> Outcome:
    truth = plant_mistakes(project, fraction, seed)
    try:
        started = time.monotonic()
        search = find_label_mistakes(project, folds=folds, method=method, seed=seed)
        seconds = time.monotonic() - started
    finally:
        restore(project, truth)
    flagged = {m.face_id for m in search.mistakes}
    return Outcome(method, seed, len(truth), len(flagged), len(flagged & set(truth)),
                   search.basis.oof_accuracy, seconds)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default="lfw20,5celeb")
    parser.add_argument("--fraction", type=float, default=0.03)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--methods", default=f"{QUICK},{FACE_NETWORK}")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (1: see bench/accuracy.py on a shared 2-core machine)")
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    seeds = [int(s) for s in args.seeds.split(",")]
    methods = args.methods.split(",")
    with tempfile.TemporaryDirectory(prefix="facelab-bench-mistakes-") as scratch:
        workdir = args.workdir or Path(scratch)
        workdir.mkdir(parents=True, exist_ok=True)
        for name in args.sets.split(","):
            project = open_project(name, workdir)
            try:
                faces = len(project.catalog.labelled_faces())
                print(f"\n{name}: {faces} labelled faces, {args.fraction:.0%} planted mistakes, "
                      f"{args.folds} folds")
                print(f"{'method':<14}{'seed':>5}{'planted':>9}{'flagged':>9}{'hits':>6}"
                      f"{'precision':>11}{'recall':>8}{'oof acc':>9}{'seconds':>9}")
                for method in methods:
                    outcomes = []
                    for seed in seeds:
                        o = measure(project, method, seed, args.fraction, args.folds)
                        outcomes.append(o)
                        print(f"{o.method:<14}{o.seed:>5}{o.planted:>9}{o.flagged:>9}{o.hits:>6}"
                              f"{o.precision:>11.0%}{o.recall:>8.0%}{o.oof_accuracy:>9.1%}"
                              f"{o.seconds:>9.1f}", flush=True)
                    hits = sum(o.hits for o in outcomes)
                    flagged = sum(o.flagged for o in outcomes)
                    planted = sum(o.planted for o in outcomes)
                    print(f"{method:<14}{'all':>5}{planted:>9}{flagged:>9}{hits:>6}"
                          f"{hits / max(flagged, 1):>11.0%}{hits / max(planted, 1):>8.0%}"
                          f"{np.mean([o.oof_accuracy for o in outcomes]):>9.1%}"
                          f"{np.median([o.seconds for o in outcomes]):>9.1f}  (median s)")
            finally:
                project.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
