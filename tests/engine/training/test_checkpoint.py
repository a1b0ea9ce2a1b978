from __future__ import annotations

import os

import pytest
import torch

from engine.training.checkpoint import (CHECKPOINT_KEYS, FORMAT_VERSION, CheckpointFormatError,
                                        UnsafeCheckpointError, copy_checkpoint, load_checkpoint,
                                        save_checkpoint)


def payload(**changes):
    values = {key: None for key in CHECKPOINT_KEYS}
    values.update(format_version=FORMAT_VERSION, config={"arch": "tiny"}, class_names=["a", "b"],
                  arch="tiny", model_state={"w": torch.arange(6.0).view(2, 3)}, epoch=3,
                  history=[{"epoch": 1, "val_loss": 0.5}], best={"epoch": 1, "val_loss": 0.5},
                  rng_state={"torch": torch.get_rng_state()})
    values.update(changes)
    return values


def test_save_is_atomic_and_loads_back(tmp_path):
    rng_state = torch.get_rng_state()
    path = save_checkpoint(tmp_path / "run" / "last.pt", payload(rng_state={"torch": rng_state}))

    assert os.listdir(tmp_path / "run") == ["last.pt"]  # no temp file left behind
    loaded = load_checkpoint(path)
    assert torch.equal(loaded["model_state"]["w"], torch.arange(6.0).view(2, 3))
    assert loaded["history"] == [{"epoch": 1, "val_loss": 0.5}] and loaded["class_names"] == ["a", "b"]
    assert torch.equal(loaded["rng_state"]["torch"], rng_state)


def test_failed_write_keeps_the_old_file_and_leaves_no_temp(tmp_path):
    path = save_checkpoint(tmp_path / "last.pt", payload(epoch=1))

    class Unsaveable:
        def __reduce__(self):
            raise RuntimeError("cannot pickle this")

    with pytest.raises(RuntimeError, match="cannot pickle"):
        save_checkpoint(path, payload(epoch=2, history=[Unsaveable()]))

    assert os.listdir(tmp_path) == ["last.pt"]
    assert load_checkpoint(path)["epoch"] == 1


def test_copy_is_atomic(tmp_path):
    source = save_checkpoint(tmp_path / "last.pt", payload())
    copy_checkpoint(source, tmp_path / "best.pt")
    assert sorted(os.listdir(tmp_path)) == ["best.pt", "last.pt"]
    assert load_checkpoint(tmp_path / "best.pt")["epoch"] == 3


@pytest.mark.parametrize("links", [True, False])
def test_a_copy_keeps_its_epoch_when_the_source_is_saved_again(tmp_path, monkeypatch, links):
    # best.pt is a hard link to last.pt where the file system allows; the next save of
    # last.pt must not change it. Without links (FAT, some shares) the bytes are copied.
    if not links:
        def no_links(*args, **kwargs):
            raise OSError(1, "Operation not permitted")
        monkeypatch.setattr(os, "link", no_links)
    last = save_checkpoint(tmp_path / "last.pt", payload(epoch=1))
    copy_checkpoint(last, tmp_path / "best.pt")
    assert (os.stat(last).st_ino == os.stat(tmp_path / "best.pt").st_ino) == links
    save_checkpoint(last, payload(epoch=2))
    assert load_checkpoint(tmp_path / "best.pt")["epoch"] == 1
    assert load_checkpoint(last)["epoch"] == 2
    assert sorted(os.listdir(tmp_path)) == ["best.pt", "last.pt"]


class CreatesMarker:
    """Unpickling this would create a file: what a malicious checkpoint does."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_checkpoint_that_would_run_code_is_refused(tmp_path):
    marker = tmp_path / "marker"
    path = tmp_path / "evil.pt"
    torch.save(payload(config=CreatesMarker(marker)), path)

    with pytest.raises(UnsafeCheckpointError, match="was refused: it contains Python objects that could run code"):
        load_checkpoint(path)
    assert not marker.exists()


def test_a_newer_format_is_refused(tmp_path):
    path = tmp_path / "future.pt"
    torch.save(payload(format_version=FORMAT_VERSION + 1), path)
    with pytest.raises(CheckpointFormatError, match="newer FaceLab"):
        load_checkpoint(path)


def test_missing_and_unknown_keys_are_refused_by_name(tmp_path):
    incomplete = payload()
    del incomplete["optimizer_state"]
    incomplete["surprise"] = 1
    path = tmp_path / "odd.pt"
    torch.save(incomplete, path)
    with pytest.raises(CheckpointFormatError, match="missing optimizer_state; unexpected surprise"):
        load_checkpoint(path)
    with pytest.raises(CheckpointFormatError, match="missing optimizer_state"):
        save_checkpoint(tmp_path / "never.pt", incomplete)
    assert not (tmp_path / "never.pt").exists()


def test_a_file_that_is_not_a_checkpoint_is_refused(tmp_path):
    path = tmp_path / "photo.jpg"
    path.write_bytes(b"\xff\xd8\xff\xe0 not a checkpoint")
    with pytest.raises(CheckpointFormatError, match="not a FaceLab checkpoint"):
        load_checkpoint(path)
    torch.save([1, 2, 3], tmp_path / "list.pt")
    with pytest.raises(CheckpointFormatError, match="holds a list"):
        load_checkpoint(tmp_path / "list.pt")
