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
    photos_added: int                       # new photos, the undecodable ones included
    already_imported: int
    duplicates: int
    photos_cropped: int
    faces_found: int
    photos_without_face: int
    skipped: tuple[tuple[str, str], ...]  # (path, reason): refused at import or unreadable
    notice: str | None = None               # e.g. the detector fell back to Haar
    unreadable: int = 0                     # added (the header looked fine), not decodable

    def text(self) -> str:
        """What happened to every file, in counts that add up to the files looked at.
        A photo that was added but then could not be decoded (a truncated file) counts
        once, as not usable, not also as new."""
        usable = max(0, self.photos_added - self.unreadable)
        known = self.already_imported + self.duplicates
        not_used = len(self.skipped)
        total = usable + known + not_used
        new = f"{usable} new {_plural(usable, 'photo')}"
        if usable or self.faces_found:
            new += f" with {self.faces_found} {_plural(self.faces_found, 'face')} found"
            if self.photos_without_face:
                new += (f" ({self.photos_without_face} {_plural(self.photos_without_face, 'photo')}"
                        " with no face found, kept whole)")
        parts = [new]
        if known:
            parts.append(f"{known} already in the project")
        if not_used:
            parts.append(f"{not_used} {_plural(not_used, 'file')} could not be used "
                         "(the reasons are under Details)")
        return (f"Import finished: {total} {_plural(total, 'file')}: " + "; ".join(parts)
                + ".")


def _plural(count: int, word: str) -> str:
    return word if count == 1 else word + "s"


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
                             tuple(sorted(skipped.items())), crop.notice,
                             unreadable=len(crop.errors))
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
