"""The tensor cache: face crops (or aligned chips) decoded once, at model resolution,
as uint8.

Epochs then index a uint8 array instead of decoding JPEGs (the lab's ImageFolder
decodes every image every epoch). One cache per framing and input size lives in
the project:

    cache/size-224/images.npy    N x S x S x 3 uint8 (memory-mapped when read)
    cache/size-224/face_ids.npy  N int64, the face each row holds
    cache/size-224/sources.npy   N str, the file each row was decoded from
    cache/aligned-<settings>/size-150/...   the same for aligned chips

Crops never change under a face id (re-cropping a photo makes new faces), so a
row stays valid for as long as its face exists; missing faces are decoded and
appended, and the files are replaced atomically. A row whose source file is not
the face's current one (an aligned chip's name changes with the face's landmarks
and photo) is decoded again.
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

from engine.catalog import Face
from engine.ingest.align import AlignSettings, chip_relpath, ensure_chips
from engine.project import Project
from engine.storage import atomic_write
from engine.tasks import TaskContext, null_context

log = logging.getLogger(__name__)


def _cache_dir(project: Project, size: int, alignment: AlignSettings | None = None) -> Path:
    base = project.root / "cache"
    if alignment is not None:
        base = base / f"aligned-{alignment.key}"
    return base / f"size-{size}"


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


def face_sources(project: Project, faces: Sequence[Face], alignment: AlignSettings | None,
                 ctx: TaskContext | None = None) -> dict[int, Path]:
    """The image file each face is shown to a model from: its square crop, or with
    ``alignment`` its aligned chip (cut now from the photo where not cut yet)."""
    if alignment is None:
        return {face.id: project.resolve_inside(face.crop_path) for face in faces}
    return ensure_chips(project, faces, alignment, ctx)


def face_model_image(project: Project, face_id: int, size: int,
                     alignment: AlignSettings | None = None) -> np.ndarray:
    """One stored face as a model trained with ``alignment`` (None: crops) sees it,
    RGB uint8 size x size: for Grad-CAM, feature maps and reports."""
    face = project.catalog.face(face_id)
    return _decode_crop(face_sources(project, [face], alignment)[face.id], size)


def _source_name(project: Project, face: Face, alignment: AlignSettings | None,
                 sha_of: dict[int, str]) -> str:
    """The project-relative file a face is shown from (sha_of: photo id -> sha256 seen)."""
    if alignment is None:
        return face.crop_path
    if face.photo_id not in sha_of:
        sha_of[face.photo_id] = project.catalog.photo(face.photo_id).sha256
    return chip_relpath(face, sha_of[face.photo_id], alignment)


def _save_npy(path: Path, array: np.ndarray) -> None:
    atomic_write(path, lambda handle: np.save(handle, array, allow_pickle=False))


_NO_ROWS = (np.zeros(0, np.int64), None, None)


def _load(folder: Path) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """(face ids, images, sources) of a cache folder; sources is None in caches written
    before sources were recorded (crops only, whose rows never go stale)."""
    ids_path, images_path = folder / "face_ids.npy", folder / "images.npy"
    sources_path = folder / "sources.npy"
    if not (ids_path.exists() and images_path.exists()):
        return _NO_ROWS
    try:
        ids = np.load(ids_path, allow_pickle=False)
        images = np.load(images_path, mmap_mode="r", allow_pickle=False)
        sources = (np.load(sources_path, allow_pickle=False) if sources_path.exists()
                   else None)
    except (OSError, ValueError) as exc:  # a damaged cache is only a cache: rebuild it
        log.warning("tensor cache %s unreadable (%s); rebuilding", folder, exc)
        return _NO_ROWS
    if len(ids) != len(images) or (sources is not None and len(sources) != len(ids)):
        return _NO_ROWS
    return ids, images, sources


def load_face_tensors(project: Project, face_ids: Sequence[int], size: int,
                      ctx: TaskContext | None = None,
                      alignment: AlignSettings | None = None) -> torch.Tensor:
    """uint8 N x 3 x size x size for ``face_ids``, decoding only what is not cached.

    The faces are the square crops, or with ``alignment`` the aligned chips (cut from
    the photos first where they are not cut yet; see engine/ingest/align.py)."""
    ctx = ctx or null_context()
    folder = _cache_dir(project, size, alignment)
    cached_ids, cached, cached_sources = _load(folder)
    wanted = list(dict.fromkeys(int(f) for f in face_ids))
    faces = {f.id: f for f in project.catalog.faces_by_ids(wanted)}
    # Where each face is shown from now; a row decoded from another file is stale.
    sha_of: dict[int, str] = {}
    current = {f: _source_name(project, faces[f], alignment, sha_of) for f in wanted}
    row_of = {int(f): i for i, f in enumerate(cached_ids)
              if cached_sources is None or cached_sources[i] == current.get(int(f))}
    missing = [f for f in wanted if f not in row_of]
    if missing:
        ctx.report("cache", 0, len(missing), "preparing face images")
        paths = face_sources(project, [faces[f] for f in missing], alignment, ctx)
        new = np.empty((len(missing), size, size, 3), np.uint8)
        with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
            for i, arr in enumerate(pool.map(lambda f: _decode_crop(paths[f], size), missing)):
                new[i] = arr
                if i % 64 == 0:
                    ctx.check()
                    ctx.report("cache", i, len(missing), "preparing face images")
        if cached_sources is None:  # an older cache: its rows were accepted as they are
            cached_sources = np.array([current.get(int(f), "") for f in cached_ids], dtype=str)
        images = new if cached is None else np.concatenate([np.asarray(cached), new])
        ids = np.concatenate([cached_ids, np.asarray(missing, np.int64)])
        sources = np.concatenate([cached_sources.astype(str),
                                  np.array([current[f] for f in missing], dtype=str)])
        folder.mkdir(parents=True, exist_ok=True)
        # images first, ids last: a killed write leaves ids that never point past the
        # images, or lengths that differ (the cache is then rebuilt).
        _save_npy(folder / "images.npy", images)
        _save_npy(folder / "sources.npy", sources)
        _save_npy(folder / "face_ids.npy", ids)
        row_of = {int(f): i for i, f in enumerate(ids)
                  if sources[i] == current.get(int(f))}
        cached = images
        ctx.report("cache", len(missing), len(missing), "face images ready")
    rows = np.fromiter((row_of[int(f)] for f in face_ids), np.int64, len(face_ids))
    batch = np.ascontiguousarray(np.asarray(cached)[rows]) if len(rows) else np.zeros(
        (0, size, size, 3), np.uint8)
    return torch.from_numpy(batch).permute(0, 3, 1, 2).contiguous()
