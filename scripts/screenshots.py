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
    parser.add_argument("--runs-project", help="a project with trained runs for the Evaluate "
                        "page (default: PROJECT; without runs, two small ones are trained on "
                        "a temporary copy, a few minutes on a CPU)")
    parser.add_argument("--only", choices=("webcam",), help="only these screenshots (on a "
                        "copy of --runs-project, or of PROJECT)")
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
    if args.only == "webcam":
        window.open_project(str(project_dir))
        window.show_page("webcam")
        _save(window, out, "07-webcam", app)
        window.open_project(str(_evaluation_copy(Path(args.runs_project or project_dir))))
        _webcam_shots(app, window, out)
        window.close()
        return 0
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

    window.show_page("webcam")  # without a trained run: it says so (live: _webcam_shots)
    _save(window, out, "07-webcam", app)

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
    _train_shots(app, window, project_dir, out)
    _evaluate_shots(app, window, Path(args.runs_project or project_dir), out)
    _webcam_shots(app, window, out)
    window.close_project()
    _save(window, out, "12-welcome-with-recent-projects", app)
    window.close()
    return 0


def _evaluate_shots(app, window, project_dir: Path, out: Path) -> None:
    """The Evaluate page: metrics, confusion matrix and mistakes; a confusion cell with
    Grad-CAM; the scoreboard; the suspicious labels; the dark theme. Works on a
    temporary copy (the runs linked, not copied), so the project itself is untouched."""
    from gui.pages.evaluate import LABELS_TAB, RESULTS_TAB, SCOREBOARD_TAB

    root = _evaluation_copy(project_dir)
    window.open_project(str(root))
    window.show_page("evaluate")
    page = window.workspace.pages["evaluate"]
    _until(app, lambda: page.results_loaded, 3000)
    if page.report is None and page.current_run_id:
        job = page.evaluate_current()
        _until(app, lambda: job.state.finished, 30_000)
    _until(app, lambda: len(page.thumbnails) >= min(12, page.gallery_model.rowCount()), 500)
    _save(window, out, "20-evaluate-results", app)

    report = page.report
    cells = [(count, r, c) for r, row in enumerate(report.confusion_matrix)
             for c, count in enumerate(row) if r != c and count]
    if cells:
        _, r, c = max(cells)
        page.heatmap.activate_cell(page.confusion_model.index(r, c))
    page.gallery.gradcam_check.setChecked(True)
    page.gallery.view.setCurrentIndex(page.gallery_model.index(0))
    _until(app, lambda: all(page.gradcams.result(f) or page.gradcams.error(f)
                            for f in page.gallery_model.face_ids()), 6000)
    _save(window, out, "21-evaluate-cell-with-gradcam", app)

    page.show_tab(SCOREBOARD_TAB)
    _save(window, out, "22-evaluate-scoreboard", app)

    page.show_tab(LABELS_TAB)
    job = page.find_suspicious_labels()
    _until(app, lambda: job.state.finished, 30_000)
    _until(app, lambda: len(page.issue_thumbnails) >= min(8, page.issues_model.rowCount()), 300)
    _save(window, out, "23-evaluate-suspicious-labels", app)

    page.show_tab(RESULTS_TAB)
    window.set_dark_theme(True)
    _save(window, out, "24-evaluate-dark", app)
    window.set_dark_theme(False)


def _webcam_shots(app, window, out: Path) -> None:
    """The Webcam page naming the faces of a video made of the open project's photos (a
    camera stand-in), then with Grad-CAM, then on the dark theme. Needs a trained run
    (the Evaluate shots leave their project open)."""
    page = window.workspace.pages["webcam"]
    video = _photo_video(window.session.project)
    window.show_page("webcam")
    page.open_video(str(video))
    if page.start() is None:
        print("webcam screenshots skipped: no trained run", flush=True)
        return
    _until(app, lambda: page.video.painted_captions, 6000)
    _save(window, out, "30-webcam-live", app)
    page.gradcam_check.setChecked(True)
    _until(app, lambda: page.video.painted_gradcam is not None, 6000)
    _save(window, out, "31-webcam-gradcam", app)
    window.set_dark_theme(True)
    _until(app, lambda: page.video.painted_captions, 3000)
    _save(window, out, "32-webcam-dark", app)
    window.set_dark_theme(False)
    page.stop()
    _until(app, lambda: not page.is_live, 3000)


def _photo_video(project) -> Path:
    """A video of a few one-face photos per person of the project, each held 1.5 s and
    swaying a little with sensor noise, as a face in front of a webcam does."""
    from engine.inference.fake_camera import write_photo_video

    catalog = project.catalog
    faces_of_photo: dict[int, list] = {}
    for face in catalog.faces():
        if not face.whole_image:
            faces_of_photo.setdefault(face.photo_id, []).append(face)
    chosen: dict[int, list[Path]] = {}
    for faces in faces_of_photo.values():
        person = faces[0].person_id
        if len(faces) == 1 and person is not None and len(chosen.get(person, [])) < 2:
            chosen.setdefault(person, []).append(
                project.resolve(catalog.photo(faces[0].photo_id).path))
    photos = [path for paths in list(chosen.values())[:3] for path in paths]
    folder = Path(tempfile.mkdtemp(prefix="facelab-shots-video-"))
    return write_photo_video(folder / "camera.avi", photos, 45, sway_px=6, noise=3)


def _train_shots(app, window, project_dir: Path, out: Path) -> None:
    """The Train page: a queue of two runs training live, the queue finished (the runs
    table as scoreboard), and the message when pretrained weights are missing. Trains
    for about two minutes on a CPU, on a scratch copy of the project (no runs)."""
    root = Path(tempfile.mkdtemp(prefix="facelab-shots-train-")) / project_dir.name
    shutil.copytree(project_dir, root, ignore=shutil.ignore_patterns("runs"))
    window.open_project(str(root))
    window.show_page("train")
    page = window.workspace.pages["train"]
    _until(app, lambda: page.choices is not None and page.charts is not None, 6000)
    page.arch_model.set_checked(["customcnn1", "customcnn2"])
    page.form.set_values({"epochs": 5, "augment": "light", "pretrained": False})
    jobs = page.start_training()
    _until(app, lambda: page.charts.point_counts()["train_loss"] >= 3, 30_000)
    _save(window, out, "05-train-live", app)
    _until(app, lambda: all(job.state.finished for job in jobs), 60_000)
    _until(app, lambda: page.runs_model.rowCount() >= len(jobs), 500)
    _save(window, out, "05b-train-queue-finished", app)

    resnet = page.arch_model.architecture("resnet18")
    if resnet is not None and not resnet.weights_available:  # the page says what to do
        page.arch_model.set_checked(["resnet18"])
        page.form.set_values({"pretrained": True, "freeze_epochs": 2})
        page.start_training()
        _save(window, out, "05c-train-weights-missing", app)
        page.form.set_values({"pretrained": False})


def _evaluation_copy(project_dir: Path) -> Path:
    """A scratch copy of the project (runs symlinked); with no trained run, two small
    ones are trained on it first."""
    from engine.project import Project

    root = Path(tempfile.mkdtemp(prefix="facelab-shots-eval-")) / project_dir.name
    shutil.copytree(project_dir, root, ignore=shutil.ignore_patterns("runs"))
    if (project_dir / "runs").is_dir():
        (root / "runs").symlink_to((project_dir / "runs").resolve(), target_is_directory=True)
    with Project.open(root) as project:
        if any((root / r.run_dir / "best.pt").is_file() for r in project.catalog.runs.list()):
            return root
        if (root / "runs").is_symlink():  # new runs go to the copy, not the project
            (root / "runs").unlink()
            (root / "runs").mkdir()
        from engine.training.config import TrainConfig
        from engine.training.runner import train_run

        for arch in ("customcnn1", "customcnn2"):
            print(f"training {arch} for the Evaluate screenshots...", flush=True)
            train_run(project, TrainConfig(arch=arch, epochs=6, augment="light", seed=1,
                                           early_stopping_patience=None))
    return root


def _until(app, condition, rounds: int) -> None:
    for _ in range(rounds):
        if condition():
            return
        _settle(app, 1)


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
