"""`import_weights`: check a weights file the user fetched by hand and install it.

The bytes are first copied (or, for a finished download, moved) next to their
destination, then that copy is hashed and checked, then renamed into place
(`engine.storage.staged_file` and `publish_staged`), so what is verified is exactly
what gets installed and a failed or interrupted import leaves nothing behind.
`install_weights_file` is that one path; `facelab weights download` ends in it too.
Weights published in another format (dlib's `.dat`) are checked by their SHA-256 and
converted into the architecture's state-dict file instead
(`engine.models.weights.install_converted`).
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from pathlib import Path

from engine.models.errors import (
    UnrecognizedWeightsFileError,
    WeightsChecksumError,
    WeightsIncompatibleError,
)
from engine.models.spec import ArchSpec, list_architectures
from engine.models.weights import (
    facelab_weights_dir,
    install_converted,
    load_backbone_state,
    read_state_dict,
    write_licence_note,
)
from engine.storage import publish_staged, sha256_file, staged_file

log = logging.getLogger(__name__)

# torchvision's (and torch.hub's) convention: "<stem>-<first hex digits of sha256>.<ext>".
_SHA256_PREFIX_IN_NAME = re.compile(r"-([0-9a-f]{6,64})\.[A-Za-z0-9]+$")


def expected_sha256_prefix(filename: str) -> str | None:
    match = _SHA256_PREFIX_IN_NAME.search(filename)
    return match.group(1) if match else None


def spec_for_weights_file(filename: str) -> ArchSpec:
    specs = [spec for spec in list_architectures() if spec.weights_filename]
    for spec in specs:
        if filename in (spec.weights_filename, spec.convertible and spec.convertible.filename):
            return spec
    expected = ", ".join(
        f"{spec.weights_filename}{' or ' + spec.convertible.filename if spec.convertible else ''} ({spec.name})"
        for spec in specs
    )
    raise UnrecognizedWeightsFileError(
        f"{filename} is not a weights file FaceLab knows. Expected one of: {expected}. "
        "Keep the file name exactly as downloaded."
    )


def _verify_structure(path: Path, spec: ArchSpec) -> None:
    """For files without a checksum in their name: they must load into the architecture."""
    if spec.builder is None:
        raise WeightsChecksumError(f"{spec.name} has no builder to check {path.name} against.")
    try:
        load_backbone_state(spec.builder(2, None), spec, read_state_dict(path))
    except WeightsIncompatibleError as error:
        raise WeightsChecksumError(
            f"{spec.weights_filename} does not contain {spec.display_name} weights: {error}"
        ) from error


def _verify(staged: Path, spec: ArchSpec, sha256: str) -> None:
    name = spec.weights_filename
    if spec.weights_sha256 is not None and sha256 != spec.weights_sha256.lower():
        raise WeightsChecksumError(
            f"{name} is damaged or not the official file: its SHA-256 is {sha256[:16]}..., "
            f"but the official file's starts {spec.weights_sha256[:16]}. Download it again."
        )
    expected_prefix = expected_sha256_prefix(name)
    if expected_prefix is not None and not sha256.startswith(expected_prefix):
        raise WeightsChecksumError(
            f"{name} is damaged or not the official file: its SHA-256 is {sha256[:16]}..., "
            f"but the name promises one starting with {expected_prefix}. Download it again."
        )
    # Refuses files that would run pickled code, whatever their checksum says.
    read_state_dict(staged)
    if expected_prefix is None and spec.weights_sha256 is None:
        _verify_structure(staged, spec)


def _move_or_copy(source: Path, target: Path) -> None:
    try:
        os.replace(source, target)
    except OSError:  # another file system (or Windows refusing): copy, then drop the source
        shutil.copyfile(source, target)
        source.unlink()


def install_weights_file(source: Path, spec: ArchSpec, *, move: bool = False) -> Path:
    """Verify ``source`` as ``spec``'s weights file and install it in FaceLab's folder.

    ``move`` hands the file over (a finished download): it is gone afterwards, installed
    or, when refused, deleted. Returns the installed path. Raises WeightsChecksumError or
    UnsafeWeightsFileError (nothing is installed then).
    """
    destination = facelab_weights_dir() / spec.weights_filename
    with staged_file(destination) as staged:
        if move:
            _move_or_copy(source, staged)
        else:
            shutil.copyfile(source, staged)
        # Hashing the staged copy, not the source, checks the very bytes installed.
        _verify(staged, spec, sha256_file(staged))
        write_licence_note(spec, destination.parent)  # converted weights travel with their licence
        publish_staged(staged, destination)
    log.info("Installed %s weights for %s at %s", spec.pretrained_dataset or "pretrained", spec.name, destination)
    return destination


def import_weights(file: str | os.PathLike[str]) -> Path:
    """Verify a pretrained weights file and copy it into FaceLab's weights folder.

    Returns the installed path. Raises UnrecognizedWeightsFileError,
    WeightsChecksumError or UnsafeWeightsFileError (nothing is installed then).
    """
    source = Path(file)
    if not source.is_file():
        raise FileNotFoundError(f"No such weights file: {source}")
    spec = spec_for_weights_file(source.name)
    if spec.convertible is not None and source.name == spec.convertible.filename:
        # The conversion hashes the very bytes it then parses; only its result is installed.
        destination = install_converted(spec, source, facelab_weights_dir())
        log.info("Imported %s as %s weights for %s", source.name, spec.pretrained_dataset, spec.name)
        return destination
    return install_weights_file(source, spec)
