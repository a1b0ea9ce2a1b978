"""Unknown faces judged by distance: how far a face's embedding lies from the known persons.

A softmax head always spreads all its probability over the persons it was trained
on, so a stranger often gets a confident name. A face network's embedding space
has a meaning of its own: two faces of one person lie close (dlib's face ResNet:
closer than 0.6), so a face far from every known person's faces is somebody else.

For architectures that declare an unknown distance (`ArchSpec.unknown_distance`), a run
keeps its known persons' reference embeddings beside its checkpoints:

    runs/<run>/references.npz   vectors       N x D float32  (training and validation
                                labels        N int64         faces, embedded by the
                                                              run's best model)
                                max_distance  float64         the run's own limit

written with `np.savez` and read with `np.load(allow_pickle=False)`, so a crafted file
cannot run code. The head names a face; the face's distance is the distance to that
person's centroid (the mean of the person's reference embeddings), and farther than
the maximum distance it is "unknown". The default maximum is the run's own, found on
its validation faces (calibrate_max_distance). Measured on lfw20 with 12 persons held
back (bench/unknown_faces.py), the distance tells strangers from known persons better
than the softmax confidence (AUROC 0.997 against 0.989 on aligned chips) and a little
better than the nearest reference face (0.996), whose distances also shrink as a
person gets more photos. A run without the file (older runs, other architectures)
keeps the softmax rule.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from engine.storage import atomic_write

if TYPE_CHECKING:  # torch only where embeddings are computed: the app's UI thread asks
    import torch  # `run_unknown_rule` without loading it

log = logging.getLogger(__name__)

REFERENCES_FILE = "references.npz"
DISTANCE = "distance"      # the unknown rule of runs with references: max distance
CONFIDENCE = "confidence"  # everyone else's: min softmax confidence
# faceresnet's default maximum distance (see engine/models/zoo.py); here, without torch,
# for the app's controls too.
FACE_RESNET_MAX_DISTANCE = 0.5


class ReferencesError(ValueError):
    """A references file that is not what FaceLab writes (refused, never half-used)."""


@dataclass(frozen=True)
class References:
    vectors: np.ndarray  # N x D float32
    labels: np.ndarray   # N int64, indices into the run's persons
    # The run's own default limit (see calibrate_max_distance); None: the architecture's.
    max_distance: float | None = None

    def __post_init__(self) -> None:
        v, y = self.vectors, self.labels
        if v.ndim != 2 or v.dtype != np.float32 or y.ndim != 1 or len(v) != len(y) \
                or not np.issubdtype(y.dtype, np.integer) or not np.isfinite(v).all():
            raise ReferencesError("reference embeddings must be N x D finite float32 "
                                  "vectors with N integer labels")
        if self.max_distance is not None:
            try:
                check_max_distance(self.max_distance)
            except ValueError as error:
                raise ReferencesError(str(error)) from error

    def check_persons(self, persons: int) -> None:
        if len(self.labels) and (self.labels.min() < 0 or self.labels.max() >= persons):
            raise ReferencesError(f"reference labels outside the run's {persons} persons")

    def centroids(self, persons: int) -> np.ndarray:
        """persons x D: each person's mean reference embedding (NaN without references)."""
        centroids = np.full((persons, self.vectors.shape[1]), np.nan, np.float32)
        for person in np.unique(self.labels):
            centroids[person] = self.vectors[self.labels == person].mean(0)
        return centroids

    def person_distances(self, features: np.ndarray, persons: int) -> np.ndarray:
        """M x persons: each face's distance to each person's centroid (inf for a person
        without references): the measure the unknown rule uses."""
        centroids = self.centroids(persons)
        distances = References(np.nan_to_num(centroids), np.arange(persons))._pairwise(features)
        distances[:, np.isnan(centroids).any(1)] = np.inf
        return distances

    def nearest_distances(self, features: np.ndarray, persons: int) -> np.ndarray:
        """M x persons: each face's distance to the nearest reference of each person
        (inf for a person without references); bench/unknown_faces.py compares it."""
        all_distances = self._pairwise(features)
        nearest = np.full((len(features), persons), np.inf, np.float32)
        for person in np.unique(self.labels):
            nearest[:, person] = all_distances[:, self.labels == person].min(1)
        return nearest


    def _pairwise(self, features: np.ndarray) -> np.ndarray:
        """M x N Euclidean distances, without an M x N x D temporary (|a|^2 - 2ab + |b|^2)."""
        features = np.asarray(features, np.float32)
        squared = ((features ** 2).sum(1)[:, None] - 2 * features @ self.vectors.T
                   + (self.vectors ** 2).sum(1)[None, :])
        return np.sqrt(np.maximum(squared, 0))


def default_max_distance(arch: str) -> float | None:
    """The architecture's default unknown distance (None: its runs keep no references)."""
    import engine.models as models

    return models.get_spec(arch).unknown_distance


def run_unknown_rule(run_dir: Path) -> str:
    """DISTANCE for a run saved with reference embeddings, else CONFIDENCE: what the
    webcam's and `facelab predict`'s unknown control means for this run."""
    return DISTANCE if (Path(run_dir) / REFERENCES_FILE).exists() else CONFIDENCE


def check_max_distance(value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value) \
            or value < 0:
        raise ValueError(f"The maximum distance to a known person must be a number >= 0, "
                         f"not {value!r}")
    return float(value)


def calibrate_max_distance(train: References, val_features: np.ndarray,
                           val_labels: np.ndarray, persons: int) -> float | None:
    """The run's own limit, from faces it did not train on: each validation face's
    distance to its own person's centroid (a known face) and to the nearest other
    person's (the same face, had its person been left out: a stranger), and the limit
    that tells the two apart best (highest balanced accuracy). None with validation
    faces of fewer than 2 persons.

    Why not one number per network: how far apart faces lie depends on how they are
    framed (on lfw20, square crops put strangers within 0.5 of the known persons,
    aligned chips beyond it), and this follows the run's own framing. On lfw20 with
    12 persons held back (aligned chips) it names 96% of known faces and rejects
    all strangers; faceresnet's fixed 0.5: 99.3% and 89%.
    """
    val_labels = np.asarray(val_labels)
    if len(np.unique(val_labels)) < 2:
        return None
    distances = train.person_distances(val_features, persons)
    rows = np.arange(len(val_labels))
    own = distances[rows, val_labels]
    distances[rows, val_labels] = np.inf
    other = distances.min(1)
    keep = np.isfinite(own) & np.isfinite(other)
    own, other = own[keep], other[keep]
    if not len(own):
        return None
    candidates = np.unique(np.concatenate([own, other]))
    accepted = (own[None, :] <= candidates[:, None]).mean(1)
    rejected = (other[None, :] > candidates[:, None]).mean(1)
    best = int(np.argmax(accepted + rejected))
    # Halfway to the next distance seen: the best limit is a gap between two distances,
    # and its lower edge is a validation face itself, so a known face only slightly
    # farther (a handful of validation faces a person, as on small projects) would be
    # rejected.
    if best + 1 < len(candidates):
        return float((candidates[best] + candidates[best + 1]) / 2)
    return float(candidates[best])


def save_references(run_dir: Path, references: References) -> Path:
    path = Path(run_dir) / REFERENCES_FILE
    arrays = {"vectors": references.vectors, "labels": references.labels.astype(np.int64)}
    if references.max_distance is not None:
        arrays["max_distance"] = np.float64(references.max_distance)
    atomic_write(path, lambda handle: np.savez(handle, **arrays))
    return path


def run_max_distance(run_dir: Path) -> float | None:
    """The run's own default limit, reading only that number of its file (the app asks
    on its UI thread); None when there is none or the file is not readable."""
    try:
        with np.load(Path(run_dir) / REFERENCES_FILE, allow_pickle=False) as archive:
            value = archive["max_distance"] if "max_distance" in archive.files else None
            return None if value is None or value.shape != () else \
                check_max_distance(float(value))
    except (OSError, ValueError, EOFError):
        return None


def load_references(run_dir: Path, persons: int) -> References | None:
    """The run's references, or None for a run saved without them. A file that is
    not plain arrays (a pickle, another layout) raises ReferencesError."""
    path = Path(run_dir) / REFERENCES_FILE
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as archive:
            names = set(archive.files)
            if names not in ({"vectors", "labels"}, {"vectors", "labels", "max_distance"}):
                raise ReferencesError(f"unexpected arrays {sorted(names)}")
            limit = archive["max_distance"] if "max_distance" in names else None
            if limit is not None and (limit.shape != () or limit.dtype.kind != "f"):
                raise ReferencesError("max_distance is not one number")
            references = References(archive["vectors"], archive["labels"],
                                    None if limit is None else float(limit))
    except (OSError, ValueError, EOFError) as error:  # pickled objects raise ValueError
        raise ReferencesError(f"{path} is not a FaceLab references file ({error}); "
                              "delete it to fall back to the confidence rule") from error
    references.check_persons(persons)
    return references


def compute_references(model: torch.nn.Module, arch: str, train: tuple[torch.Tensor, torch.Tensor],
                       val: tuple[torch.Tensor, torch.Tensor], device: torch.device,
                       persons: int, cache=None) -> References:
    """The training and validation faces ((uint8 N x 3 x S x S, labels) each) embedded
    with the model's own embedder, and the limit calibrated on them."""
    import torch

    import engine.models as models
    from engine.tasks import null_context
    from engine.training.embedding import FaceEmbedder

    spec = models.get_spec(arch)
    mean = torch.tensor(spec.mean, device=device).view(1, 3, 1, 1)
    std = torch.tensor(spec.std, device=device).view(1, 3, 1, 1)
    embed = FaceEmbedder(model, arch, mean, std, device, cache)
    train_vectors = embed(train[0], null_context(), "known").numpy().astype(np.float32)
    train_labels = train[1].numpy().astype(np.int64)
    limit = None
    if len(val[0]):
        val_vectors = embed(val[0], null_context(), "known").numpy().astype(np.float32)
        val_labels = val[1].numpy().astype(np.int64)
        limit = calibrate_max_distance(References(train_vectors, train_labels), val_vectors,
                                       val_labels, persons)
        train_vectors = np.concatenate([train_vectors, val_vectors])
        train_labels = np.concatenate([train_labels, val_labels])
    return References(train_vectors, train_labels, limit)


def is_unknown(confidence: float, distance: float | None, threshold: float,
               max_distance: float | None) -> bool:
    """The unknown rule: by distance where the run has references, else by confidence."""
    if distance is None or max_distance is None:
        return confidence < threshold
    return distance > max_distance
