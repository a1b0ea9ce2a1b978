"""Unknown faces judged by distance: how far a face's embedding lies from the known persons.

A softmax head always spreads all its probability over the persons it was trained
on, so a stranger often gets a confident name. A face network's embedding space
has a meaning of its own: two faces of one person lie close (dlib's face ResNet:
closer than 0.6), so a face far from every known person's faces is somebody else.

For architectures that declare a same-person distance (`ArchSpec.same_person_distance`),
a run keeps its known persons' reference embeddings beside its checkpoints:

    runs/<run>/references.npz   vectors  N x D float32   (training and validation faces,
                                labels   N int64          embedded by the run's best model)

written with `np.savez` and read with `np.load(allow_pickle=False)`, so a crafted file
cannot run code. A face's distance is the distance to the nearest reference of the
person the head names (its nearest neighbour among that person's faces; measured on
lfw20 by bench/unknown_faces.py against the person's centroid and the softmax rule).
A run without the file (older runs, other architectures) keeps the softmax rule.
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
    import torch   # `run_unknown_rule` without loading it

log = logging.getLogger(__name__)

REFERENCES_FILE = "references.npz"
DISTANCE = "distance"      # the unknown rule of runs with references: max distance
CONFIDENCE = "confidence"  # everyone else's: min softmax confidence


class ReferencesError(ValueError):
    """A references file that is not what FaceLab writes (refused, never half-used)."""


@dataclass(frozen=True)
class References:
    vectors: np.ndarray  # N x D float32
    labels: np.ndarray   # N int64, indices into the run's persons

    def __post_init__(self) -> None:
        v, y = self.vectors, self.labels
        if v.ndim != 2 or v.dtype != np.float32 or y.ndim != 1 or len(v) != len(y) \
                or not np.issubdtype(y.dtype, np.integer) or not np.isfinite(v).all():
            raise ReferencesError("reference embeddings must be N x D finite float32 "
                                  "vectors with N integer labels")

    def check_persons(self, persons: int) -> None:
        if len(self.labels) and (self.labels.min() < 0 or self.labels.max() >= persons):
            raise ReferencesError(f"reference labels outside the run's {persons} persons")

    def person_distances(self, features: np.ndarray, persons: int) -> np.ndarray:
        """M x persons: each face's distance to the nearest reference of each person
        (inf for a person without references)."""
        features = np.asarray(features, np.float32)
        # Euclidean distances without an M x N x D temporary: |a|^2 - 2ab + |b|^2.
        squared = ((features ** 2).sum(1)[:, None] - 2 * features @ self.vectors.T
                   + (self.vectors ** 2).sum(1)[None, :])
        all_distances = np.sqrt(np.maximum(squared, 0))
        nearest = np.full((len(features), persons), np.inf, np.float32)
        for person in np.unique(self.labels):
            nearest[:, person] = all_distances[:, self.labels == person].min(1)
        return nearest


def default_max_distance(arch: str) -> float | None:
    """The architecture's same-person distance (None: it has no meaningful one)."""
    import engine.models as models

    return models.get_spec(arch).same_person_distance


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


def save_references(run_dir: Path, references: References) -> Path:
    path = Path(run_dir) / REFERENCES_FILE
    atomic_write(path, lambda handle: np.savez(handle, vectors=references.vectors,
                                               labels=references.labels.astype(np.int64)))
    return path


def load_references(run_dir: Path, persons: int) -> References | None:
    """The run's references, or None for a run saved without them. A file that is
    not plain arrays (a pickle, another layout) raises ReferencesError."""
    path = Path(run_dir) / REFERENCES_FILE
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as archive:
            if set(archive.files) != {"vectors", "labels"}:
                raise ReferencesError(f"unexpected arrays {sorted(archive.files)}")
            references = References(archive["vectors"], archive["labels"])
    except (OSError, ValueError, EOFError) as error:  # pickled objects raise ValueError
        raise ReferencesError(f"{path} is not a FaceLab references file ({error}); "
                              "delete it to fall back to the confidence rule") from error
    references.check_persons(persons)
    return references


def compute_references(model: "torch.nn.Module", arch: str, faces: "torch.Tensor",
                       labels: "torch.Tensor", device: "torch.device", cache=None) -> References:
    """Embed ``faces`` (uint8 N x 3 x S x S) with the model's own embedder."""
    import torch

    import engine.models as models
    from engine.tasks import null_context
    from engine.training.embedding import FaceEmbedder

    spec = models.get_spec(arch)
    mean = torch.tensor(spec.mean, device=device).view(1, 3, 1, 1)
    std = torch.tensor(spec.std, device=device).view(1, 3, 1, 1)
    vectors = FaceEmbedder(model, arch, mean, std, device, cache)(faces, null_context(),
                                                                  "known")
    return References(vectors.numpy().astype(np.float32), labels.numpy().astype(np.int64))


def is_unknown(confidence: float, distance: float | None, threshold: float,
               max_distance: float | None) -> bool:
    """The unknown rule: by distance where the run has references, else by confidence."""
    if distance is None or max_distance is None:
        return confidence < threshold
    return distance > max_distance
