"""The `facelab` console script: subcommands go to the engine's CLI (no Qt imported);
no subcommand opens the app; `--self-test` checks the installation (gui/selftest.py)."""

from __future__ import annotations

import multiprocessing
import sys


def launch_gui(argv: list[str]) -> int:
    from gui.app import run_app  # imported only when a window is wanted

    return run_app(argv)


def demo_window_args(argv: list[str]) -> list[str] | None:
    """``facelab demo [--rebuild]`` opens the window at once and prepares the demo there,
    as a job with a progress bar, instead of on the terminal before any window shows.
    Any other option (``--no-gui``, ``--help``…) stays with the CLI."""
    if not argv or argv[0] != "demo" or any(arg != "--rebuild" for arg in argv[1:]):
        return None
    from engine.demo import demo_project_dir

    return [str(demo_project_dir())] + (["--rebuild"] if "--rebuild" in argv else [])


def main() -> int:
    multiprocessing.freeze_support()  # must come first in a frozen (PyInstaller) app
    if sys.argv[1:] == ["--self-test"]:
        from gui.selftest import main as self_test

        return self_test()
    window_args = demo_window_args(sys.argv[1:])
    if window_args is not None:
        return launch_gui(window_args)
    from engine.cli import main as cli_main

    return cli_main(sys.argv[1:], launch_gui=launch_gui)


if __name__ == "__main__":
    sys.exit(main())
