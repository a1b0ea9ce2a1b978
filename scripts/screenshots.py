"""Screenshots of the app for docs/screenshots/ (and for looking at it without a screen).

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python scripts/screenshots.py [PROJECT]

PROJECT defaults to the demo project (built first if needed, from the 5celeb photos).
With no display, the script restarts itself under xvfb-run when it is installed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def _ensure_display() -> None:
    if os.environ.get("DISPLAY") or os.environ.get("QT_QPA_PLATFORM"):
        return
    xvfb_run = shutil.which("xvfb-run")
    if xvfb_run is None:
        sys.exit("No display: install Xvfb (apt-get install xvfb) or set QT_QPA_PLATFORM")
    os.execv(xvfb_run, [xvfb_run, "-a", "-s", "-screen 0 1600x1000x24", sys.executable,
                        *sys.argv])


def _settle(app, rounds: int = 30) -> None:
    """Let layouts, queued signals and thumbnail loads finish (a screenshot script may
    poll; tests wait on signals instead)."""
    from PySide6.QtCore import QThread

    for _ in range(rounds):
        app.processEvents()
        QThread.msleep(20)


def _save(widget, out: Path, name: str, app) -> None:
    _settle(app)
    path = out / f"{name}.png"
    widget.grab().save(str(path))
    print(path)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("project", nargs="?", help="project folder (default: the demo)")
    parser.add_argument("--out", default=str(REPO / "docs" / "screenshots"))
    args = parser.parse_args()
    _ensure_display()

    from PySide6.QtCore import QSettings

    # Never touch the user's own settings (recent projects, theme).
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope,
                      tempfile.mkdtemp(prefix="facelab-shots-"))
    from engine.project import Project
    from gui.app import create_application, create_main_window

    project_dir = Path(args.project) if args.project else _demo_project()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    app = create_application()
    window = create_main_window()
    window.resize(1360, 860)
    window.show()
    _save(window, out, "01-welcome", app)

    window.open_project(str(project_dir))
    library = window.library_page
    _wait_for_thumbnails(app, library)
    library.grid_view.setFocus()
    library.select_faces(library.grid_model.face_ids()[3:6])
    _save(window, out, "02-library", app)

    from gui.models import face_filter as ff
    library.person_panel.select_filter(ff.FaceFilter(ff.UNLABELLED, "Unlabelled"))
    _wait_for_thumbnails(app, library)
    library.select_faces(library.grid_model.face_ids()[:1])
    library.search_bar.start("m")
    _save(window, out, "03-unlabelled-and-person-search", app)
    library.search_bar.close_bar()

    viewer = library.open_photo_viewer(_face_in_group_photo(project_dir))
    _settle(app, 80)
    _save(viewer, out, "04-photo-viewer", app)
    viewer.close()

    for number, key in enumerate(("train", "evaluate", "webcam"), start=5):
        window.show_page(key)
        _save(window, out, f"0{number}-{key}-placeholder", app)

    window.show_page("library")
    window.set_dark_theme(True)
    library.person_panel.select_filter(ff.FaceFilter())
    _wait_for_thumbnails(app, library)
    _save(window, out, "08-library-dark", app)

    from gui.widgets.shortcuts_dialog import ShortcutsDialog
    dialog = ShortcutsDialog(window)
    dialog.show()
    _save(dialog, out, "09-shortcuts-dark", app)
    dialog.close()

    empty = Path(tempfile.mkdtemp(prefix="facelab-empty-")) / "empty-project"
    Project.create(empty).close()
    window.open_project(str(empty))
    _save(window, out, "10-empty-project-dark", app)
    window.set_dark_theme(False)

    photos = _demo_photos()
    if photos is not None:  # an import under way: progress and Cancel in the status bar
        job = window.library_page.import_paths([photos], labels_from_folders=True)
        for _ in range(500):
            _settle(app, 1)
            if job.progress is not None and job.progress.stage == "crop" and \
                    job.progress.done >= 3:
                break
        _save(window, out, "11-import-in-progress", app)
        job.cancel()
        window.runner.wait_for_done()
    window.close_project()
    _save(window, out, "12-welcome-with-recent-projects", app)
    window.close()
    return 0


def _demo_photos() -> Path | None:
    from engine.demo import find_demo_photos

    return find_demo_photos()


def _demo_project() -> Path:
    from engine.demo import build_demo_project

    project = build_demo_project()
    root = project.root
    project.close()
    return root


def _wait_for_thumbnails(app, library) -> None:
    _settle(app, 10)
    for _ in range(200):
        if len(library.thumbnails) >= min(30, library.grid_model.rowCount()):
            break
        _settle(app, 1)


def _face_in_group_photo(project_dir: Path) -> int:
    """A face from a photo with several faces: the viewer's reason to exist."""
    from engine.project import Project

    with Project.open(project_dir, readonly=True) as project:
        faces = project.catalog.faces()
        by_photo: dict[int, list[int]] = {}
        for face in faces:
            by_photo.setdefault(face.photo_id, []).append(face.id)
        groups = [ids for ids in by_photo.values() if len(ids) > 1]
        return (groups[0] if groups else [faces[0].id])[0]


if __name__ == "__main__":
    sys.exit(main())
