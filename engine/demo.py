"""The demo project, imported and cropped on first run.

Its photos are real ones when FaceLab finds them (``$FACELAB_DEMO_PHOTOS``, or the
5celeb photos in ``shared/datasets/5celeb`` beside the checkout), which may not be
shipped; otherwise FaceLab draws them itself (engine/demo_faces.py): fictional
people, no licence to worry about, so a fresh clone and the installed app have a demo
too. The drawn photos live in the demo project's own folder, which marks it as drawn.

This module is cheap to import (the window asks it about the demo at start-up); the
drawing, import and crop are imported when a demo is built.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from engine.paths import user_data_dir
from engine.project import CATALOG_NAME, Project
from engine.tasks import Stage, TaskContext, null_context

DRAWN_PHOTOS_FOLDER = "drawn-photos"
DRAWN_PHOTOS_PER_PERSON = 30
DRAWN_MISFILED_PER_PERSON = 1  # filed under the next person: a label mistake to find
DRAWN_SEED = 0

DRAWN_DEMO_TEXT = (
    "The demo's people are drawn by FaceLab: fictional faces, as photos of real people may "
    "not be shipped with it. Its face detector finds and crops them like photos. One photo "
    "of each person is filed under the wrong person on purpose, for the label-mistake "
    "finder (Evaluate) to find.")
REAL_PHOTOS_TEXT = (
    "For real photos, create a project (New project) and drop a folder with one "
    "sub-folder of photos per person onto its library, or run \"facelab demo --rebuild\" "
    "with FACELAB_DEMO_PHOTOS set to such a folder.")


class DemoUnavailable(Exception):
    pass


def find_demo_photos() -> Path | None:
    """A folder of real photos for the demo (one sub-folder per person), or None."""
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


def demo_is_drawn() -> bool:
    """Whether the demo project is (or, not built yet, will be) made of drawn faces. A
    demo keeps the photos it was first built from, until it is rebuilt."""
    root = demo_project_dir()
    if (root / DRAWN_PHOTOS_FOLDER).is_dir():
        return True
    if (root / CATALOG_NAME).exists():
        return False
    return not os.environ.get("FACELAB_DEMO_PHOTOS") and find_demo_photos() is None


def build_demo_project(ctx: TaskContext | None = None, rebuild: bool = False,
                       processes: bool = False) -> Project:
    """Open the demo project, drawing, importing and cropping what is still missing
    (the crop in worker processes with ``processes``: see crop_pending). Resumes an
    interrupted build."""
    from engine.ingest import crop_pending, import_paths

    ctx = ctx or null_context()
    root = demo_project_dir()
    if rebuild and root.exists():
        shutil.rmtree(root)
    drawn = demo_is_drawn()
    photos = None if drawn else find_demo_photos()
    if photos is None and not drawn and not (root / CATALOG_NAME).exists():
        # Only when FACELAB_DEMO_PHOTOS names a folder that is not there: the user
        # asked for those photos, so drawn ones in their place would mislead.
        raise DemoUnavailable(
            f"The demo photos were not found: FACELAB_DEMO_PHOTOS is set to "
            f"{os.environ.get('FACELAB_DEMO_PHOTOS')}, which is not a folder. Point it at a "
            "folder with one sub-folder of photos per person, or unset it for the demo of "
            "faces FaceLab draws itself.")
    if drawn:
        photos = _draw_demo_photos(root / DRAWN_PHOTOS_FOLDER, ctx)
    project = Project.open_or_create(root)
    if photos is not None:
        import_paths(project, [photos], labels_from_folders=True, ctx=ctx)
    crop_pending(project, ctx=ctx, processes=processes)
    return project


def _draw_demo_photos(folder: Path, ctx: TaskContext) -> Path:
    from engine.demo_faces import write_photo_folders

    def progress(done: int, total: int) -> None:
        ctx.check()
        ctx.report(Stage.DRAW, done, total, "drawing the demo's faces")

    # Made before the project, so that a demo stopped while drawing is still a drawn one.
    folder.mkdir(parents=True, exist_ok=True)
    return write_photo_folders(folder, DRAWN_PHOTOS_PER_PERSON, seed=DRAWN_SEED,
                               mislabelled=DRAWN_MISFILED_PER_PERSON, progress=progress)
