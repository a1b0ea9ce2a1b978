from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from engine.storage import (atomic_write, atomic_write_bytes, publish_staged,
                            remove_stale_temps, sha256_file, staged_file, write_error_reason)


def _folder_contents(folder: Path) -> list[str]:
    return sorted(entry.name for entry in folder.iterdir())


def test_atomic_write_bytes_creates_folders_and_returns_path(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "deeper" / "data.bin"
    assert atomic_write_bytes(target, b"hello") == target
    assert target.read_bytes() == b"hello"
    assert _folder_contents(target.parent) == ["data.bin"]


def test_atomic_write_replaces_existing_file(tmp_path: Path) -> None:
    target = tmp_path / "data.bin"
    target.write_bytes(b"old")
    atomic_write(str(target), lambda file: file.write(b"new"))
    assert target.read_bytes() == b"new"
    assert _folder_contents(tmp_path) == ["data.bin"]


def test_atomic_write_keeps_old_file_and_no_temp_when_write_raises(tmp_path: Path) -> None:
    target = tmp_path / "data.bin"
    target.write_bytes(b"old content")

    def failing_write(file) -> None:
        file.write(b"half of the new")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        atomic_write(target, failing_write)
    assert target.read_bytes() == b"old content"
    assert _folder_contents(tmp_path) == ["data.bin"]


def test_atomic_write_leaves_nothing_when_first_write_raises(tmp_path: Path) -> None:
    target = tmp_path / "never.bin"

    def failing_write(file) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(target, failing_write)
    assert _folder_contents(tmp_path) == []


def test_staged_file_is_beside_destination_and_hidden(tmp_path: Path) -> None:
    destination = tmp_path / "out" / "model.onnx"
    with staged_file(destination) as temp:
        assert temp.parent == destination.parent
        assert temp.name.startswith(".model.onnx.")
        assert temp.exists()
    assert not temp.exists()


def test_staged_file_removed_when_not_published(tmp_path: Path) -> None:
    destination = tmp_path / "model.pt"
    with staged_file(destination) as temp:
        temp.write_bytes(b"written but never published")
    assert not temp.exists()
    assert not destination.exists()
    assert _folder_contents(tmp_path) == []


def test_staged_file_removed_on_error_and_destination_untouched(tmp_path: Path) -> None:
    destination = tmp_path / "model.pt"
    destination.write_bytes(b"earlier good file")
    with pytest.raises(ValueError):
        with staged_file(destination) as temp:
            temp.write_bytes(b"wrong")
            raise ValueError("verification failed")
    assert not temp.exists()
    assert destination.read_bytes() == b"earlier good file"
    assert _folder_contents(tmp_path) == ["model.pt"]


def test_publish_staged_replaces_destination(tmp_path: Path) -> None:
    destination = tmp_path / "model.pt"
    destination.write_bytes(b"old")
    with staged_file(destination) as temp:
        temp.write_bytes(b"verified new")
        assert publish_staged(temp, destination) == destination
        assert not temp.exists()
    assert destination.read_bytes() == b"verified new"
    assert _folder_contents(tmp_path) == ["model.pt"]


def test_publish_staged_creates_destination(tmp_path: Path) -> None:
    destination = tmp_path / "new" / "weights.pth"
    with staged_file(destination) as temp:
        temp.write_bytes(b"weights")
        publish_staged(str(temp), str(destination))
    assert destination.read_bytes() == b"weights"
    assert _folder_contents(destination.parent) == ["weights.pth"]


@pytest.mark.parametrize("chunk_bytes", [1 << 16, 1 << 20])
def test_sha256_file_matches_hashlib_over_many_chunks(tmp_path: Path, chunk_bytes: int) -> None:
    data = os.urandom(3 * (1 << 20) + 12345)  # several chunks plus a partial last one
    path = tmp_path / "big.bin"
    path.write_bytes(data)
    assert sha256_file(path, chunk_bytes=chunk_bytes) == hashlib.sha256(data).hexdigest()
    assert sha256_file(str(path)) == hashlib.sha256(data).hexdigest()


def test_sha256_file_of_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty"
    path.write_bytes(b"")
    assert sha256_file(path) == hashlib.sha256(b"").hexdigest()


def test_stale_temps_of_a_killed_writer_are_removed_and_nothing_else(tmp_path: Path) -> None:
    import tempfile

    keep = ["last.pt", ".facelab.lock", ".hidden.tmp", "notes.tmp"]
    for name in keep:
        (tmp_path / name).write_bytes(b"x")
    for suffix in (".tmp", ".part"):  # what staged_file names its temps
        handle, _ = tempfile.mkstemp(prefix=".last.pt.", suffix=suffix, dir=tmp_path)
        os.close(handle)
    assert remove_stale_temps(tmp_path) == 2
    assert _folder_contents(tmp_path) == sorted(keep)
    assert remove_stale_temps(tmp_path / "missing") == 0


def test_write_errors_are_worded_for_the_user() -> None:
    import errno

    assert write_error_reason(OSError(errno.ENOSPC, "No space")) == "the disk is full"
    assert write_error_reason(OSError(errno.EROFS, "Read-only")) == "it is on a read-only disk"
    assert write_error_reason(OSError(errno.EIO, "I/O error")) == "I/O error"
