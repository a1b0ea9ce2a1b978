"""A FaceLab project: a folder holding the catalog, crop/thumbnail caches and runs.

    my-project/
      catalog.sqlite     photos, faces, persons, labels, splits, runs
      crops/             fixed-size face crops (model input source)
      thumbs/            small thumbnails for the library grid
      runs/              one folder per training run (checkpoints, config)
      .facelab.lock      who has the project open for writing (see ProjectLock)

Paths inside the catalog are POSIX strings relative to the project folder when the
file lives inside it (TagStudio's rule), so a project folder can be moved.
"""

from __future__ import annotations

import os
from pathlib import Path

from engine.catalog import Catalog, CatalogError
from engine.project_lock import LOCK_NAME, LockHeld, ProjectLock
from engine.storage import write_error_reason

CATALOG_NAME = "catalog.sqlite"
SUBFOLDERS = ("crops", "thumbs", "runs")

__all__ = ["CATALOG_NAME", "LOCK_NAME", "Project", "ProjectError", "ProjectLockedError",
           "new_project_folder"]


class ProjectError(CatalogError):
    pass


class ProjectLockedError(ProjectError):
    """Another FaceLab (a window, a `facelab` command) has the project open for writing."""


def new_project_folder(root: Path | str) -> tuple[bool, str]:
    """Whether :meth:`Project.create` can make a project in ``root``, and what it will
    do there, in one sentence for the user (the app's New project dialog)."""
    root = Path(root).expanduser().absolute()
    try:
        if (root / CATALOG_NAME).exists():
            return False, (f"There is already a FaceLab project in {root}: open it with "
                           "Open project instead.")
        if root.exists() and not root.is_dir():
            return False, f"{root} is a file, not a folder: choose or type a folder."
        if not root.exists():
            return True, (f"The folder {root} does not exist yet: Create makes it (and the "
                          "folders above it that are missing).")
        if any(root.iterdir()):
            return True, (f"{root} is not empty: the project's files ({CATALOG_NAME}, crops, "
                          "runs…) go beside what it holds, and nothing in it is changed.")
    except OSError as exc:
        return False, f"{root}: cannot be used ({exc.strerror or exc})."
    return True, f"The project is created in the empty folder {root}."


def _check_writable(folder: Path) -> None:
    """Fail early, with the reason, when the project cannot be written.

    A write probe rather than os.access: it also catches read-only mounts (a locked USB
    stick) and works for root, for whom permission bits mean nothing.
    """
    probe = folder / f".facelab-write-probe-{os.getpid()}"
    try:
        fd = os.open(probe, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        reason = write_error_reason(exc)
        raise ProjectError(f"{folder}: cannot write to the project folder: {reason}. "
                           "Open it read-only, or copy it somewhere writable.") from exc


def _lock(root: Path) -> ProjectLock:
    try:
        return ProjectLock.acquire(root)
    except LockHeld as held:
        raise ProjectLockedError(
            f"{root}: the project is open in another FaceLab ({held}). Close it there "
            "first, or open it read-only (`facelab stats` works meanwhile).") from None
    except OSError as exc:
        raise ProjectError(f"{root / LOCK_NAME}: cannot lock the project "
                           f"({exc.strerror or exc})") from exc


class Project:
    """An open project. Opened for writing, it holds the project's lock (one writer
    process at a time: two windows would undo each other's labels and crop the same
    photos twice); read-only opens take no lock and work beside a writer."""

    def __init__(self, root: Path, catalog: Catalog, lock: ProjectLock | None = None) -> None:
        self.root = root
        self.catalog = catalog
        self._lock = lock

    @classmethod
    def create(cls, root: Path | str) -> "Project":
        root = Path(root).expanduser().absolute()
        if (root / CATALOG_NAME).exists():
            raise ProjectError(f"{root}: there is already a FaceLab project here")
        try:
            root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ProjectError(f"{root}: cannot create the project folder: "
                               f"{exc.strerror or exc}") from exc
        _check_writable(root)
        lock = _lock(root)
        for name in SUBFOLDERS:
            (root / name).mkdir(exist_ok=True)
        return cls._with_catalog(root, lock, readonly=False)

    @classmethod
    def open(cls, root: Path | str, readonly: bool = False) -> "Project":
        root = Path(root).expanduser().absolute()
        if not (root / CATALOG_NAME).is_file():
            raise ProjectError(f"{root}: not a FaceLab project (no {CATALOG_NAME}); "
                               "create one with `facelab new`")
        lock = None
        if not readonly:
            _check_writable(root)
            lock = _lock(root)
            for name in SUBFOLDERS:
                (root / name).mkdir(exist_ok=True)
        return cls._with_catalog(root, lock, readonly)

    @classmethod
    def _with_catalog(cls, root: Path, lock: ProjectLock | None, readonly: bool) -> "Project":
        try:
            catalog = Catalog(root / CATALOG_NAME, readonly=readonly)
        except BaseException:
            if lock is not None:
                lock.release()
            raise
        return cls(root, catalog, lock)

    @classmethod
    def open_or_create(cls, root: Path | str) -> "Project":
        root = Path(root).expanduser().absolute()
        return cls.open(root) if (root / CATALOG_NAME).is_file() else cls.create(root)

    def close(self) -> None:
        self.catalog.close()
        lock, self._lock = self._lock, None
        if lock is not None:
            lock.release()

    def __enter__(self) -> "Project":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # Paths -----------------------------------------------------------------
    def stored_path(self, path: Path) -> str:
        """How a file's path is written in the catalog (see module docstring)."""
        path = Path(os.path.abspath(path))
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            return path.as_posix()

    def resolve(self, stored: str) -> Path:
        """A photo's path as stored: inside the project or anywhere (originals are only read)."""
        path = Path(stored)
        return path if path.is_absolute() else self.root / path

    def resolve_inside(self, stored: str) -> Path:
        """A path of a file FaceLab writes (crops, thumbnails, runs): always inside the
        project folder. The catalog may come from someone else, and a path that climbs
        out of the folder would have FaceLab read or write files elsewhere."""
        path = Path(stored)
        resolved = Path(os.path.normpath(self.root / path))
        if path.is_absolute() or not resolved.is_relative_to(Path(os.path.normpath(self.root))):
            raise CatalogError(f"The catalog names {stored!r}, outside the project folder "
                               f"{self.root}: the project is damaged or was crafted; FaceLab "
                               "will not use that path.")
        return resolved

    @property
    def runs_dir(self) -> Path:
        return self.root / "runs"
