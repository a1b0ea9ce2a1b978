"""The demo project: the 5celeb photos imported and cropped on first run.

The photos are not shipped (their licence does not allow it): FaceLab looks for them
in ``$FACELAB_DEMO_PHOTOS`` or in ``shared/datasets/5celeb`` beside the checkout.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from engine.ingest import crop_pending, import_paths
from engine.paths import user_data_dir
from engine.project import CATALOG_NAME, Project
from engine.tasks import TaskContext


class DemoUnavailable(Exception):
    pass


def find_demo_photos() -> Path | None:
    env = os.environ.get("FACELAB_DEMO_PHOTOS")
    if env:
        return Path(env) if Path(env).is_dir() else None
    repo = Path(__file__).resolve().parent.parent
    for candidate in (repo.parent / "shared" / "datasets" / "5celeb",
                      repo / "shared" / "datasets" / "5celeb"):
        if candidate.is_dir():
            return candidate
    return None


def demo_project_dir() -> Path:
    return user_data_dir() / "demo-project"


def build_demo_project(ctx: TaskContext | None = None, rebuild: bool = False,
                       processes: bool = False) -> Project:
    """Open the demo project, importing and cropping what is still missing (the crop in
    worker processes with ``processes``: see crop_pending)."""
    root = demo_project_dir()
    if rebuild and root.exists():
        shutil.rmtree(root)
    photos = find_demo_photos()
    if photos is None and not (root / CATALOG_NAME).exists():
        raise DemoUnavailable(
            "The demo photos were not found. Set FACELAB_DEMO_PHOTOS to a folder with one "
            "sub-folder of photos per person, or create your own project: "
            "`facelab new DIR` then `facelab import DIR PHOTOS --labels-from-folders --crop`.")
    project = Project.open_or_create(root)
    if photos is not None:
        import_paths(project, [photos], labels_from_folders=True, ctx=ctx)
    crop_pending(project, ctx=ctx, processes=processes)
    return project
