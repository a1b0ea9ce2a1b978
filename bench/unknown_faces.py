"""Unknown faces: softmax confidence versus distance to the known persons, on held-back persons.

lfw20 (62 persons) is imported and cropped as FaceLab does; HOLDOUT persons (chosen
by a seeded draw) are left out of training entirely. The others are split per
person into train / val / test (70 / 10 / 20 %), and `--arch auto` trains on them
(the instant faceresnet head when its weights are on this machine, as
`facelab train --arch auto` would). Then the known persons' test faces and every
face of the held-back persons are scored by each rule:

  softmax            unknown when the highest softmax probability < 0.5 (the default
                     --threshold); the head names the face
  distance (FaceLab) unknown when the face is farther than the run's own limit (its
                     default --max-distance, calibrated on its validation faces) from
                     the mean embedding of the person the head names
                     (engine/inference/open_set.py)
  distance @ 0.5     the same at faceresnet's fixed fallback limit, 0.5
  distance @ 0.6     the same at dlib's same-person distance, 0.6
  nearest face       as FaceLab's, to the person's nearest reference face instead
  nearest face, any  farther than the limit from every known face is unknown; the
                     nearest known face names it (no head)
  softmax + distance unknown when either softmax or FaceLab's distance says so

Printed per rule: known faces named right (not rejected, right person), unknown
faces rejected, and AUROC of the rule's score for known versus unknown (threshold-
free). References are the run's own (engine/inference/open_set.py: training and
validation faces embedded by the best model).

    .venv/bin/python bench/unknown_faces.py [--dataset DIR] [--holdout 12] [--seed 0]
        [--workdir DIR (keeps the cropped project for a re-run)] [--threads 1]
        [--face-framing crop|aligned]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402

from bench.accuracy import prepare_project  # noqa: E402
from engine.models.faceresnet import SAME_PERSON_DISTANCE  # noqa: E402
from engine.project import Project  # noqa: E402

DEFAULT_DATASET = REPO.parent / "shared" / "datasets" / "lfw20"
SPLIT_NAME = "bench-unknown"
CONFIDENCE_THRESHOLD = 0.5


def held_out_split(project: Project, holdout: int, seed: int) -> tuple[list[str], list[int]]:
    """A split without the held-back persons in train/val; returns their names and the
    ids of all their faces (put in "test", which no training step reads)."""
    catalog = project.catalog
    persons = sorted(catalog.persons(), key=lambda p: p.name)
    rng = np.random.default_rng(seed)
    held = {persons[i].id for i in rng.choice(len(persons), holdout, replace=False)}
    faces_of: dict[int, list[int]] = {}
    for face in catalog.faces():
        if face.person_id is not None:
            faces_of.setdefault(face.person_id, []).append(face.id)
    wanted: dict[int, str] = {}
    for person, faces in faces_of.items():
        faces = sorted(faces)
        if person in held:
            wanted.update({f: "test" for f in faces})
            continue
        order = rng.permutation(faces)
        n_test, n_val = round(0.2 * len(order)), max(1, round(0.1 * len(order)))
        wanted.update({int(f): "test" for f in order[:n_test]})
        wanted.update({int(f): "val" for f in order[n_test:n_test + n_val]})
        wanted.update({int(f): "train" for f in order[n_test + n_val:]})
    split = catalog.split(SPLIT_NAME)
    if split is not None:
        if catalog.split_assignments(split.id) != wanted:
            raise SystemExit(f"{project.root}: split {SPLIT_NAME} differs; use a new --workdir")
    else:
        split = catalog.create_split(SPLIT_NAME, seed, 0.2, 0.1)
        catalog.add_split_members(split.id, sorted(wanted.items()))
    unknown_faces = [f for p in held for f in faces_of.get(p, [])]
    return sorted(p.name for p in persons if p.id in held), unknown_faces


def score_rules(probs: np.ndarray, centroid: np.ndarray, nearest: np.ndarray,
                max_distance: float, fixed_distance: float) -> dict[str, tuple[np.ndarray, np.ndarray | None]]:
    """Per rule: (named person index, -1 for unknown; known-ness score for AUROC) of
    every face. ``centroid`` and ``nearest``: faces x persons distances."""
    rows = np.arange(len(probs))
    head = probs.argmax(1)
    confidence = probs.max(1)
    soft_unknown = confidence < CONFIDENCE_THRESHOLD
    centroid_named = centroid[rows, head]
    nearest_named = nearest[rows, head]
    nearest_any = nearest.min(1)
    return {
        "softmax": (np.where(soft_unknown, -1, head), confidence),
        "distance (FaceLab)": (np.where(centroid_named > max_distance, -1, head),
                               -centroid_named),
        f"distance @ {fixed_distance}": (np.where(centroid_named > fixed_distance, -1, head),
                                         -centroid_named),
        "distance @ 0.6": (np.where(centroid_named > SAME_PERSON_DISTANCE, -1, head),
                           -centroid_named),
        "nearest face": (np.where(nearest_named > max_distance, -1, head), -nearest_named),
        "nearest face, any": (np.where(nearest_any > max_distance, -1, nearest.argmin(1)),
                              -nearest_any),
        "softmax + distance": (np.where(soft_unknown | (centroid_named > max_distance), -1,
                                        head), None),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, default=DEFAULT_DATASET)
    parser.add_argument("--holdout", type=int, default=12)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--face-framing", choices=("crop", "aligned"), default=None,
                        help="how the faces are framed (default: the architecture's)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from engine.data.cache import load_face_tensors
    from engine.evaluation.runs import run_checkpoint
    from engine.inference.open_set import default_max_distance, load_references
    from engine.training.auto import auto_config
    from engine.training.config import run_alignment
    from engine.training.inference import load_trained_model, predict_probs_and_features
    from engine.training.runner import train_run

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="facelab-unknown-"))
    project, prepare_s = prepare_project(args.dataset, workdir)
    with project:
        held, unknown_faces = held_out_split(project, args.holdout, args.seed)
        print(f"{args.dataset.name}: held back {len(held)} persons ({', '.join(held)}); "
              f"import + crop {prepare_s:.0f} s", flush=True)
        started = time.perf_counter()
        given = {"face_framing": args.face_framing} if args.face_framing else None
        config, why = auto_config(project, given, split_name=SPLIT_NAME)
        print(f"train: {why}", flush=True)
        result = train_run(project, config, split_name=SPLIT_NAME, evaluate=False)
        print(f"trained {result.run_id} in {time.perf_counter() - started:.0f} s "
              f"(best val acc {result.finished.best_val_acc:.1%})", flush=True)
        checkpoint = run_checkpoint(project, result.run_id)
        trained = load_trained_model(checkpoint)
        references = load_references(checkpoint.parent, len(trained.class_names))
        if references is None:
            raise SystemExit(f"{config.arch} runs keep no reference embeddings: "
                             "only the softmax rule applies")
        fixed_distance = default_max_distance(config.arch)
        max_distance = references.max_distance or fixed_distance
        names = {p.id: p.name for p in project.catalog.persons()}
        index_of = {name: i for i, name in enumerate(trained.class_names)}
        split = project.catalog.split(SPLIT_NAME)
        test_faces = [f for f, s in project.catalog.split_assignments(split.id).items()
                      if s == "test"]
        person_of = {f.id: f.person_id for f in project.catalog.faces()}
        truth = np.array([index_of.get(names[person_of[f]], -1) for f in test_faces])
        x = load_face_tensors(project, test_faces, trained.spec.input_size,
                              alignment=run_alignment(trained.config))
        probs, features = predict_probs_and_features(trained.model, x, trained.spec)

    persons = len(trained.class_names)
    centroid = references.person_distances(features, persons)
    nearest = references.nearest_distances(features, persons)
    known = truth >= 0
    print(f"\n{known.sum()} test faces of {persons} known persons, {(~known).sum()} faces "
          f"of {len(held)} held-back persons; references: {len(references.labels)} faces; "
          f"thresholds: confidence {CONFIDENCE_THRESHOLD}, the run's own distance limit "
          f"{max_distance:.3f}\n")
    print(f"{'rule':<27} {'known named right':>18} {'unknown rejected':>17} {'AUROC':>7}")
    for rule, (named, score) in score_rules(probs, centroid, nearest, max_distance,
                                            fixed_distance).items():
        right = (named[known] == truth[known]).mean()
        rejected = (named[~known] == -1).mean()
        auroc = f"{roc_auc_score(known, score):.3f}" if score is not None else "-"
        print(f"{rule:<27} {right:>18.1%} {rejected:>17.1%} {auroc:>7}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
