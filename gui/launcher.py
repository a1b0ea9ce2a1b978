"""The `facelab` console script: subcommands go to the engine's CLI (no Qt imported);
no subcommand opens the app."""

from __future__ import annotations

import multiprocessing
import sys


def launch_gui(argv: list[str]) -> int:
    from gui.app import run_app  # imported only when a window is wanted

    return run_app(argv)


def main() -> int:
    multiprocessing.freeze_support()  # must come first in a frozen (PyInstaller) app
    from engine.cli import main as cli_main

    return cli_main(sys.argv[1:], launch_gui=launch_gui)


if __name__ == "__main__":
    sys.exit(main())
