"""The main window: assembles the welcome page or an open project's workspace, the
menus, the message banner and the status bar. Page content lives in gui/pages/.

Project lifecycle: one :class:`ProjectSession` per open project; closing a project
cancels and waits for running jobs first, so no job writes to a closed catalog.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QGuiApplication
from PySide6.QtWidgets import (QApplication, QFileDialog, QLabel, QMainWindow, QMessageBox,
                               QStackedWidget, QVBoxLayout, QWidget)

from engine.catalog import CatalogError
from engine.project import CATALOG_NAME, Project
from gui.jobs import JobHandle, JobRunner, JobState
from gui.jobs.project_jobs import build_demo_project
from gui.menus import build_menus
from gui.pages.page_context import PageContext
from gui.pages.welcome import WelcomePage
from gui.project_session import ProjectSession
from gui.screen_fit import fit_to_screen
from gui.settings import AppSettings
from gui.theme import apply_theme
from gui.widgets.job_status import JobStatusWidget
from gui.widgets.message_banner import MessageBanner
from gui.widgets.shortcuts_dialog import ShortcutsDialog
from gui.workspace import ProjectWorkspace

log = logging.getLogger(__name__)
DEFAULT_SIZE = (1280, 820)  # fitted to the screen (gui/screen_fit.py)


class MainWindow(QMainWindow):
    """Signals: ``project_opened(path)``, ``project_closed()``."""

    project_opened = Signal(str)
    project_closed = Signal()

    def __init__(self, settings: AppSettings, runner: JobRunner) -> None:
        super().__init__()
        self.settings = settings
        self.runner = runner
        self.session: ProjectSession | None = None
        self.workspace: ProjectWorkspace | None = None
        self.demo_job: JobHandle | None = None
        self.setWindowTitle("FaceLab")
        self.resize(*DEFAULT_SIZE)
        self._fitted_once = False

        self.banner = MessageBanner()
        self.welcome = WelcomePage()
        self.stack = QStackedWidget()
        self.stack.addWidget(self.welcome)
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.stack, 1)
        self.setCentralWidget(central)
        self.banner.float_over(central)

        self.summary_label = QLabel()
        self.job_status = JobStatusWidget(runner)
        self.statusBar().addWidget(self.summary_label, 1)
        self.statusBar().addPermanentWidget(self.job_status)

        self.actions = build_menus(self)
        self.welcome.new_requested.connect(self.new_project_dialog)
        self.welcome.open_requested.connect(self.open_project_dialog)
        self.welcome.demo_requested.connect(self.open_demo_project)
        self.welcome.recent_chosen.connect(self.open_project)
        runner.job_finished.connect(self._on_job_finished)
        self._summary_timer = QTimer(self, singleShot=True, interval=0,
                                     timeout=self._update_summary)
        self._restore_window()
        self._show_welcome()

    # ------------------------------------------------------------ start-up
    def start(self, argv: list[str]) -> None:
        """Open what the command line names, else the last project, else welcome."""
        if argv:
            target = Path(argv[0]).expanduser()
            rebuild = "--rebuild" in argv[1:]
            if not rebuild and (target / CATALOG_NAME).is_file():
                self.open_project(str(target))
            elif _is_demo_folder(target):
                self.open_demo_project(rebuild=rebuild)
            else:
                self.open_project(str(target))  # says why it is not a project
            return
        last = self.settings.last_project()
        if last and (Path(last) / CATALOG_NAME).is_file():
            self.open_project(last)

    # ------------------------------------------------------- project lifecycle
    def open_project(self, path: str) -> bool:
        try:
            project = Project.open(path)
        except CatalogError as exc:
            self.banner.show_error(str(exc))
            if not (Path(path) / CATALOG_NAME).is_file():
                self.settings.remove_recent_project(path)
                self._show_welcome()
            return False
        return self._install(project)

    def create_project(self, path: str) -> bool:
        try:
            project = Project.create(path)
        except CatalogError as exc:
            self.banner.show_error(str(exc))
            return False
        return self._install(project)

    def close_project(self, forget: bool = True) -> bool:
        """Close the open project (cancelling its jobs). ``forget``: the next start shows
        the welcome page rather than this project."""
        if self.session is None:
            return True
        self._stop_jobs()
        if self.workspace is not None:
            self._save_workspace_state()
            self.workspace.shutdown()
            self.stack.removeWidget(self.workspace)
            self.workspace.deleteLater()
            self.workspace = None
        self.session.close()
        self.session.deleteLater()
        self.session = None
        if forget:
            self.settings.forget_last_project()
        self._show_welcome()
        self.project_closed.emit()
        return True

    def open_demo_project(self, rebuild: bool = False) -> JobHandle | None:
        """Open the demo, importing and cropping its photos first when needed (a job
        with progress: the window stays usable)."""
        if self.demo_job is not None:
            return self.demo_job
        if not rebuild:
            from engine.demo import demo_project_dir
            if (demo_project_dir() / CATALOG_NAME).is_file():
                self.open_project(str(demo_project_dir()))
                return None
        self.close_project(forget=False)
        job = self.runner.submit(build_demo_project(rebuild), title="Preparing the demo project")
        job.succeeded.connect(self._on_demo_ready)
        job.finished.connect(self._on_demo_finished)
        self.demo_job = job
        self.welcome.set_busy("Preparing the demo project: importing the photos and finding "
                              "the faces (progress below). It opens by itself when ready; "
                              "the first time takes a minute or two.")
        return job

    def _on_demo_ready(self, root: str) -> None:
        if self.session is None:  # the user did not open another project meanwhile
            self.open_project(root)

    def _on_demo_finished(self) -> None:
        self.demo_job = None
        self.welcome.set_busy(None)

    def _install(self, project: Project) -> bool:
        self.close_project(forget=False)
        self.session = ProjectSession(project, self)
        self.session.error_occurred.connect(self.banner.show_error)
        self.session.history_changed.connect(self._update_undo_actions)
        self.session.persons_changed.connect(self._summary_timer.start)
        self.session.faces_changed.connect(self._summary_timer.start)
        self.workspace = ProjectWorkspace(PageContext(self.session, self.runner, self.settings))
        self.workspace.restore_state({key: blob for key in self.workspace.page_keys()
                                      if (blob := self.settings.blob(f"page_{key}"))})
        library = self.library_page
        if library is not None:
            library.info_posted.connect(self.banner.show_info)
        evaluate = self.workspace.pages.get("evaluate")
        if evaluate is not None:
            # Its results show in its own banner, beside what they are about; the window's
            # banner showed the same sentence a second time.
            if library is not None:  # "Show in Library" for a run's misclassified faces
                evaluate.library_review_requested.connect(library.show_face_set)
                evaluate.library_review_requested.connect(
                    lambda *_: self.show_page("library"))
        webcam = self.workspace.pages.get("webcam")
        if webcam is not None:  # "no trained run yet": the Webcam page points to Train
            webcam.train_page_requested.connect(lambda: self.show_page("train"))
        self.stack.addWidget(self.workspace)
        self.stack.setCurrentWidget(self.workspace)
        self.settings.add_recent_project(project.root)
        self.setWindowTitle(f"{project.root.name} — FaceLab")
        self._update_project_actions()
        self._update_summary()
        self.project_opened.emit(str(project.root))
        return True

    def _show_welcome(self) -> None:
        self.welcome.set_recent(self.settings.recent_projects())
        self.stack.setCurrentWidget(self.welcome)
        self.setWindowTitle("FaceLab")
        self.summary_label.clear()
        self._update_project_actions()

    def _stop_jobs(self) -> None:
        if not self.runner.is_busy:
            return
        QGuiApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            self.runner.cancel_all()
            self.runner.wait_for_done(60_000)
        finally:
            QGuiApplication.restoreOverrideCursor()

    # ---------------------------------------------------------------- pages
    @property
    def library_page(self):
        from gui.pages.library import LibraryPage

        page = self.workspace.pages.get("library") if self.workspace else None
        return page if isinstance(page, LibraryPage) else None

    def show_page(self, key: str) -> None:
        if self.workspace is not None:
            self.workspace.show_page(key)

    # -------------------------------------------------------------- dialogs
    def new_project_dialog(self):
        """Ask for the new project's folder, which may not exist yet (it is created)."""
        from gui.widgets.new_project_dialog import NewProjectDialog

        dialog = NewProjectDialog(str(_unused_folder(Path.home() / "FaceLab project")), self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.accepted.connect(lambda: self.create_project(dialog.path()))
        dialog.open()
        return dialog

    def open_project_dialog(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open a FaceLab project folder")
        if path:
            self.open_project(path)

    def import_photos_dialog(self) -> None:
        if self.library_page is not None:
            self.show_page("library")
            self.library_page.import_photos_dialog()

    def import_folder_dialog(self) -> None:
        if self.library_page is not None:
            self.show_page("library")
            self.library_page.import_folder_dialog()

    def show_shortcuts(self) -> None:
        dialog = ShortcutsDialog(self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.show()

    def show_about(self) -> None:
        QMessageBox.about(self, "About FaceLab",
                          "<h3>FaceLab</h3><p>A desktop tool for teaching and doing face "
                          "classification with deep learning.</p><p>Import photos, fix the "
                          "labels, train and compare models, study their mistakes.</p>")

    def set_dark_theme(self, dark: bool) -> None:
        self.settings.dark_theme = dark
        apply_theme(QApplication.instance(), dark)  # icons follow via PaletteChange

    # -------------------------------------------------------------- reactions
    def undo(self) -> None:
        if self.session is not None:
            self.session.undo()

    def redo(self) -> None:
        if self.session is not None:
            self.session.redo()

    def report_error(self, text: str, details: str = "") -> None:
        self.banner.show_error(text, details)

    def _on_job_finished(self, job: JobHandle) -> None:
        if job.state is JobState.FAILED and not job.quiet:
            self.banner.show_error(f"{job.title} failed: {job.error_message}",
                                   job.error_details or "")

    def _update_project_actions(self) -> None:
        has_project = self.session is not None
        for name in ("import_photos", "import_folder", "close_project"):
            self.actions[name].setEnabled(has_project)
        for action in self.actions["pages"]:
            action.setEnabled(has_project)
        self._update_undo_actions()

    def _update_undo_actions(self) -> None:
        undo, redo = self.actions["undo"], self.actions["redo"]
        history = self.session.catalog.history(limit=200) if self.session else []
        live = [d for _, d, undone in history if not undone]
        undone = [d for _, d, was_undone in history if was_undone]
        undo.setEnabled(bool(live))
        redo.setEnabled(bool(undone))
        undo.setText(f"Undo {live[0]}" if live else "Undo")
        redo.setText(f"Redo {undone[-1]}" if undone else "Redo")

    def _update_summary(self) -> None:
        if self.session is None:
            return
        stats = self.session.catalog.stats()
        pending = stats["pending_photos"]
        self.summary_label.setText(
            f"{stats['photos']:,} photos · {stats['faces']:,} faces · "
            f"{stats['unlabeled_faces']:,} unlabelled · {len(stats['persons'])} persons"
            + (f" · {pending} photo(s) waiting to be cropped" if pending else ""))

    # ------------------------------------------------------------ persistence
    def _restore_window(self) -> None:
        geometry = self.settings.blob("geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        state = self.settings.blob("state")
        if state is not None:
            self.restoreState(state)
        fit_to_screen(self)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if not self._fitted_once:  # now the window manager's frame is known
            self._fitted_once = True
            fit_to_screen(self)

    def _save_workspace_state(self) -> None:
        if self.workspace is not None:
            for key, blob in self.workspace.save_state().items():
                self.settings.set_blob(f"page_{key}", blob)

    def confirm_quit(self) -> bool:
        """Ask before quitting while work the user started (training, an import...) runs;
        quiet jobs (a thumbnail, a chart) are not worth a question."""
        busy = [job.title for job in self.runner.active_jobs() if not job.quiet]
        if not busy:
            return True
        titles = "\n".join(f"• {title}" for title in busy)
        training = any(title.startswith(("Train", "Resume")) for title in busy)
        after = ("A stopped training run can be resumed later from its last saved epoch "
                 "(Train page, Resume). " if training else "")
        answer = QMessageBox.question(
            self, "Quit FaceLab?",
            f"Still working on:\n{titles}\n\nQuit anyway? This stops it now. {after}"
            "What was already saved is kept.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No)
        return answer == QMessageBox.StandardButton.Yes

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self.confirm_quit():
            event.ignore()
            return
        self.settings.set_blob("geometry", self.saveGeometry())
        self.settings.set_blob("state", self.saveState())
        self._save_workspace_state()
        # The project first, while the runner still takes jobs: pages react to their
        # jobs' ends (a refresh is a new job), and a refused submit inside such a
        # reaction would be an uncaught error. Then nothing is left to react.
        self.close_project(forget=False)
        self.runner.shutdown()
        self.settings.sync()
        event.accept()


def _unused_folder(path: Path) -> Path:
    """``path``, or ``path 2``, ``path 3``… the first that does not exist yet."""
    candidate, number = path, 2
    while candidate.exists() and number < 100:
        candidate = path.with_name(f"{path.name} {number}")
        number += 1
    return candidate


def _is_demo_folder(path: Path) -> bool:
    from engine.demo import demo_project_dir  # numpy + PIL: only when asked about the demo

    try:
        return path.resolve() == demo_project_dir().resolve()
    except OSError:
        return False
