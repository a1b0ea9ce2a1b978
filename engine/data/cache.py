"""The tensor cache: face crops decoded once, at model resolution, as uint8.

Epochs then index a uint8 array instead of decoding JPEGs (the lab's ImageFolder
decodes every image every epoch). One cache per input size lives in the project:

    cache/size-224/images.npy    N x S x S x 3 uint8 (memory-mapped when read)
    cache/size-224/face_ids.npy  N int64, the face each row holds

Crops never change under a face id (re-cropping a photo makes new faces), so a
row stays valid for as long as its face exists; missing faces are decoded and
appended, and the files are replaced atomically.
"""

from __future__ import annotations

import logging
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from PIL import Image

from engine.project import Project
from engine.storage import atomic_write
from engine.tasks import TaskContext, null_context

log = logging.getLogger(__name__)


def _cache_dir(project: Project, size: int) -> Path:
    return project.root / "cache" / f"size-{size}"


def model_input(crop: Image.Image | np.ndarray, size: int) -> np.ndarray:
    """A face crop as a model sees it: RGB uint8, size x size, resized bilinearly.

    The one resize used for training faces (the cache) and for live faces (prediction),
    so a model is never shown faces resampled differently from those it learned on.
    """
    img = Image.fromarray(np.asarray(crop, dtype=np.uint8)) if isinstance(crop, np.ndarray) \
        else crop
    img = img.convert("RGB")
    if img.size != (size, size):
        img = img.resize((size, size), Image.Resampling.BILINEAR, reducing_gap=2.0)
    return np.array(img, dtype=np.uint8)  # a writable copy: torch warns on read-only arrays


def _decode_crop(path: Path, size: int) -> np.ndarray:
    with Image.open(path) as img:
        return model_input(img, size)


def _save_npy(path: Path, array: np.ndarray) -> None:
    atomic_write(path, lambda handle: np.save(handle, array, allow_pickle=False))


def _load(folder: Path) -> tuple[np.ndarray, np.ndarray]:
    ids_path, images_path = folder / "face_ids.npy", folder / "images.npy"
    if not (ids_path.exists() and images_path.exists()):
        return np.zeros(0, np.int64), None
    try:
        ids = np.load(ids_path, allow_pickle=False)
        images = np.load(images_path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as exc:  # a damaged cache is only a cache: rebuild it
        log.warning("tensor cache %s unreadable (%s); rebuilding", folder, exc)
        return np.zeros(0, np.int64), None
    if len(ids) != len(images):
        return np.zeros(0, np.int64), None
    return ids, images


def load_face_tensors(project: Project, face_ids: Sequence[int], size: int,
                      ctx: TaskContext | None = None) -> torch.Tensor:
    """uint8 N x 3 x size x size for ``face_ids``, decoding only what is not cached."""
    ctx = ctx or null_context()
    folder = _cache_dir(project, size)
    cached_ids, cached = _load(folder)
    row_of = {int(f): i for i, f in enumerate(cached_ids)}
    missing = [f for f in dict.fromkeys(int(f) for f in face_ids) if f not in row_of]
    if missing:
        crop_paths = {f.id: project.resolve_inside(f.crop_path)
                      for f in project.catalog.faces(include_rejected=True)}
        ctx.report("cache", 0, len(missing), "preparing face images")
        new = np.empty((len(missing), size, size, 3), np.uint8)
        with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
            for i, arr in enumerate(pool.map(lambda f: _decode_crop(crop_paths[f], size),
                                             missing)):
                new[i] = arr
                if i % 64 == 0:
                    ctx.check()
                    ctx.report("cache", i, len(missing), "preparing face images")
        images = new if cached is None else np.concatenate([np.asarray(cached), new])
        ids = np.concatenate([cached_ids, np.asarray(missing, np.int64)])
        folder.mkdir(parents=True, exist_ok=True)
        _save_npy(folder / "images.npy", images)  # images first: ids never point past them
        _save_npy(folder / "face_ids.npy", ids)
        row_of = {int(f): i for i, f in enumerate(ids)}
        cached = images
        ctx.report("cache", len(missing), len(missing), "face images ready")
    rows = np.fromiter((row_of[int(f)] for f in face_ids), np.int64, len(face_ids))
    batch = np.ascontiguousarray(np.asarray(cached)[rows]) if len(rows) else np.zeros(
        (0, size, size, 3), np.uint8)
    return torch.from_numpy(batch).permute(0, 3, 1, 2).contiguous()
