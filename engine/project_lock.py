"""One writer process per project: an advisory lock file, ``PROJECT/.facelab.lock``.

Two FaceLab windows on one project would not corrupt the catalog (SQLite serialises
their writes), but each would undo the other's labels (the undo history is the
project's), crop the same photos twice and show stale pages. So a process that opens
a project for writing locks it, and a second process is told who holds it.

How:
- The lock is the operating system's: ``fcntl.flock`` on POSIX, ``msvcrt.locking`` on
  Windows. The OS drops it when its process dies, however it dies (SIGKILL, power
  cut), so a lock left by a dead process is simply taken over: no pid guessing.
- The file's text names the holder (pid, host, since when) for the message only. The
  file is never deleted: unlinking a locked file lets a third process lock a new
  file of the same name while a second still waits on the old one.
- Within one process the lock is shared and counted: the window and its background
  jobs each open the project (each with its own catalog connection).
- File systems without locks (some network shares) fall back to the holder's pid: on
  this host, a live pid other than ours holds the project.

No third-party library: a few lines over the standard library, and the lock must be
the OS's (released on death), which rules out lock files that merely exist.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import platform
import threading
import time
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

LOCK_NAME = ".facelab.lock"
# Windows locks byte ranges, and a locked range cannot be read by others: the lock is
# taken on a byte far past the holder text, which stays readable.
_WINDOWS_LOCK_OFFSET = 1 << 30

if os.name == "nt":  # pragma: no cover - exercised on Windows CI only
    import msvcrt

    def _try_lock(fd: int) -> bool:
        os.lseek(fd, _WINDOWS_LOCK_OFFSET, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError as exc:
            if exc.errno in (errno.EACCES, errno.EDEADLK):
                return False
            raise
        return True

    def _unlock(fd: int) -> None:
        os.lseek(fd, _WINDOWS_LOCK_OFFSET, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)


@dataclass(frozen=True)
class Holder:
    pid: int
    host: str
    since: str

    def __str__(self) -> str:
        return f"process {self.pid} on {self.host}, since {self.since}"


class LockHeld(Exception):
    """Another live process holds the project's lock."""

    def __init__(self, holder: Holder | None) -> None:
        super().__init__(str(holder) if holder else "holder unknown")
        self.holder = holder


# The locks this process holds: real path of the project -> (lock, open count).
_held: dict[str, list] = {}
_held_guard = threading.Lock()


class ProjectLock:
    """A held lock; `release` once per `acquire`."""

    def __init__(self, key: str, fd: int) -> None:
        self._key = key
        self._fd = fd

    @classmethod
    def acquire(cls, root: Path) -> "ProjectLock":
        """Lock ``root`` for this process (shared with its other opens) or raise LockHeld."""
        key = os.path.realpath(root)
        with _held_guard:
            entry = _held.get(key)
            if entry is not None:
                entry[1] += 1
                return entry[0]
            lock = cls(key, _lock_file(Path(key) / LOCK_NAME))
            _held[key] = [lock, 1]
            return lock

    def release(self) -> None:
        with _held_guard:
            entry = _held.get(self._key)
            if entry is None or entry[0] is not self:
                return
            entry[1] -= 1
            if entry[1] > 0:
                return
            del _held[self._key]
            try:
                os.ftruncate(self._fd, 0)  # no holder named once it is free
                _unlock(self._fd)
            except OSError as exc:
                log.debug("releasing %s: %s", self._key, exc)
            finally:
                os.close(self._fd)  # closing drops the OS lock in any case


def _lock_file(path: Path) -> int:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            locked = _try_lock(fd)
        except OSError as exc:  # no locks on this file system: judge by the holder's pid
            log.info("%s: the file system does not lock files (%s); checking the holder's "
                     "process instead", path, exc.strerror or exc)
            holder = _read(fd)
            locked = not (holder and holder.host == platform.node() and holder.pid != os.getpid()
                          and pid_alive(holder.pid))
        previous = _read(fd)
        if not locked:
            raise LockHeld(previous)
        if previous is not None and previous.pid != os.getpid():
            log.info("%s: taking over the lock of %s, which is no longer running", path,
                     previous)
        _write_holder(fd)
        return fd
    except BaseException:
        os.close(fd)
        raise


def _write_holder(fd: int) -> None:
    text = json.dumps({"pid": os.getpid(), "host": platform.node(),
                       "since": time.strftime("%Y-%m-%d %H:%M:%S")}).encode()
    os.ftruncate(fd, 0)
    os.lseek(fd, 0, os.SEEK_SET)
    os.write(fd, text)
    os.fsync(fd)


def _read(fd: int) -> Holder | None:
    os.lseek(fd, 0, os.SEEK_SET)
    return _parse(os.read(fd, 4096))


def _parse(data: bytes) -> Holder | None:
    try:
        values = json.loads(data.decode("utf-8"))
        return Holder(int(values["pid"]), str(values["host"]), str(values["since"]))
    except (ValueError, KeyError, TypeError):
        return None  # empty (released) or not ours


def pid_alive(pid: int | None) -> bool:
    """Whether a process with this id runs on this machine (a zombie counts)."""
    if not pid or pid < 0:
        return False
    if os.name == "nt":  # pragma: no cover - os.kill(pid, 0) would terminate it there
        return _windows_pid_alive(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    except OSError:
        return False
    return True


def _windows_pid_alive(pid: int) -> bool:  # pragma: no cover - Windows only
    import ctypes

    kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
    handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
    if not handle:
        return ctypes.get_last_error() == 5  # ERROR_ACCESS_DENIED: it exists
    try:
        code = ctypes.c_ulong()
        return bool(kernel32.GetExitCodeProcess(handle, ctypes.byref(code))) and code.value == 259
    finally:
        kernel32.CloseHandle(handle)
