"""Where FaceLab keeps its own per-user files (demo project, weights, settings)."""

from __future__ import annotations

import os
from pathlib import Path


def user_data_dir() -> Path:
    """``$FACELAB_HOME`` if set (tests, portable installs), else the platform's data dir."""
    env = os.environ.get("FACELAB_HOME")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_data_dir("FaceLab", appauthor=False))
