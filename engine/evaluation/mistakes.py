"""Label-mistake finder: which labelled faces are probably filed under the wrong person.

Every labelled face gets out-of-fold probabilities (k stratified folds: each face is
scored by a model that never trained on it), then cleanlab
(:func:`engine.evaluation.label_issues.rank_label_issues`) flags and ranks the
suspicious ones. The ranking replaces the catalog's list of suspicious labels, with
what it rests on (:class:`MistakeBasis`: the method, its out-of-fold accuracy, the
faces and persons); verdicts the user already gave ("keep", "fixed") survive.

Three kinds of model make the probabilities; ``method="auto"`` (the default, the one
rule the app and the CLI ask: :func:`choose_method`) takes the strongest this machine
has, the face network where its weights are present, else the quick model:

- ``method="face-network"``: the pretrained face network's 128-number descriptors
  (Face ResNet, engine/models/faceresnet.py; cached per face in the project, shared
  with training runs), on the aligned chips its runs use, then a logistic regression
  per fold; a face is flagged when its out-of-fold guess is another person. Seconds on
  a CPU once the faces are embedded (lfw20's 1916 faces: 47 s the first time, 3 s
  after). Measured with 3% of the labels moved to another person
  (bench/label_mistakes.py, 3 seeds): on lfw20 all 171 planted mistakes flagged, 92%
  of the flagged faces planted (the quick model: 88% found, 12% planted); on 5celeb
  12 of 12, 100% planted (quick: 92%, 22%).
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

import json
import logging
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from engine.catalog import CatalogError
from engine.evaluation.label_issues import (
    CONFIDENT_LEARNING,
    PREDICTED_NOT_GIVEN,
    rank_label_issues,
    stratified_folds,
)
from engine.project import Project
from engine.tasks import Cancelled, Stage, TaskContext, null_context

log = logging.getLogger(__name__)

AUTO = "auto"
QUICK = "quick"
FACE_NETWORK = "face-network"
# The network behind FACE_NETWORK: its pretrained descriptors separate persons it never saw.
FACE_NETWORK_ARCH = "faceresnet"
METHOD_LABELS = {
    QUICK: "quick model (HOG + thumbnail, PCA, shrinkage LDA)",
    FACE_NETWORK: "face network (Face ResNet descriptors + logistic regression)",
}
STAGE = Stage.MISTAKES
# The logistic regression's inverse regularisation on unit-length descriptors. Measured
# with planted mistakes (bench/label_mistakes.py, C = 30, 100, 1000): every one found at
# each, but the larger C flags more correct labels (aligned lfw20: 91%, 89%, 75% of the
# flagged faces were planted mistakes).
FACE_NETWORK_C = 30.0
# Which faces are flagged (see rank_label_issues): the face network is accurate enough
# that its out-of-fold guess being another person is the signal; measured with planted
# mistakes (bench/label_mistakes.py) it flags all of them where confident learning's
# thresholds missed a quarter. The weaker models keep confident learning, which does not
# flag every face they get wrong.
FLAG_RULES = {FACE_NETWORK: PREDICTED_NOT_GIVEN}
# Out-of-fold accuracy from which most flagged faces are real mistakes. The accuracy
# counts the mislabelled faces as misses too, so it falls with the share of mistakes as
# well as with a weak model. Measured with planted mistakes (bench/label_mistakes.py):
# the face network scored 0.89-1.00 (0-10% planted) and 92-100% of its flagged faces
# were planted; the quick model scored 0.60-0.82 and 0-64% were.
RELIABLE_ACCURACY = 0.85
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


@dataclass(frozen=True)
class MistakeBasis:
    """What a list of suspicious labels rests on, stored with it: the model that scored
    the faces and how well it recognised faces it never trained on."""

    method: str  # "quick", "face-network" or an architecture name
    method_label: str  # the method in words
    oof_accuracy: float  # share of faces whose out-of-fold top guess is their given label
    faces: int
    persons: int
    folds: int
    flagged: int
    left_out_persons: int  # persons with a single labelled face, not judged
    seconds: float
    found_at: float  # time.time()

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str | None) -> MistakeBasis | None:
        """The stored basis, or None when none was stored or it cannot be read (a list
        from an older version, or a damaged value: the list itself stays usable)."""
        if not text:
            return None
        try:
            return cls(**json.loads(text))
        except (TypeError, ValueError):
            log.warning("the stored basis of the suspicious-label list is unreadable: %r", text)
            return None


@dataclass(frozen=True)
class MistakeSearch:
    mistakes: list[LabelMistake]  # most suspicious first
    basis: MistakeBasis


def choose_method(method: str = AUTO) -> str:
    """The method a search runs: ``method`` as asked, or for "auto" the strongest one
    this machine has (the face network where its weights are present, else quick)."""
    if method != AUTO:
        return method
    from engine.models import weights_status

    return FACE_NETWORK if weights_status(FACE_NETWORK_ARCH).available else QUICK


def method_label(method: str) -> str:
    if method in METHOD_LABELS:
        return METHOD_LABELS[method]
    from engine.models import get_spec

    return f"{get_spec(method).display_name} trained per fold"


def reliability_text(basis: MistakeBasis) -> str:
    """How far the list can be trusted, in one sentence the app and the CLI show."""
    ground = (f"Scored by the {basis.method_label}, which agreed with the labels of "
              f"{basis.oof_accuracy:.0%} of {basis.faces} faces of {basis.persons} persons "
              f"it had not trained on ({basis.folds}-fold cross-validation)")
    if basis.oof_accuracy >= RELIABLE_ACCURACY:
        verdict = "most flagged faces should be real mistakes"
    else:
        verdict = ("either many labels are wrong or the model often errs on these faces, "
                   "so many flagged faces may be labelled correctly: check each one")
    return f"{ground}: {verdict}."


def stored_basis(project: Project) -> MistakeBasis | None:
    """The basis of the project's current list of suspicious labels (None: no list yet,
    or one from before bases were stored)."""
    return MistakeBasis.from_json(project.catalog.runs.label_issue_basis())


def find_label_mistakes(project: Project, *, folds: int = 5, method: str = AUTO,
                        epochs: int = 10, seed: int = 0,
                        ctx: TaskContext | None = None) -> MistakeSearch:
    """Rank the project's likely label mistakes, most suspicious first, and store them
    with their basis (:class:`MistakeBasis`).

    ``method`` is "auto" (see :func:`choose_method`), "face-network", "quick" or an
    architecture name (see `facelab models`); ``epochs`` applies to an architecture
    only. Persons with a single labelled face cannot be cross-validated and are left
    out (logged).
    """
    ctx = ctx or null_context()
    started = time.monotonic()
    method = choose_method(method)
    if method == FACE_NETWORK:
        from engine.models import get_spec
        from engine.models.weights import require_weights_file

        # Missing weights say how to get them now, not after the faces are loaded.
        require_weights_file(get_spec(FACE_NETWORK_ARCH))
    elif method != QUICK:
        from engine.models import get_spec

        get_spec(method)  # an unknown name fails now, not after the faces are loaded
    face_ids, labels, names, person_id_of, left_out = _judgeable_faces(project)
    splits = stratified_folds(labels, folds, seed)
    log.info("label mistakes: %d faces of %d persons, %d folds, method %s", len(face_ids),
             len(names), len(splits), method)
    if method == QUICK:
        probs = _quick_oof_probs(project, face_ids, labels, splits, ctx)
    elif method == FACE_NETWORK:
        probs = _face_network_oof_probs(project, face_ids, labels, splits, ctx)
    else:
        probs = _cnn_oof_probs(project, face_ids, labels, names, splits, method, epochs, seed, ctx)
    ctx.check()
    issues = rank_label_issues(labels, probs, FLAG_RULES.get(method, CONFIDENT_LEARNING))
    basis = MistakeBasis(
        method=method, method_label=method_label(method),
        oof_accuracy=float((probs.argmax(axis=1) == labels).mean()), faces=len(face_ids),
        persons=len(names), folds=len(splits), flagged=len(issues), left_out_persons=left_out,
        seconds=round(time.monotonic() - started, 2), found_at=time.time())
    project.catalog.runs.replace_label_issues(
        [(face_ids[i.index], i.score, person_id_of[names[i.given_index]],
          person_id_of[names[i.suggested_index]]) for i in issues], basis=basis.to_json())
    ctx.report(STAGE, len(splits), len(splits), f"{len(issues)} suspicious labels")
    return MistakeSearch([LabelMistake(face_ids[i.index], i.score, names[i.given_index],
                                       names[i.suggested_index]) for i in issues], basis)


def _judgeable_faces(project: Project) -> tuple[list[int], np.ndarray, list[str], dict[str, int], int]:
    """(face ids, their class indices, class names, person id by name, number of persons
    left out) of the labelled faces whose person has at least 2: a single face cannot be
    both trained on and held out."""
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
            {name: pid for pid, name in name_of.items()}, len(single))


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

    from engine.data.cache import load_face_tensors  # loads torch: only here

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


# --------------------------------------------------------- face network model
def face_network_features(project: Project, face_ids: list[int], ctx: TaskContext) -> np.ndarray:
    """Unit-length Face ResNet descriptors (N x 128) of the faces, from the project's
    embedding cache where they were computed before (by this finder or a training run)."""
    import torch

    from engine.models import build_model, get_spec
    from engine.training.config import (
        TrainConfig,
        model_input_size,
        run_alignment,
        with_resolved_framing,
    )
    from engine.data.cache import load_face_tensors  # loads torch: only here
    from engine.training.embedding import FaceEmbedder, pretrained_embedding_cache

    spec = get_spec(FACE_NETWORK_ARCH)
    # The faces framed as a run of the network sees them (aligned chips).
    config = with_resolved_framing(TrainConfig(arch=FACE_NETWORK_ARCH))
    size = model_input_size(config)
    images = load_face_tensors(project, face_ids, size, ctx, alignment=run_alignment(config))
    device = torch.device("cpu")  # 128 numbers per face: a GPU would not pay for its start
    model = build_model(FACE_NETWORK_ARCH, 2, pretrained=True)
    embed = FaceEmbedder(model, FACE_NETWORK_ARCH, torch.tensor(spec.mean).view(1, 3, 1, 1),
                         torch.tensor(spec.std).view(1, 3, 1, 1), device,
                         pretrained_embedding_cache(project.root, FACE_NETWORK_ARCH, size))
    features = embed(images, ctx, "labelled")
    if features is None:
        raise Cancelled()
    vectors = features.numpy().astype(np.float64)
    # dlib compares descriptors by Euclidean distance; on unit length a linear model's
    # scores follow the angle between them.
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)


def face_network_model():
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=FACE_NETWORK_C, max_iter=2000)


def _face_network_oof_probs(project: Project, face_ids: list[int], labels: np.ndarray, splits,
                            ctx: TaskContext) -> np.ndarray:
    from threadpoolctl import threadpool_limits

    features = face_network_features(project, face_ids, ctx)
    probs = np.zeros((len(labels), int(labels.max()) + 1))
    with threadpool_limits(limits=1):  # small matrices: see _quick_oof_probs
        for k, (train, held_out) in enumerate(splits):
            ctx.check()
            ctx.report(STAGE, k, len(splits), f"fold {k + 1}/{len(splits)}")
            model = face_network_model().fit(features[train], labels[train])
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
    from engine.data.cache import load_face_tensors  # loads torch: only here

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
