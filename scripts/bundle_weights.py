"""Check pretrained weight files and stage them for the installer (resources/weights).

    python scripts/bundle_weights.py SOURCE_DIR STAGE_DIR [--only resnet50,facenet]

SOURCE_DIR is a folder the lab admin filled with files downloaded by hand (names kept as
downloaded, e.g. resnet50-11ad3fa6.pth). Each file goes through exactly what
`facelab weights import` does (engine.models.weights_import): a known file name, the
SHA-256 its name promises or the full one its architecture knows (or, for files with
neither, a structure check against the architecture), no pickled code. Then it is copied into STAGE_DIR, which the PyInstaller
spec bundles as resources/weights. A file that fails stops the build: an installer must
not ship weights the app would refuse.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.models import list_architectures
from engine.models.errors import WeightsError
from engine.models.weights import WEIGHTS_DIR_ENV
from engine.models.weights_import import import_weights, spec_for_weights_file


def chosen_files(source: Path, only: set[str] | None) -> list[Path]:
    files = sorted(path for path in source.iterdir() if path.is_file() and not path.name.startswith("."))
    if only is None:
        return files
    known = {spec.name for spec in list_architectures() if spec.weights_filename}
    unknown = only - known
    if unknown:
        raise SystemExit(f"--only: no weights for {', '.join(sorted(unknown))} (known: {', '.join(sorted(known))})")
    chosen = [path for path in files if spec_for_weights_file(path.name).name in only]
    missing = only - {spec_for_weights_file(path.name).name for path in chosen}
    if missing:
        raise SystemExit(f"{source} has no weights file for {', '.join(sorted(missing))}")
    return chosen


def stage(source: Path, target: Path, only: set[str] | None = None) -> list[Path]:
    """Verify every chosen file of `source` and copy it into `target` (emptied first)."""
    files = chosen_files(source, only)
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    saved = os.environ.get(WEIGHTS_DIR_ENV)
    os.environ[WEIGHTS_DIR_ENV] = str(target)  # import_weights installs into FaceLab's folder
    try:
        return [import_weights(path) for path in files]
    finally:
        if saved is None:
            os.environ.pop(WEIGHTS_DIR_ENV, None)
        else:
            os.environ[WEIGHTS_DIR_ENV] = saved


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", type=Path, help="folder of downloaded weight files")
    parser.add_argument("target", type=Path, help="staging folder bundled as resources/weights")
    parser.add_argument("--only", help="comma-separated architectures (default: every file in SOURCE)")
    args = parser.parse_args(argv)
    only = {name.strip() for name in args.only.split(",") if name.strip()} if args.only else None
    try:
        staged = stage(args.source, args.target, only)
    except (WeightsError, FileNotFoundError) as error:
        print(f"bundle_weights: {error}", file=sys.stderr)
        return 1
    for path in staged:
        print(f"bundled {path.name} ({path.stat().st_size / 1e6:.1f} MB)")
    if not staged:
        print(f"bundle_weights: no weight files in {args.source}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
