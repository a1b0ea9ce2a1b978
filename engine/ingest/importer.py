"""Import photos into a project: scan folders/files, hash, de-duplicate, record.

Import only reads: original photos are never modified, moved or renamed. Each photo is
committed as soon as it is recorded. A file that cannot be used is listed with its
reason and the import goes on. Faces are found afterwards by :mod:`engine.ingest.crop`.
"""

from __future__ import annotations

import hashlib
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, Sequence

from engine.catalog import CatalogError
from engine.ingest.images import IMAGE_EXTENSIONS, ImageInfo, ImageReadError, probe, read_bytes
from engine.project import Project
from engine.tasks import Cancelled, TaskContext, null_context

log = logging.getLogger(__name__)


@dataclass
class ImportReport:
    added: int = 0
    already_imported: int = 0
    duplicates: int = 0          # same content as a photo already in the project
    relocated: int = 0           # known content found at a new path (moved photos)
    skipped: dict[str, str] = field(default_factory=dict)  # path -> reason
    cancelled: bool = False
    added_photo_ids: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class Candidate:
    path: Path
    person: str | None  # from the folder layout, when asked for


@dataclass(frozen=True)
class _Read:
    candidate: Candidate
    sha256: str | None = None
    size: int = 0
    info: ImageInfo | None = None
    error: str | None = None


def is_image_name(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTENSIONS


def scan(paths: Iterable[Path | str], labels_from_folders: bool,
         missing: dict[str, str]) -> Iterator[Candidate]:
    """Files to import, in a stable order. Folders are walked recursively (symlinked
    folders are not followed, so a symlink loop cannot trap the scan); a folder's
    non-image files are ignored, while a file named explicitly is always tried."""
    for raw in paths:
        root = Path(os.path.abspath(raw))
        if root.is_dir():
            for folder, dirs, files in os.walk(root, followlinks=False,
                                               onerror=lambda e: missing.setdefault(
                                                   str(e.filename), _os_reason(e))):
                dirs.sort()
                here = Path(folder)
                for name in sorted(files):
                    path = here / name
                    if not is_image_name(path):
                        continue
                    yield Candidate(path, _folder_person(root, path) if labels_from_folders
                                    else None)
        elif root.exists() or root.is_symlink():
            yield Candidate(root, root.parent.name if labels_from_folders else None)
        else:
            missing[str(root)] = "file not found (moved or deleted?)"


def _check_sources_exist(paths: Sequence[Path | str]) -> None:
    """When none of the folders or files the user names exists (a mistyped path), that is
    an error, not an import of nothing that looks like success. Among others that do
    exist, a missing one is listed as skipped like any file that cannot be read."""
    missing = [str(path) for path in paths
               if not (Path(path).exists() or Path(path).is_symlink())]
    if missing and len(missing) == len(paths):
        raise FileNotFoundError(
            f"Nothing was imported: {', '.join(missing)} "
            f"{'does' if len(missing) == 1 else 'do'} not exist. Check the path and try again.")


def _folder_person(root: Path, path: Path) -> str | None:
    """The first folder below the import root names the person (root/Person/.../x.jpg);
    files directly in the root take the root folder's own name."""
    parts = path.relative_to(root).parts
    name = parts[0] if len(parts) > 1 else root.name
    return name.strip() or None


def _os_reason(exc: OSError) -> str:
    return f"cannot read ({exc.strerror or exc})"


def _read(candidate: Candidate) -> _Read:
    try:
        data = read_bytes(candidate.path)
        info = probe(candidate.path, data)
    except ImageReadError as exc:
        return _Read(candidate, error=exc.reason)
    except OSError as exc:  # e.g. a name too long for the file system
        return _Read(candidate, error=_os_reason(exc))
    return _Read(candidate, hashlib.sha256(data).hexdigest(), len(data), info)


def import_paths(project: Project, paths: Sequence[Path | str], *,
                 labels_from_folders: bool = False,
                 ctx: TaskContext | None = None) -> ImportReport:
    ctx = ctx or null_context()
    _check_sources_exist(paths)
    catalog = project.catalog
    report = ImportReport()
    ctx.report("import", 0, 0, "looking for photos")
    candidates = list(scan(paths, labels_from_folders, report.skipped))
    known = catalog.known_paths()
    persons: dict[str, int | None] = {}
    total = len(candidates)

    def person_id(name: str | None) -> int | None:
        if name is None:
            return None
        if name not in persons:
            try:
                persons[name] = catalog.ensure_person(name).id
            except CatalogError as exc:  # e.g. a line break in a folder name
                log.warning("folder %r does not name a person (%s); its photos are "
                            "imported unlabelled", name, exc)
                persons[name] = None
        return persons[name]

    to_read = []
    for candidate in candidates:
        stored = project.stored_path(candidate.path)
        try:
            size = candidate.path.stat().st_size
        except OSError:
            size = -1
        if stored in known and known[stored][0] == size:
            report.already_imported += 1  # same path, same size: nothing new to read
        else:
            to_read.append(candidate)
    done = report.already_imported
    ctx.report("import", done, total)
    # Reading and hashing release the GIL; a few threads keep the disk busy.
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = pool.map(_read, to_read)
        try:
            for result in results:
                ctx.check()
                _record(project, result, person_id, report)
                done += 1
                ctx.report("import", done, total, str(result.candidate.path))
        except Cancelled:
            report.cancelled = True
            pool.shutdown(wait=True, cancel_futures=True)
    for path, reason in report.skipped.items():
        catalog.record_skipped(path, reason)
    return report


def _record(project: Project, result: _Read, person_id, report: ImportReport) -> None:
    catalog = project.catalog
    path = result.candidate.path
    stored = project.stored_path(path)
    if result.error is not None:
        report.skipped[str(path)] = result.error
        log.warning("skipped %s: %s", path, result.error)
        return
    existing = catalog.photo_by_hash(result.sha256)
    if existing is not None:
        if existing.path != stored and not project.resolve(existing.path).exists():
            catalog.relocate_photo(existing.id, stored)
            report.relocated += 1
        elif existing.path == stored:
            report.already_imported += 1
        else:
            report.duplicates += 1
            log.info("%s has the same content as %s; not imported twice", stored, existing.path)
        return
    info = result.info
    same_path = catalog.photo_by_path(stored)
    if same_path is not None:
        # The user edited the photo in place: record the new content and crop it again.
        catalog.update_photo_content(same_path.id, sha256=result.sha256, size_bytes=result.size,
                                     width=info.width, height=info.height, format=info.format,
                                     exif_orientation=info.exif_orientation)
        report.added += 1
        report.added_photo_ids.append(same_path.id)
        return
    photo_id = catalog.add_photo(
        path=stored, sha256=result.sha256, size_bytes=result.size, width=info.width,
        height=info.height, format=info.format, exif_orientation=info.exif_orientation,
        import_person_id=person_id(result.candidate.person))
    report.added += 1
    report.added_photo_ids.append(photo_id)
