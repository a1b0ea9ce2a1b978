"""Screenshots of the app for docs/screenshots/ (and for looking at it without a screen).

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python scripts/screenshots.py [PROJECT]
    .venv/bin/python scripts/screenshots.py --synthetic docs/readme-screenshots

PROJECT defaults to the demo project (built first if needed, from the 5celeb photos).
Those photos may not be redistributed, so docs/screenshots/ is not committed; the
README's screenshots come from --synthetic, which builds a project of drawn faces
(engine/demo_faces.py), trains and evaluates two small models on it (a few
minutes on a CPU) and saves one screenshot per page.
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
WINDOW_SIZE = (1360, 860)


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


def _save(widget, out: Path, name: str, app) -> Path:
    _settle(app)
    path = out / f"{name}.png"
    widget.grab().save(str(path))
    print(path)
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("project", nargs="?", help="project folder (default: the demo)")
    parser.add_argument("--out", default=str(REPO / "docs" / "screenshots"))
    parser.add_argument("--runs-project", help="a project with trained runs for the Evaluate "
                        "page (default: PROJECT; without runs, two small ones are trained on "
                        "a temporary copy, a few minutes on a CPU)")
    parser.add_argument("--only", choices=("webcam",), help="only these screenshots (on a "
                        "copy of --runs-project, or of PROJECT)")
    parser.add_argument("--synthetic", metavar="OUT_DIR", help="the README's screenshots, "
                        "of a project of drawn faces built for them (no PROJECT needed)")
    args = parser.parse_args()
    _ensure_display()

    from PySide6.QtCore import QSettings

    # Never touch the user's own settings (recent projects, theme).
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope,
                      tempfile.mkdtemp(prefix="facelab-shots-"))
    from engine.project import Project

    if args.synthetic:
        return _readme_shots(Path(args.synthetic))
    project_dir = Path(args.project) if args.project else _demo_project()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    app, window = _open_window()
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


def _open_window():
    from gui.app import create_application, create_main_window

    app = create_application()
    window = create_main_window()
    window.resize(*WINDOW_SIZE)
    window.show()
    return app, window


# ------------------------------------------------------------- the README's screenshots
README_PHOTOS_PER_PERSON = 30
README_MISLABELLED_PER_PERSON = 1  # filed under the next person: a mistake to find
README_SHOT_MAX_BYTES = 300_000


def _readme_shots(out: Path) -> int:
    """One screenshot per page, of a project of drawn faces: what README.md shows.

    Library (all faces, a few selected); Train (a queue training live, beside the two
    runs trained before); Evaluate (the misclassified test faces, Grad-CAM on); the
    label-mistake finder; Webcam (live on a video of the project's photos)."""
    work = Path(tempfile.mkdtemp(prefix="facelab-readme-"))
    project_dir, runs = _synthetic_project(work)
    out.mkdir(parents=True, exist_ok=True)
    app, window = _open_window()
    window.open_project(str(project_dir))
    library = window.library_page
    _wait_for_thumbnails(app, library)
    library.grid_view.setFocus()
    library.select_faces(library.grid_model.face_ids()[7:10])
    shots = [_save(window, out, "1-library", app)]

    from gui.pages.evaluate import LABELS_TAB

    # The gallery's first view, every misclassified test face: mostly photos filed
    # under the wrong person, which the model names right.
    page = _show_evaluation(app, window, runs["customcnn1"])
    _show_gradcams(app, page)
    shots.append(_save(window, out, "3-evaluate", app))
    page.show_tab(LABELS_TAB)
    job = page.find_suspicious_labels()
    _until(app, lambda: job.state.finished, 60_000)
    _until(app, lambda: len(page.issue_thumbnails) >= min(8, page.issues_model.rowCount()), 300)
    window.banner.dismiss()  # the page says the same in its own banner
    shots.append(_save(window, out, "4-label-mistakes", app))

    best = max(runs.values(), key=lambda run_id: _accuracy(project_dir, run_id))
    webcam = _start_webcam(app, window, best)
    if webcam is not None:
        shots.append(_save(window, out, "5-webcam", app))
        webcam.stop()
        _until(app, lambda: not webcam.is_live, 3000)

    # Last, as it leaves a cancelled run behind: the lab's two networks queued, the
    # first one's curves drawn live after a few epochs.
    train, jobs = _start_training(app, window, ["customcnn1", "customcnn2"], epochs=12)
    _until(app, lambda: train.charts.point_counts()["train_loss"] >= 5, 60_000)
    shots.append(_save(window, out, "2-train", app))
    train.stop_training()
    _until(app, lambda: all(job.state.finished for job in jobs), 60_000)
    window.close()
    shutil.rmtree(work, ignore_errors=True)
    for path in sorted(shots):
        _shrink_png(path)
    return 0


def _synthetic_project(work: Path) -> tuple[Path, dict[str, str]]:
    """A project of drawn faces (engine/demo_faces.py) imported and cropped as a
    student's photos are (MTCNN finds the faces), with two small runs trained and
    evaluated on a CPU. Returns the project folder and the run id of each architecture."""
    from engine.ingest import crop_pending, import_paths
    from engine.project import Project
    from engine.training.config import TrainConfig
    from engine.training.runner import train_run
    from engine.demo_faces import PERSONS, group_photo, person_photos, write_photo_folders

    print("drawing the synthetic faces...", flush=True)
    labelled = write_photo_folders(work / "photos", README_PHOTOS_PER_PERSON,
                                   mislabelled=README_MISLABELLED_PER_PERSON)
    unsorted = work / "unsorted"  # imported without labels: the Library's to-do list
    unsorted.mkdir()
    for n, people in enumerate(([0, 2, 3], [1, 4], [5, 0])):
        group_photo(people, seed=n)[0].save(unsorted / f"group-{n}.jpg", quality=90)
    for index in range(len(PERSONS)):
        photo, _ = next(person_photos(index, 1, seed=100))
        photo.save(unsorted / f"unsorted-{index}.jpg", quality=90)

    runs: dict[str, str] = {}
    with Project.create(work / "synthetic-faces") as project:
        import_paths(project, [labelled], labels_from_folders=True)
        import_paths(project, [unsorted], labels_from_folders=False)
        report = crop_pending(project)
        print(f"MTCNN found {report.faces} faces; {report.no_face} of {report.photos} "
              "photos had none", flush=True)
        # customcnn1 takes the lab's 224 px; resnet18 from scratch at 112 px keeps the
        # CPU time to minutes.
        for config in (TrainConfig(arch="resnet18", input_size=112, epochs=8, augment="light",
                                   seed=1, early_stopping_patience=None),
                       TrainConfig(arch="customcnn1", epochs=8, augment="light", seed=1,
                                   early_stopping_patience=None)):
            print(f"training {config.arch} for the Evaluate screenshots...", flush=True)
            runs[config.arch] = train_run(project, config).run_id
        root = project.root
    return root, runs


def _accuracy(project_dir: Path, run_id: str) -> float:
    from engine.project import Project

    with Project.open(project_dir, readonly=True) as project:
        stored = project.catalog.runs.evaluation(run_id)
    return float(stored["accuracy"]) if stored else 0.0


def _shrink_png(path: Path) -> None:
    """Re-save a screenshot optimised, as 256 colours when it is still large (the photos
    in it dither a little; the interface stays sharp)."""
    from PIL import Image

    with Image.open(path) as image:
        image = image.convert("RGB")
    image.save(path, optimize=True)
    if path.stat().st_size > README_SHOT_MAX_BYTES:
        image.quantize(256, method=Image.Quantize.MEDIANCUT,
                       dither=Image.Dither.FLOYDSTEINBERG).save(path, optimize=True)
    print(f"{path}: {path.stat().st_size // 1000} KB", flush=True)


# ------------------------------------------------------------------------ the pages
def _evaluate_shots(app, window, project_dir: Path, out: Path) -> None:
    """The Evaluate page: metrics, confusion matrix and mistakes; a confusion cell with
    Grad-CAM; the scoreboard; the suspicious labels; the dark theme. Works on a
    temporary copy (the runs linked, not copied), so the project itself is untouched."""
    from gui.pages.evaluate import LABELS_TAB, RESULTS_TAB, SCOREBOARD_TAB

    root = _evaluation_copy(project_dir)
    window.open_project(str(root))
    page = _show_evaluation(app, window)
    _save(window, out, "20-evaluate-results", app)

    _show_worst_cell_with_gradcam(app, page)
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


def _show_evaluation(app, window, run_id: str | None = None):
    """The Evaluate page of the open project with a run's results (evaluated first if
    they were never stored) and the error gallery's thumbnails loaded."""
    window.show_page("evaluate")
    page = window.workspace.pages["evaluate"]
    if run_id is not None:
        page.select_run(run_id)
    _until(app, lambda: page.results_loaded and (run_id is None or
                                                 page.current_run_id == run_id), 3000)
    if page.report is None and page.current_run_id:
        job = page.evaluate_current()
        _until(app, lambda: job.state.finished, 30_000)
    _until(app, lambda: len(page.thumbnails) >= min(12, page.gallery_model.rowCount()), 500)
    return page


def _show_worst_cell_with_gradcam(app, page) -> None:
    """Click the most confused pair of the confusion matrix (its faces fill the error
    gallery) and turn Grad-CAM on for them."""
    report = page.report
    cells = [(count, r, c) for r, row in enumerate(report.confusion_matrix)
             for c, count in enumerate(row) if r != c and count]
    if cells:
        _, r, c = max(cells)
        page.heatmap.activate_cell(page.confusion_model.index(r, c))
    _show_gradcams(app, page)


def _show_gradcams(app, page) -> None:
    """Grad-CAM on for the faces in the error gallery, the first one selected."""
    page.gallery.gradcam_check.setChecked(True)
    page.gallery.view.setCurrentIndex(page.gallery_model.index(0))
    _until(app, lambda: all(page.gradcams.result(f) or page.gradcams.error(f)
                            for f in page.gallery_model.face_ids()), 6000)


def _webcam_shots(app, window, out: Path) -> None:
    """The Webcam page naming the faces of a video made of the open project's photos (a
    camera stand-in), then with Grad-CAM, then on the dark theme. Needs a trained run
    (the Evaluate shots leave their project open)."""
    page = _start_webcam(app, window)
    if page is None:
        return
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


def _start_webcam(app, window, run_id: str | None = None):
    """The Webcam page live on a video of the open project's photos, once it has
    named a face; None when the project has no trained run."""
    page = window.workspace.pages["webcam"]
    video = _photo_video(window.session.project)
    window.show_page("webcam")
    if run_id is not None:
        page.run_picker.select_run(run_id)
    page.open_video(str(video))
    if page.start() is None:
        print("webcam screenshots skipped: no trained run", flush=True)
        return None
    _until(app, lambda: page.video.painted_captions, 6000)
    return page


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
    page, jobs = _start_training(app, window, ["customcnn1", "customcnn2"], epochs=5)
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


def _start_training(app, window, archs: list[str], epochs: int):
    """The Train page of the open project training ``archs`` from scratch, one after
    the other: the page and the jobs of the queue."""
    window.show_page("train")
    page = window.workspace.pages["train"]
    _until(app, lambda: page.choices is not None and page.charts is not None, 6000)
    page.arch_model.set_checked(archs)
    page.form.set_values({"epochs": epochs, "augment": "light", "pretrained": False})
    return page, page.start_training()


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
