"""Face embeddings of a frozen pretrained network, cached on disk by the face's pixels.

A frozen backbone maps the same face image to the same features every time, so
training a head on top needs each face's features only once: computing them is
most of the work (a second or so per hundred faces on a CPU), training the head on
them takes milliseconds an epoch.

One cache per (architecture, weights file, input size) lives in the project:

    cache/embeddings/<arch>-<weights>-<size>/keys.npy     N x 20 uint8, SHA-1 of each face image
    cache/embeddings/<arch>-<weights>-<size>/vectors.npy  N x D float32

The key is the face image itself (the uint8 pixels the network sees), not the face's
id: a re-cropped or re-aligned face, or a photo whose content changed, is a new key,
so the cache can never hand out features of a face as it used to be.
"""

from __future__ import annotations

import hashlib
import logging
import re
from pathlib import Path

import numpy as np
import torch

from engine.storage import atomic_write

log = logging.getLogger(__name__)

KEY_BYTES = 20  # SHA-1
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def image_keys(images: torch.Tensor) -> np.ndarray:
    """N x 20 uint8: the SHA-1 of each uint8 face image (N x 3 x S x S)."""
    if images.dtype != torch.uint8:
        raise ValueError(f"face images must be uint8, not {images.dtype}")
    flat = images.detach().cpu().contiguous().reshape(len(images), -1).numpy()
    keys = np.empty((len(flat), KEY_BYTES), np.uint8)
    for row, pixels in enumerate(flat):
        keys[row] = np.frombuffer(hashlib.sha1(pixels.tobytes()).digest(), np.uint8)
    return keys


class EmbeddingCache:
    """Feature vectors by face image; reads and appends with atomic replacement, so a
    killed process leaves the cache as it was before the append."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    @classmethod
    def for_backbone(cls, project_root: Path, arch: str, weights: str, size: int) -> EmbeddingCache:
        name = _UNSAFE_NAME.sub("_", f"{arch}-{weights}-{size}")
        return cls(Path(project_root) / "cache" / "embeddings" / name)

    def _load(self) -> tuple[np.ndarray, np.ndarray | None]:
        keys_path, vectors_path = self.folder / "keys.npy", self.folder / "vectors.npy"
        empty = np.zeros((0, KEY_BYTES), np.uint8)
        if not (keys_path.exists() and vectors_path.exists()):
            return empty, None
        try:
            keys = np.load(keys_path, allow_pickle=False)
            vectors = np.load(vectors_path, allow_pickle=False)
        except (OSError, ValueError) as error:  # only a cache: start it again
            log.warning("embedding cache %s unreadable (%s); rebuilding", self.folder, error)
            return empty, None
        if (keys.ndim != 2 or keys.shape[1] != KEY_BYTES or vectors.ndim != 2
                or len(keys) != len(vectors) or vectors.dtype != np.float32):
            log.warning("embedding cache %s is inconsistent; rebuilding", self.folder)
            return empty, None
        return keys, vectors

    def lookup(self, keys: np.ndarray) -> tuple[np.ndarray | None, np.ndarray]:
        """(N x D vectors with the rows found filled in, boolean mask of rows found)."""
        cached_keys, cached = self._load()
        found = np.zeros(len(keys), bool)
        if cached is None or not len(keys):
            return None, found
        row_of = {bytes(key): row for row, key in enumerate(cached_keys)}
        vectors = np.zeros((len(keys), cached.shape[1]), np.float32)
        for i, key in enumerate(keys):
            row = row_of.get(bytes(key))
            if row is not None:
                vectors[i] = cached[row]
                found[i] = True
        return vectors, found

    def add(self, keys: np.ndarray, vectors: np.ndarray) -> None:
        if not len(keys):
            return
        vectors = np.asarray(vectors, np.float32)
        cached_keys, cached = self._load()
        if cached is not None and cached.shape[1] != vectors.shape[1]:
            cached_keys, cached = cached_keys[:0], None  # another network's width: replace
        known = {bytes(key) for key in cached_keys}
        new = [i for i, key in enumerate(keys) if bytes(key) not in known]
        if not new:
            return
        # Duplicates within `keys` (the same image twice) are stored once.
        new = list({bytes(keys[i]): i for i in new}.values())
        all_keys = np.concatenate([cached_keys, keys[new]])
        all_vectors = vectors[new] if cached is None else np.concatenate([cached, vectors[new]])
        self.folder.mkdir(parents=True, exist_ok=True)
        # Vectors first: keys never name rows that are not there.
        _save_npy(self.folder / "vectors.npy", all_vectors)
        _save_npy(self.folder / "keys.npy", all_keys)


def _save_npy(path: Path, array: np.ndarray) -> None:
    atomic_write(path, lambda handle: np.save(handle, array, allow_pickle=False))
