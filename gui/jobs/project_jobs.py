"""Job functions for projects: plain ``fn(ctx)`` callables for the JobRunner.

Each opens its own Project (so its own catalog connection) on the worker thread and
returns plain data. Engine modules that pull in numpy, PIL or torch are imported
inside the functions: never on the UI thread at start-up.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from PySide6.QtGui import QImage

from engine.project import Project
from engine.tasks import Cancelled, TaskContext


@dataclass(frozen=True)
class ImportSummary:
    photos_added: int
    already_imported: int
    duplicates: int
    photos_cropped: int
    faces_found: int
    photos_without_face: int
    skipped: tuple[tuple[str, str], ...]  # (path, reason)
    notice: str | None = None               # e.g. the detector fell back to Haar

    def text(self) -> str:
        parts = [f"{self.photos_added} new photo(s)"]
        if self.already_imported or self.duplicates:
            parts.append(f"{self.already_imported + self.duplicates} already in the project")
        parts.append(f"{self.faces_found} face(s) found")
        if self.photos_without_face:
            parts.append(f"{self.photos_without_face} photo(s) with no face found")
        if self.skipped:
            parts.append(f"{len(self.skipped)} file(s) skipped")
        return "Import finished: " + ", ".join(parts) + "."


def import_and_crop(root: Path, paths: Sequence[str], labels_from_folders: bool):
    """The job behind every import (menu, folder dialog, drag and drop)."""
    paths = tuple(str(p) for p in paths)

    def job(ctx: TaskContext) -> ImportSummary:
        from engine.ingest import crop_pending, import_paths
        from gui.jobs.engine_stack import load_engine_stack

        load_engine_stack()  # usually done already (start-up); else without GC pauses

        with Project.open(root) as project:
            report = import_paths(project, paths, labels_from_folders=labels_from_folders,
                                  ctx=ctx)
            if report.cancelled:
                raise Cancelled()
            # Worker processes: MTCNN's Python would otherwise hold the GIL the window
            # needs to paint (engine/ingest/crop_workers.py).
            crop = crop_pending(project, ctx=ctx, processes=True)
            if crop.cancelled:
                raise Cancelled()
        skipped = dict(report.skipped)
        skipped.update(crop.errors)
        return ImportSummary(report.added, report.already_imported, report.duplicates,
                             crop.photos, crop.faces, crop.no_face,
                             tuple(sorted(skipped.items())), crop.notice)
    return job


def build_demo_project(rebuild: bool = False):
    """Import and crop the demo photos; returns the demo project's folder."""
    def job(ctx: TaskContext) -> str:
        from engine.demo import build_demo_project as build

        project = build(ctx=ctx, rebuild=rebuild, processes=True)
        try:
            return str(project.root)
        finally:
            project.close()
    return job


@dataclass(frozen=True)
class DecodedPhoto:
    image: QImage
    scale: float  # image pixels per full-size photo pixel (face boxes are in the latter)


def decode_photo(path: Path, max_side: int = 2048):
    """An upright, reduced decode of an original photo for the photo viewer."""
    def job(ctx: TaskContext) -> DecodedPhoto:
        from engine.ingest.images import decode

        rgb, scale = decode(path, max_side=max_side)
        height, width = rgb.shape[:2]
        # .copy(): the QImage must own its pixels once the numpy array is gone.
        image = QImage(rgb.data, width, height, 3 * width, QImage.Format.Format_RGB888).copy()
        return DecodedPhoto(image, scale)
    return job
