"""The `facelab` command line: every engine step, headless.

The console script lives in ``gui.launcher`` and passes the GUI in as a callback, so
``facelab`` with no subcommand opens the app while the engine never imports Qt.
Subcommands print; the engine itself only logs.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import signal
import sys
import time
from contextlib import contextmanager
from typing import Callable, Iterator, Sequence

from engine.catalog import CatalogError
from engine.tasks import Progress, TaskContext

log = logging.getLogger("facelab")

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_CANCELLED = 0, 1, 2, 130

# Each module adds its subcommands with register(subparsers); heavy imports stay inside
# the command functions so `facelab --help` is instant.
COMMAND_MODULES = ("engine.cli_training", "engine.cli_models", "engine.cli_webcam", "engine.cli_analysis",
                   "engine.cli_report")


# Stages that count something other than photos; tqdm scales bytes to kB, MB, GB.
STAGE_UNITS = {"download": {"unit": "B", "unit_scale": True, "unit_divisor": 1000}}
REDRAW_INTERVAL_S = 0.1


class ProgressBars:
    """tqdm bars per stage on a terminal; silent when stderr is not a TTY."""

    def __init__(self) -> None:
        self._bars: dict[str, object] = {}
        self._drawn: dict[str, float] = {}

    def __call__(self, progress: Progress) -> None:
        from tqdm import tqdm

        bar = self._bars.get(progress.stage)
        if bar is None:
            # disable=None: tqdm turns itself off when stderr is not a terminal.
            units = STAGE_UNITS.get(progress.stage, {"unit": "photo"})
            # initial: a resumed download starts where it stopped, and its rate counts
            # only what this run fetched.
            bar = self._bars[progress.stage] = tqdm(desc=progress.stage, disable=None,
                                                    leave=True, total=progress.total or None,
                                                    initial=progress.done, **units)
        if progress.total and bar.total != progress.total:
            bar.total = progress.total
        bar.n = progress.done
        # A download reports every 64 kB: redraw a few times a second, not thousands.
        now = time.monotonic()
        if now - self._drawn.get(progress.stage, float("-inf")) >= REDRAW_INTERVAL_S \
                or progress.done == progress.total:
            self._drawn[progress.stage] = now
            bar.refresh()

    def close(self) -> None:
        for bar in self._bars.values():
            bar.close()
        self._bars.clear()


@contextmanager
def cli_task(stopping: str = "stopping after the current photo") -> Iterator[TaskContext]:
    """A task context with terminal progress, cancelled cleanly by Ctrl+C (which prints
    ``stopping``)."""
    bars = ProgressBars()
    ctx = TaskContext(on_progress=bars)
    previous = signal.getsignal(signal.SIGINT)

    def on_interrupt(signum, frame):
        if ctx.cancelled:  # a second Ctrl+C: stop now
            signal.signal(signal.SIGINT, previous)
            raise KeyboardInterrupt
        print(f"\n{stopping} (Ctrl+C again to force)...", file=sys.stderr)
        ctx.cancel()

    try:
        signal.signal(signal.SIGINT, on_interrupt)
    except ValueError:  # not the main thread (tests): no signal handling
        previous = None
    try:
        yield ctx
    finally:
        bars.close()
        if previous is not None:
            signal.signal(signal.SIGINT, previous)


def open_project(path: str, readonly: bool = False):
    """Open a project to change it, or with ``readonly`` only to read it.

    A reading command still opens for writing when it can, so a catalog from an older
    FaceLab is upgraded first; when the project is open in the app (locked) or on a
    read-only disk, it reads it as it is.
    """
    from engine.project import Project, ProjectError

    if readonly:
        try:
            return Project.open(path)
        except ProjectError:
            pass
    return Project.open(path, readonly=readonly)


def print_skipped(skipped: dict[str, str]) -> None:
    for path, reason in skipped.items():
        print(f"skipped: {path}: {reason}", file=sys.stderr)


# ----------------------------------------------------------------- subcommands
def cmd_new(args) -> int:
    from engine.project import Project

    with Project.create(args.dir) as project:
        print(f"created FaceLab project at {project.root}")
    return EXIT_OK


def cmd_import(args) -> int:
    from engine.ingest import import_paths

    with open_project(args.dir) as project, cli_task() as ctx:
        report = import_paths(project, args.paths, labels_from_folders=args.labels_from_folders,
                              ctx=ctx)
        print_skipped(report.skipped)
        print(f"imported {report.added} new photo(s); {report.already_imported} already in the "
              f"project, {report.duplicates} duplicate(s), {report.relocated} relocated, "
              f"{len(report.skipped)} skipped")
        if report.cancelled:
            print("import cancelled: run the same command again to continue", file=sys.stderr)
            return EXIT_CANCELLED
        if args.crop:
            return _crop(project, args, ctx)
        if report.added:
            print(f"next: facelab crop {args.dir}")
    return EXIT_OK


def cmd_crop(args) -> int:
    with open_project(args.dir) as project, cli_task() as ctx:
        return _crop(project, args, ctx)


def _crop(project, args, ctx: TaskContext) -> int:
    from engine.ingest import CropSettings, crop_pending

    settings = CropSettings(margin=args.margin, crop_size=args.size, detector=args.detector)
    report = crop_pending(project, settings, ctx=ctx, workers=args.workers)
    if report.notice:
        print(f"note: {report.notice}", file=sys.stderr)
    print_skipped(report.errors)
    print(f"cropped {report.photos} photo(s): {report.faces} face(s), "
          f"{report.no_face} without a face (kept whole), {len(report.errors)} unreadable")
    if report.cancelled:
        print("crop cancelled: run `facelab crop` again to resume", file=sys.stderr)
        return EXIT_CANCELLED
    return EXIT_OK


def cmd_stats(args) -> int:
    with open_project(args.dir, readonly=True) as project:
        stats = project.catalog.stats()
    if args.json:
        print(json.dumps(stats, ensure_ascii=False, sort_keys=True))
        return EXIT_OK
    print(f"{stats['photos']} photos, {stats['faces']} faces "
          f"({stats['labeled_faces']} labelled, {stats['unlabeled_faces']} unlabelled), "
          f"{stats['no_face_photos']} photo(s) without a face, "
          f"{stats['pending_photos']} waiting to be cropped")
    # Aligned framing (engine/ingest/align.py): faces without landmarks are centred crops.
    print(f"{stats['aligned_faces']} face(s) with landmarks to align, "
          f"{stats['unaligned_faces']} framed by a centred crop instead (no landmarks: "
          "whole-image samples, Haar faces)")
    for name, count in stats["persons"].items():
        print(f"  {name}: {count}")
    # Part of the statistics (stdout), unlike an import's warnings as they happen.
    if stats["skipped"]:
        print(f"{len(stats['skipped'])} file(s) skipped:")
    for path, reason in stats["skipped"].items():
        print(f"  {path}: {reason}")
    return EXIT_OK


def cmd_demo(args) -> int:
    from engine.demo import DemoUnavailable, build_demo_project

    try:
        with cli_task() as ctx:
            project = build_demo_project(ctx=ctx, rebuild=args.rebuild)
    except DemoUnavailable as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_ERROR
    root = project.root
    project.close()
    if args.no_gui or args.launch_gui is None:
        return cmd_stats(argparse.Namespace(dir=str(root), json=False))
    return args.launch_gui([str(root)])


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="facelab", description="FaceLab: face classification with deep learning. "
        "With no command, opens the app.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log more detail")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("new", help="create an empty project folder")
    p.add_argument("dir")
    p.set_defaults(func=cmd_new)

    p = sub.add_parser("import", help="add photos (folders are searched recursively)")
    p.add_argument("dir", help="the project folder")
    p.add_argument("paths", nargs="+", metavar="PATH", help="photo files or folders")
    p.add_argument("--labels-from-folders", action="store_true",
                   help="name each photo's person after its folder (root/PERSON/photo.jpg)")
    p.add_argument("--crop", action="store_true", help="find and crop faces right away")
    _add_crop_options(p)
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("crop", help="find and crop the faces of photos not cropped yet")
    p.add_argument("dir")
    _add_crop_options(p)
    p.set_defaults(func=cmd_crop)

    p = sub.add_parser("stats", help="counts of photos, faces, labels and skipped files")
    p.add_argument("dir")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_stats)

    p = sub.add_parser("demo", help="build the demo project (5 celebrities) and open it")
    p.add_argument("--rebuild", action="store_true", help="start the demo project afresh")
    p.add_argument("--no-gui", action="store_true", help="print its stats instead")
    p.set_defaults(func=cmd_demo)

    for module in COMMAND_MODULES:
        importlib.import_module(module).register(sub)
    return parser


def _add_crop_options(p: argparse.ArgumentParser) -> None:
    from engine.ingest.crop import CropSettings

    defaults = CropSettings()
    p.add_argument("--margin", type=float, default=defaults.margin,
                   help=f"context around each face, as a fraction of its size "
                        f"(default {defaults.margin})")
    p.add_argument("--size", type=int, default=defaults.crop_size,
                   help=f"crop size in pixels (default {defaults.crop_size})")
    p.add_argument("--detector", choices=("auto", "mtcnn", "haar"), default="auto")
    p.add_argument("--workers", type=int, default=None,
                   help="worker processes (default: one per core)")


def user_errors() -> tuple[type[BaseException], ...]:
    """Errors whose message is written for the user (wrong input, missing file...)."""
    from engine.export import ExportError
    from engine.models.errors import WeightsError
    from engine.training.checkpoint import CheckpointError

    # ValueError: config validation and unknown names, each message naming the problem.
    return (CatalogError, WeightsError, CheckpointError, ExportError, ValueError,
            FileNotFoundError)


def _configure_logging(verbose: bool) -> None:
    """Log to stderr, like logging.basicConfig (and, like it, not when the host already
    configured logging). Without -v, an error the CLI reports itself in one line (a
    full disk, a damaged file) is not logged again with the engine's traceback."""
    root = logging.getLogger()
    if root.handlers:
        return
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    if not verbose:
        handler.addFilter(_not_reported_by_the_cli)
    root.addHandler(handler)
    root.setLevel(logging.INFO if verbose else logging.ERROR)


def _not_reported_by_the_cli(record: logging.LogRecord) -> bool:
    error = record.exc_info[1] if record.exc_info else None
    return error is None or not isinstance(error, user_errors())


def main(argv: Sequence[str] | None = None,
         launch_gui: Callable[[list[str]], int] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _configure_logging(args.verbose)
    args.launch_gui = launch_gui
    if args.command is None:
        if launch_gui is None:
            parser.print_help()
            return EXIT_USAGE
        return launch_gui([])
    try:
        return args.func(args)
    except user_errors() as exc:  # already worded for the user: one line, no traceback
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_CANCELLED


if __name__ == "__main__":
    sys.exit(main())
