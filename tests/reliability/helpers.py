"""Small helpers shared by the reliability tests."""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Iterator
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def report(capsys, line: str) -> None:
    """Print a test's figure; shown under `pytest -q` too (capture is lifted for it)."""
    with capsys.disabled():
        print(f"\n[figure] {line}")


def run_cli(argv: list) -> tuple[int, list[str], str]:
    """`facelab ARGV` in this process: (exit code, stderr lines, stdout)."""
    from engine.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in argv])
    return code, err.getvalue().splitlines(), out.getvalue()


@contextlib.contextmanager
def main_window(qtbot, settings_dir: Path) -> Iterator:
    """FaceLab's main window, shown offscreen with its own settings; jobs stopped after."""
    from PySide6.QtCore import QSettings

    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(settings_dir))
    from gui.app import create_main_window
    from gui.jobs import JobRunner

    runner = JobRunner()
    window = create_main_window(runner=runner)
    qtbot.addWidget(window)
    window.show()
    try:
        yield window
    finally:
        window.close()
        assert runner.shutdown(30_000), "a job did not stop"
