"""The webcam as an import source: a snapshot becomes a photo of the project.

The frame is saved as a JPEG inside the project (``webcam/``), so its original is on
disk like any imported photo, and goes through the import's own steps
(:func:`import_paths`, then :func:`crop_pending` with the project's crop settings):
its faces are found and cut exactly as every other sample. Then the faces the live
view showed are labelled, matched to the stored faces by overlap: with the person
the user chose (label source "user") or with the model's prediction ("model";
faces the model called unknown stay unlabelled).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image

from engine.inference.live_pipeline import LiveFace, iou
from engine.ingest import crop_pending, import_paths
from engine.project import Project
from engine.storage import atomic_write
from engine.tasks import TaskContext

log = logging.getLogger(__name__)

PREDICTED = "predicted"  # person= value: label each face with the model's prediction
SNAPSHOT_FOLDER = "webcam"
MATCH_IOU = 0.3
JPEG_QUALITY = 95


@dataclass(frozen=True)
class SnapshotResult:
    photo_path: Path | None             # None: the same picture was already in the project
    photo_id: int | None
    face_ids: tuple[int, ...]           # the photo's face samples (whole-image one included)
    labelled: tuple[tuple[int, str], ...]  # (face id, person) given a label


def _new_photo_path(project: Project) -> Path:
    folder = project.root / SNAPSHOT_FOLDER
    now = time.time()
    stem = time.strftime("%Y%m%d-%H%M%S", time.localtime(now)) + f"-{int(now * 1000) % 1000:03d}"
    path, n = folder / f"{stem}.jpg", 1
    while path.exists():
        path, n = folder / f"{stem}-{n}.jpg", n + 1
    return path


def _match(live: Sequence[LiveFace], stored) -> list[tuple[LiveFace, int]]:
    """Each live face with the stored face it overlaps most (each stored face once)."""
    pairs = sorted(((iou(face.box, s.box), i, s.id) for i, face in enumerate(live)
                    for s in stored), key=lambda p: p[0], reverse=True)
    matched, used_live, used_stored = [], set(), set()
    for overlap, i, face_id in pairs:
        if overlap >= MATCH_IOU and i not in used_live and face_id not in used_stored:
            matched.append((live[i], face_id))
            used_live.add(i)
            used_stored.add(face_id)
    return matched


def snapshot_to_project(project: Project, frame: np.ndarray, faces: Sequence[LiveFace],
                        person: str | None = None, *,
                        ctx: TaskContext | None = None) -> SnapshotResult:
    """Add a webcam frame to the project as a photo and label its faces.

    ``person``: None leaves the faces unlabelled; PREDICTED labels each of ``faces``
    with its predicted person; any other name labels them all with that person.
    Cropping runs :func:`crop_pending`, so photos of the project still waiting to be
    cropped are cropped too. Call from a thread that may use the project (not from the
    live loop's callback, which would stall the video).
    """
    if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
        raise ValueError(f"a frame must be RGB uint8 (H, W, 3), not {frame.dtype} {frame.shape}")
    path = _new_photo_path(project)
    atomic_write(path, lambda f: Image.fromarray(frame).save(f, "JPEG", quality=JPEG_QUALITY))
    imported = import_paths(project, [path], ctx=ctx)
    if imported.skipped:
        raise ValueError(f"the snapshot could not be imported: {imported.skipped[str(path)]}")
    if not imported.added_photo_ids:  # the very same picture was taken before
        path.unlink(missing_ok=True)
        return SnapshotResult(None, None, (), ())
    photo_id = imported.added_photo_ids[0]
    crop_pending(project, ctx=ctx, workers=1)  # with the project's own settings
    catalog = project.catalog
    stored = catalog.faces(photo_id=photo_id)
    labelled: list[tuple[int, str]] = []
    if person is not None:
        for live, face_id in _match(faces, [s for s in stored if not s.whole_image]):
            name = (None if live.is_unknown else live.person) if person == PREDICTED else person
            if name is not None:
                labelled.append((face_id, name))
    for name in dict.fromkeys(name for _, name in labelled):
        catalog.set_labels([face_id for face_id, n in labelled if n == name],
                           catalog.ensure_person(name).id,
                           source="model" if person == PREDICTED else "user")
    log.info("snapshot %s: %d face(s), %d labelled", path.name, len(stored), len(labelled))
    return SnapshotResult(path, photo_id, tuple(s.id for s in stored), tuple(labelled))
