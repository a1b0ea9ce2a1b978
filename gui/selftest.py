"""`FaceLab --self-test`: the engine's checks (`engine.selftest`) plus a real window, then
one JSON verdict on stdout; the exit code is 0 only if every check passed."""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time

from engine.selftest import Check, engine_checks, run_checks, verdict

WINDOW_TIMEOUT_S = 10.0


def _choose_platform() -> None:
    """With no display (a server, CI without Xvfb) Qt's default xcb platform aborts the
    process; the offscreen platform still builds and paints the whole window."""
    if sys.platform.startswith("linux") and not os.environ.get("QT_QPA_PLATFORM") and not (
            os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        os.environ["QT_QPA_PLATFORM"] = "offscreen"


def check_window() -> str:
    _choose_platform()
    import pyqtgraph  # noqa: F401 - the charts' library, loaded by pages shown later
    from PySide6.QtCore import QSettings
    from PySide6.QtGui import QGuiApplication
    from PySide6.QtWidgets import QApplication

    from engine.selftest import import_package_modules
    from gui.app import create_application, create_main_window

    gui_modules = import_package_modules("gui")
    app = create_application()
    with tempfile.TemporaryDirectory(prefix="facelab-selftest-") as settings_dir:
        # The window saves its geometry and recent projects on close: not into the user's
        # settings. (Not set back afterwards: the self-test is the process's last act.)
        QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, settings_dir)
        window = create_main_window()
        try:
            window.show()
            deadline = time.monotonic() + WINDOW_TIMEOUT_S
            handle = window.windowHandle()
            while not (handle is not None and handle.isExposed()) and time.monotonic() < deadline:
                app.processEvents()
                time.sleep(0.02)
                handle = window.windowHandle()
            if handle is None or not handle.isExposed():
                raise RuntimeError(f"the main window was not shown within {WINDOW_TIMEOUT_S:.0f} s")
            picture = window.grab()
            if picture.isNull() or picture.width() < 100 or picture.height() < 100:
                raise RuntimeError(f"the main window painted a {picture.width()}x{picture.height()} image")
            return (f"{gui_modules} gui modules imported; main window shown and painted "
                    f"({picture.width()}x{picture.height()}) on Qt's {QGuiApplication.platformName()} platform")
        finally:
            window.close()
            window.deleteLater()
            app.processEvents()
            QApplication.processEvents()


def all_checks() -> list[Check]:
    checks = engine_checks()
    checks.insert(1, ("window", check_window))  # right after the imports: the cheapest GUI failure
    return checks


def main() -> int:
    result = verdict(run_checks(all_checks()))
    print(json.dumps(result.as_dict()), flush=True)
    return 0 if result.ok else 1
