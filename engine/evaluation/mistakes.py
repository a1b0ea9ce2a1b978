"""Label-mistake finder: which labelled faces are probably filed under the wrong person.

Every labelled face gets out-of-fold probabilities (k stratified folds: each face is
scored by a model that never trained on it), then cleanlab's confident learning
(:func:`engine.evaluation.label_issues.rank_label_issues`) ranks the suspicious ones.
The ranking replaces the catalog's list of suspicious labels; verdicts the user
already gave ("keep", "fixed") survive.

Two kinds of model make the probabilities:

- ``method="quick"``: HOG + a small greyscale thumbnail per face, PCA, then linear
  discriminant analysis with Ledoit-Wolf shrinkage (Fisherfaces' recipe, on better
  features). No network, no weights, seconds on a CPU. Measured on this project's
  2-core machine (64 px crops, 5 folds), with 10% of the labels flipped: on
  att_faces 38-39 of the 40 flipped faces rank in its top 10% (3 flip seeds;
  PCA + logistic regression: 28-33; plain LDA: 38); on 5celeb (118 web photos, 5
  persons) shrinkage is what keeps it sane: with clean labels it flags 5 faces,
  plain LDA flags 61 (half the set). On lfw20 (62 persons) its out-of-fold
  accuracy is 74% with clean labels.
- ``method=<architecture>``: that CNN trained per fold by the engine's Trainer
  (pretrained weights where this machine has them), for when the quick model is
  not good enough for the data; k times one training run.
"""

from __future__ import annotations

import logging
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.catalog import CatalogError
from engine.data.cache import load_face_tensors
from engine.evaluation.label_issues import rank_label_issues, stratified_folds
from engine.project import Project
from engine.tasks import Cancelled, Stage, TaskContext, null_context

log = logging.getLogger(__name__)

QUICK = "quick"
STAGE = Stage.MISTAKES
# The quick model's input: the cached crops at this size, in grey.
QUICK_IMAGE_SIZE = 64
THUMBNAIL_SIZE = 24
MAX_PCA_COMPONENTS = 100


@dataclass(frozen=True)
class LabelMistake:
    face_id: int
    score: float  # in [0, 1]; higher = more likely mislabelled
    given_person: str
    suggested_person: str


def find_label_mistakes(project: Project, *, folds: int = 5, method: str = QUICK,
                        epochs: int = 10, seed: int = 0,
                        ctx: TaskContext | None = None) -> list[LabelMistake]:
    """Rank the project's likely label mistakes, most suspicious first, and store them.

    ``method`` is "quick" or an architecture name (see `facelab models`); ``epochs``
    applies to an architecture only. Persons with a single labelled face cannot be
    cross-validated and are left out (logged).
    """
    ctx = ctx or null_context()
    if method != QUICK:
        from engine.models import get_spec

        get_spec(method)  # an unknown name fails now, not after the faces are loaded
    face_ids, labels, names, person_id_of = _judgeable_faces(project)
    splits = stratified_folds(labels, folds, seed)
    log.info("label mistakes: %d faces of %d persons, %d folds, method %s", len(face_ids),
             len(names), len(splits), method)
    if method == QUICK:
        probs = _quick_oof_probs(project, face_ids, labels, splits, ctx)
    else:
        probs = _cnn_oof_probs(project, face_ids, labels, names, splits, method, epochs, seed, ctx)
    ctx.check()
    issues = rank_label_issues(labels, probs)
    project.catalog.runs.replace_label_issues(
        [(face_ids[i.index], i.score, person_id_of[names[i.given_index]],
          person_id_of[names[i.suggested_index]]) for i in issues])
    ctx.report(STAGE, len(splits), len(splits), f"{len(issues)} suspicious labels")
    return [LabelMistake(face_ids[i.index], i.score, names[i.given_index],
                         names[i.suggested_index]) for i in issues]


def _judgeable_faces(project: Project) -> tuple[list[int], np.ndarray, list[str], dict[str, int]]:
    """(face ids, their class indices, class names, person id by name) of the labelled
    faces whose person has at least 2: a single face cannot be both trained on and held out."""
    name_of = {p.id: p.name for p in project.catalog.persons()}
    labelled = [(f, name_of[p]) for f, p, _ in project.catalog.labelled_faces()]
    count = Counter(name for _, name in labelled)
    single = sorted(name for name, n in count.items() if n < 2)
    if single:
        log.info("label mistakes: left out %d person(s) with a single face: %s", len(single),
                 ", ".join(single))
    names = sorted((name for name, n in count.items() if n >= 2), key=str.lower)
    if len(names) < 2:
        raise CatalogError("Finding label mistakes needs at least 2 persons with 2 or more "
                           f"labelled faces each (this project has {len(names)}).")
    index_of = {name: i for i, name in enumerate(names)}
    kept = [(f, index_of[name]) for f, name in labelled if name in index_of]
    return ([f for f, _ in kept], np.array([c for _, c in kept], dtype=np.int64), names,
            {name: pid for pid, name in name_of.items()})


# ---------------------------------------------------------------- quick model
def quick_features(images: np.ndarray) -> np.ndarray:
    """One row per face from uint8 N×3×S×S: HOG (edges, robust to lighting) plus a
    standardised greyscale thumbnail (overall shading); measured better together."""
    import cv2

    grey = np.einsum("nchw,c->nhw", images.astype(np.float32),
                     np.array([0.299, 0.587, 0.114], np.float32)).round().astype(np.uint8)
    # 64 px window, 16 px blocks of 2x2 cells of 8 px, 9 orientations: Dalal & Triggs' layout.
    hog = cv2.HOGDescriptor((64, 64), (16, 16), (8, 8), (8, 8), 9)
    rows = []
    for face in grey:
        window = cv2.resize(face, (64, 64), interpolation=cv2.INTER_AREA)
        thumb = cv2.resize(face, (THUMBNAIL_SIZE, THUMBNAIL_SIZE),
                           interpolation=cv2.INTER_AREA).astype(np.float32).ravel()
        thumb = (thumb - thumb.mean()) / (thumb.std() + 1e-6)
        rows.append(np.concatenate([hog.compute(window).ravel(), thumb]))
    return np.stack(rows)


def quick_model(num_train: int):
    """PCA then shrinkage LDA: shrinking the within-person covariance towards a diagonal
    keeps the probabilities sane when there are few faces per person."""
    from sklearn.decomposition import PCA
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    components = max(1, min(MAX_PCA_COMPONENTS, num_train - 1))
    return make_pipeline(StandardScaler(), PCA(components, random_state=0),
                         LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto"))


def _quick_oof_probs(project: Project, face_ids: list[int], labels: np.ndarray, splits,
                     ctx: TaskContext) -> np.ndarray:
    from threadpoolctl import threadpool_limits

    images = load_face_tensors(project, face_ids, QUICK_IMAGE_SIZE, ctx).numpy()
    features = quick_features(images)
    probs = np.zeros((len(labels), int(labels.max()) + 1))
    # One BLAS thread: the matrices are small, and on a busy machine threads that
    # spin-wait for a core made the same folds 10x slower (measured on 2 cores).
    with threadpool_limits(limits=1):
        for k, (train, held_out) in enumerate(splits):
            ctx.check()
            ctx.report(STAGE, k, len(splits), f"fold {k + 1}/{len(splits)}")
            model = quick_model(len(train)).fit(features[train], labels[train])
            # Columns follow model.classes_: every class, as stratified folds train on all.
            probs[np.ix_(held_out, model.classes_)] = model.predict_proba(features[held_out])
    return probs


# ------------------------------------------------------------------ CNN model
def _cnn_oof_probs(project: Project, face_ids: list[int], labels: np.ndarray, names: list[str],
                   splits, arch: str, epochs: int, seed: int, ctx: TaskContext) -> np.ndarray:
    import torch

    from engine.training.auto import transfer_or_scratch
    from engine.training.config import (TrainConfig, model_input_size, run_alignment,
                                        with_resolved_framing)
    from engine.training.device import resolve_device
    from engine.training.inference import load_trained_model, predict_probs
    from engine.training.trainer import LAST_CHECKPOINT, TrainData, Trainer

    # No early stopping: the held-out fold only watches training, it must not pick the model.
    config = TrainConfig(arch=arch, epochs=epochs, seed=seed, early_stopping_patience=None,
                         **transfer_or_scratch(arch, epochs))
    config = with_resolved_framing(config)  # the architecture's framing, as a run uses
    x = load_face_tensors(project, face_ids, model_input_size(config), ctx,
                          alignment=run_alignment(config))
    y = torch.as_tensor(labels)
    device = resolve_device(config.device)
    probs = np.zeros((len(labels), len(names)))
    with tempfile.TemporaryDirectory(prefix="facelab-mistakes-") as scratch:
        for k, (train, held_out) in enumerate(splits):
            ctx.check()
            ctx.report(STAGE, k, len(splits), f"fold {k + 1}/{len(splits)}: training {arch}")
            train_t, held_t = torch.as_tensor(train), torch.as_tensor(held_out)
            data = TrainData(x[train_t], y[train_t], x[held_t], y[held_t], tuple(names))
            run_dir = Path(scratch) / f"fold-{k + 1}"
            finished = Trainer(config, data, run_dir, run_id=f"mistakes-fold-{k + 1}", ctx=ctx).fit()
            if finished.status == "cancelled":
                raise Cancelled()
            trained = load_trained_model(run_dir / LAST_CHECKPOINT, device=device)
            probs[held_out] = predict_probs(trained.model, x[held_t], trained.spec, device=device)
    return probs
