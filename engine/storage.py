"""Writing files safely: a reader (or a crash) never sees half a file.

The one place FaceLab writes a file atomically or hashes one. Two patterns:

- ``atomic_write(path, write)`` / ``atomic_write_bytes(path, data)``: the content is
  produced in one go (a checkpoint, a crop, a config) and replaces ``path`` at once.
- ``staged_file(destination)`` + ``publish_staged(temp, destination)``: write, verify,
  then publish. The file is written to a temp beside its destination, checked there
  (an exported model loaded back, imported weights hashed), and only then moved over
  the destination; if anything fails, or the caller never publishes, the temp is
  deleted and the destination (and any earlier good file) is untouched.

Why it works:

- The temp file lives in the destination's folder: ``os.replace`` is only atomic
  within one file system, and the leading dot hides the temp from folder listings.
- The file is fsynced before the rename, so the name never points at content that
  is still only in the page cache.
- The folder is fsynced after the rename, so the rename itself survives a power cut
  (POSIX only; Windows has no such call, nor needs one).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import logging
import os
import re
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

log = logging.getLogger(__name__)

_HASH_CHUNK_BYTES = 1 << 20


def atomic_write(path: str | os.PathLike[str], write: Callable[[BinaryIO], None]) -> Path:
    """Call ``write`` with a binary file, then atomically put what it wrote at ``path``.

    If ``write`` (or anything else) raises, ``path`` keeps its old content and no temp
    file is left behind. Returns the path written.
    """
    path = Path(path)
    with staged_file(path, suffix=".tmp") as temp:
        with open(temp, "wb") as file:
            write(file)
        return publish_staged(temp, path)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Atomically replace ``path`` with ``data``; returns the path written."""
    return atomic_write(path, lambda file: file.write(data))


@contextlib.contextmanager
def staged_file(destination: str | os.PathLike[str], *, suffix: str = ".part") -> Iterator[Path]:
    """Yield an empty temp file beside ``destination``, to be written, verified and then
    passed to `publish_staged`. It is deleted when the block ends unless published, so
    an error (or simply not publishing) leaves nothing behind."""
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f".{destination.name}.", suffix=suffix,
                                    dir=destination.parent)
    os.close(handle)
    temp = Path(name)
    try:
        yield temp
    finally:
        temp.unlink(missing_ok=True)  # a no-op once published: the name has moved


def publish_staged(temp: str | os.PathLike[str], destination: str | os.PathLike[str]) -> Path:
    """Move a written, verified ``temp`` (from `staged_file`) over ``destination``."""
    destination = Path(destination)
    # "rb+": Windows only fsyncs descriptors opened for writing.
    with open(temp, "rb+") as handle:
        os.fsync(handle.fileno())  # the content is on disk before the name points at it
    os.replace(temp, destination)
    _sync_folder(destination.parent)
    return destination


# `staged_file`'s temp names: "." + destination name + "." + mkstemp's 8 characters + suffix.
_TEMP_NAME = re.compile(r"^\..+\.[a-z0-9_]{8}\.(tmp|part)$")


def remove_stale_temps(folder: str | os.PathLike[str]) -> int:
    """Delete the temp files a killed process left in ``folder`` (not its subfolders);
    returns how many. Only for a folder no other writer is using at the time (a run's
    own folder, under the project lock): a live writer's temp would go too."""
    removed = 0
    with contextlib.suppress(FileNotFoundError), os.scandir(folder) as entries:
        for entry in entries:
            if _TEMP_NAME.match(entry.name) and entry.is_file(follow_symlinks=False):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry.path)
                    removed += 1
    if removed:
        log.info("removed %d temp file(s) left in %s by an interrupted write", removed, folder)
    return removed


_WRITE_REASONS = {getattr(errno, "EDQUOT", -1): "the disk quota is used up",
                  errno.ENOSPC: "the disk is full", errno.EROFS: "it is on a read-only disk",
                  errno.EACCES: "you do not have permission to write there",
                  errno.EPERM: "you do not have permission to write there"}


def write_error_reason(error: OSError) -> str:
    """Why a write failed, in words a user can act on ("the disk is full")."""
    return _WRITE_REASONS.get(error.errno, error.strerror or str(error))


def sha256_file(path: str | os.PathLike[str], chunk_bytes: int = _HASH_CHUNK_BYTES) -> str:
    """Hex SHA-256 of a file, read in chunks so large models don't fill memory."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(chunk_bytes), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _sync_folder(folder: Path) -> None:
    """Make a rename in ``folder`` durable; not possible (nor needed) on Windows."""
    if os.name != "posix":
        return
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError as error:
        log.debug("Could not sync folder %s: %s", folder, error)
    finally:
        os.close(descriptor)
