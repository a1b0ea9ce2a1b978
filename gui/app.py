"""Application start-up: ``run_app(argv)`` is what ``facelab`` and ``facelab demo`` call.

The window must show within two seconds, so nothing here (nor in the modules the
window imports) loads torch or the models: engine modules that need them are
imported inside job functions, on worker threads.
"""

from __future__ import annotations

import logging
import sys
import traceback

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication  # noqa: E402

from gui.jobs import JobRunner, readable_error  # noqa: E402
from gui.main_window import MainWindow  # noqa: E402
from gui.settings import APPLICATION, ORGANISATION, AppSettings  # noqa: E402
from gui.theme import apply_theme  # noqa: E402

log = logging.getLogger(__name__)


def create_application() -> QApplication:
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setOrganizationName(ORGANISATION)
    app.setApplicationName(APPLICATION)
    app.setApplicationDisplayName(APPLICATION)
    return app


def create_main_window(settings: AppSettings | None = None,
                       runner: JobRunner | None = None) -> MainWindow:
    """The window with its runner and the saved theme (tests and scripts use this)."""
    settings = settings or AppSettings()
    apply_theme(QApplication.instance(), settings.dark_theme)
    return MainWindow(settings, runner or JobRunner())


def install_error_hook(window: MainWindow) -> None:
    """An exception nobody caught (a bug in a slot) reaches the user as a message in the
    window, with the traceback behind "Details", instead of a console traceback."""
    def hook(kind, exc, tb) -> None:
        details = "".join(traceback.format_exception(kind, exc, tb))
        log.error("uncaught exception\n%s", details)
        if issubclass(kind, KeyboardInterrupt):
            QApplication.quit()
            return
        window.report_error(f"Something went wrong: {readable_error(exc)}", details)

    sys.excepthook = hook


def run_app(argv: list[str]) -> int:
    """``argv``: empty (the last project, or the welcome page) or ``[PROJECT_DIR]``,
    optionally followed by ``--rebuild`` for the demo folder."""
    app = create_application()
    window = create_main_window()
    install_error_hook(window)
    window.show()
    # Open the project once the window is on screen: it shows at once, then fills.
    QTimer.singleShot(0, lambda: window.start(list(argv)))
    QTimer.singleShot(0, lambda: start_engine_warm_up(window))
    return app.exec()


def start_engine_warm_up(window: MainWindow):
    """Load torch & co. in the background once the window shows (gui/jobs/engine_stack.py)."""
    from gui.jobs.engine_stack import warm_up_engine

    return window.runner.submit(warm_up_engine(), title="Loading the engine", quiet=True)
