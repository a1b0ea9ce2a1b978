"""A FaceLab project: a folder holding the catalog, crop/thumbnail caches and runs.

    my-project/
      catalog.sqlite     photos, faces, persons, labels, splits, runs
      crops/             fixed-size face crops (model input source)
      thumbs/            small thumbnails for the library grid
      runs/              one folder per training run (checkpoints, config)

Paths inside the catalog are POSIX strings relative to the project folder when the
file lives inside it (TagStudio's rule), so a project folder can be moved.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

from engine.catalog import Catalog, CatalogError

CATALOG_NAME = "catalog.sqlite"
SUBFOLDERS = ("crops", "thumbs", "runs")


class ProjectError(CatalogError):
    pass


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
        reason = {errno.EROFS: "it is on a read-only disk",
                  errno.EACCES: "you do not have permission to write there",
                  errno.EPERM: "you do not have permission to write there",
                  errno.ENOSPC: "the disk is full"}.get(exc.errno, exc.strerror or str(exc))
        raise ProjectError(f"{folder}: cannot write to the project folder: {reason}. "
                           "Open it read-only, or copy it somewhere writable.") from exc


class Project:
    def __init__(self, root: Path, catalog: Catalog) -> None:
        self.root = root
        self.catalog = catalog

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
        for name in SUBFOLDERS:
            (root / name).mkdir(exist_ok=True)
        return cls(root, Catalog(root / CATALOG_NAME))

    @classmethod
    def open(cls, root: Path | str, readonly: bool = False) -> "Project":
        root = Path(root).expanduser().absolute()
        if not (root / CATALOG_NAME).is_file():
            raise ProjectError(f"{root}: not a FaceLab project (no {CATALOG_NAME}); "
                               "create one with `facelab new`")
        if not readonly:
            _check_writable(root)
            for name in SUBFOLDERS:
                (root / name).mkdir(exist_ok=True)
        return cls(root, Catalog(root / CATALOG_NAME, readonly=readonly))

    @classmethod
    def open_or_create(cls, root: Path | str) -> "Project":
        root = Path(root).expanduser().absolute()
        return cls.open(root) if (root / CATALOG_NAME).is_file() else cls.create(root)

    def close(self) -> None:
        self.catalog.close()

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
        path = Path(stored)
        return path if path.is_absolute() else self.root / path

    @property
    def runs_dir(self) -> Path:
        return self.root / "runs"
