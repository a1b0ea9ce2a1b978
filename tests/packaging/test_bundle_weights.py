"""scripts/bundle_weights.py: only files `facelab weights import` would accept are bundled."""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

import pytest
import torch
from torch import nn

from engine.models import (
    ArchSpec,
    WeightsChecksumError,
    register_architecture,
    unregister_architecture,
)

REPO = Path(__file__).resolve().parents[2]
TINY = "tiny_bundle_test"


def _load_script():
    spec = importlib.util.spec_from_file_location("bundle_weights", REPO / "scripts" / "bundle_weights.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _tiny_net(num_classes: int, dropout: float | None) -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, num_classes))


@pytest.fixture
def downloads(tmp_path: Path):
    """A folder with one genuine torchvision-style file (hash in its name) of a tiny arch."""
    folder = tmp_path / "downloads"
    folder.mkdir()
    staging = folder / "staging.pth"
    torch.save(_tiny_net(10, None).state_dict(), staging)
    digest = hashlib.sha256(staging.read_bytes()).hexdigest()
    genuine = staging.rename(folder / f"tinybundle-{digest[:8]}.pth")
    register_architecture(ArchSpec(
        name=TINY, display_name="Tiny", description="A tiny network for bundling tests.",
        input_size=16, mean=(0.5,) * 3, std=(0.5,) * 3, family="cnn",
        pretrained_source="torchvision", weights_filename=genuine.name, builder=_tiny_net,
        head_path="3"))
    yield folder
    unregister_architecture(TINY)


def test_verified_files_are_staged(downloads: Path, tmp_path: Path, monkeypatch):
    monkeypatch.delenv("FACELAB_WEIGHTS_DIR", raising=False)
    script = _load_script()
    stage = tmp_path / "stage"
    (stage / "old.pth").parent.mkdir()
    (stage / "old.pth").write_bytes(b"left from an earlier build")

    staged = script.stage(downloads, stage)

    assert [path.name for path in staged] == [path.name for path in downloads.iterdir()]
    assert sorted(path.name for path in stage.iterdir()) == [staged[0].name]
    assert staged[0].read_bytes() == (downloads / staged[0].name).read_bytes()
    import os
    assert "FACELAB_WEIGHTS_DIR" not in os.environ  # restored


def test_a_damaged_file_stops_the_build(downloads: Path, tmp_path: Path):
    genuine = next(downloads.iterdir())
    genuine.write_bytes(genuine.read_bytes()[:-10] + b"0123456789")
    with pytest.raises(WeightsChecksumError):
        _load_script().stage(downloads, tmp_path / "stage")
    assert list((tmp_path / "stage").iterdir()) == []


def test_main_reports_unknown_files(downloads: Path, tmp_path: Path, capsys):
    (downloads / "holiday.jpg").write_bytes(b"")
    assert _load_script().main([str(downloads), str(tmp_path / "stage")]) == 1
    assert "holiday.jpg is not a weights file FaceLab knows" in capsys.readouterr().err


def test_installed_face_resnet_is_staged_converted_with_its_licence_note_only(tmp_path: Path, monkeypatch):
    from engine.models.dlib_weights import CONVERTED_FILENAME, DLIB_SHA256

    monkeypatch.delenv("FACELAB_WEIGHTS_DIR", raising=False)
    stage = tmp_path / "stage"
    assert _load_script().main([str(stage), "--installed"]) == 0

    note = CONVERTED_FILENAME.replace(".pt", ".LICENSE.txt")
    # Only dlib's 22 MB face network, converted: nothing else of its 100 MB package.
    assert sorted(path.name for path in stage.iterdir()) == sorted([CONVERTED_FILENAME, note])
    assert 22_000_000 < (stage / CONVERTED_FILENAME).stat().st_size < 23_000_000
    assert torch.load(stage / CONVERTED_FILENAME, weights_only=True)
    assert "CC0" in (stage / note).read_text() and DLIB_SHA256 in (stage / note).read_text()
    # Installed as root, read by every user of the machine.
    assert all(path.stat().st_mode & 0o444 == 0o444 for path in stage.iterdir())


def test_selftest_accepts_the_bundled_licence_note(tmp_path: Path, monkeypatch):
    from engine import selftest
    from engine.models import weights as weights_module

    monkeypatch.setenv("FACELAB_WEIGHTS_DIR", str(tmp_path / "user-weights"))
    bundled = tmp_path / "bundled"
    _load_script().stage(None, bundled, {"faceresnet"}, installed=True)
    monkeypatch.setattr(weights_module, "bundled_weights_dir", lambda: bundled)
    assert "faceresnet (bundled)" in selftest.check_weights()
