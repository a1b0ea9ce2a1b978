"""Fixtures that keep the weights tests away from the real caches of this machine."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from engine.models import weights as weights_module


@pytest.fixture
def weights_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point every weights folder into tmp_path; returns FaceLab's (empty) weights folder."""
    facelab_dir = tmp_path / "facelab-weights"
    monkeypatch.setenv("FACELAB_WEIGHTS_DIR", str(facelab_dir))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.setattr(weights_module, "bundled_weights_dir", lambda: tmp_path / "bundled")
    # torch.hub.set_dir() anywhere in the test session would make get_dir() ignore TORCH_HOME.
    monkeypatch.setattr(torch.hub, "_hub_dir", None, raising=False)
    return facelab_dir
