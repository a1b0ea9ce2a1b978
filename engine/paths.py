"""Where FaceLab keeps its own per-user files (demo project, weights, settings)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

_REPO_ROOT = Path(__file__).resolve().parent.parent


def user_data_dir() -> Path:
    """``$FACELAB_HOME`` if set (tests, portable installs), else the platform's data dir."""
    env = os.environ.get("FACELAB_HOME")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_data_dir("FaceLab", appauthor=False))


def resources_dir() -> Path:
    """FaceLab's read-only resources (the self-test photo, bundled weights): inside
    the bundle in a frozen (PyInstaller) app, where ``sys._MEIPASS`` is the folder the
    spec copies ``resources/`` into; ``resources/`` of the source tree otherwise."""
    bundle_root = getattr(sys, "_MEIPASS", None)
    root = Path(bundle_root) if getattr(sys, "frozen", False) and bundle_root else _REPO_ROOT
    return root / "resources"
