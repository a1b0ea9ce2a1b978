"""Where pretrained weights live on this machine, and loading them into a model.

FaceLab never downloads weights on its own: a file is either already in one of
the folders below (put there by `facelab weights import`, by `facelab weights
download` when the user asks for it, by an earlier torchvision or facenet-pytorch
download, or by the installer) or the user is told exactly which file to fetch and
where it goes. Weights published in another format (dlib's face network,
`ArchSpec.convertible`) are converted once into FaceLab's folder from the upstream
file, found in those folders or in the installed Python package that carries it.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import platformdirs
import torch
from torch import nn

from engine.models.errors import (
    UnsafeWeightsFileError,
    WeightsError,
    WeightsIncompatibleError,
    WeightsUnavailableError,
)
from engine.models.spec import ArchSpec, get_spec, resolved_module_name
from engine.paths import resources_dir
from engine.safe_load import PickledCodeRefused, load_plain_torch_file
from engine.storage import atomic_write_bytes, publish_staged, staged_file

log = logging.getLogger(__name__)

WEIGHTS_DIR_ENV = "FACELAB_WEIGHTS_DIR"
IMPORT_COMMAND = "facelab weights import FILE"
DOWNLOAD_COMMAND = "facelab weights download"


LICENCE_NOTE_SUFFIX = ".LICENSE.txt"
# One conversion at a time in this process; between processes, each writes its own
# temp file and renames it into place, so a reader never sees a half-written file.
_convert_lock = threading.Lock()


def facelab_weights_dir() -> Path:
    """FaceLab's own weights folder, where `import_weights` copies files."""
    override = os.environ.get(WEIGHTS_DIR_ENV)
    if override:
        return Path(override).expanduser()
    return Path(platformdirs.user_data_dir("FaceLab")) / "weights"


def _torch_home() -> Path:
    # facenet-pytorch resolves this itself (TORCH_HOME, else XDG_CACHE_HOME/torch)
    # rather than through torch.hub, so its cache is $TORCH_HOME/checkpoints,
    # one level above torchvision's $TORCH_HOME/hub/checkpoints.
    default = Path(os.environ.get("XDG_CACHE_HOME", "~/.cache")) / "torch"
    return Path(os.environ.get("TORCH_HOME", default)).expanduser()


def bundled_weights_dir() -> Path:
    """Weights shipped with the installer (`scripts/build_installer.sh --weights DIR`)."""
    return resources_dir() / "weights"


def weight_search_dirs() -> list[Path]:
    """Folders searched for weights, first match wins.

    FaceLab's folder, torch hub's checkpoints (torchvision's cache),
    facenet-pytorch's checkpoints cache, then the installer's bundled folder.
    """
    candidates = [
        facelab_weights_dir(),
        Path(torch.hub.get_dir()) / "checkpoints",
        _torch_home() / "checkpoints",
        bundled_weights_dir(),
    ]
    unique: list[Path] = []
    for folder in candidates:
        if folder not in unique:
            unique.append(folder)
    return unique


def licence_note_name(spec: ArchSpec) -> str | None:
    """The file name of the licence note kept beside `spec`'s weights, if it has one."""
    if spec.convertible is None or not spec.weights_filename:
        return None
    return Path(spec.weights_filename).stem + LICENCE_NOTE_SUFFIX


def write_licence_note(spec: ArchSpec, folder: Path) -> Path | None:
    """Put `spec`'s licence note (where it has one) in `folder`, beside its weights."""
    name = licence_note_name(spec)
    if name is None:
        return None
    return atomic_write_bytes(folder / name, spec.convertible.licence_note.encode("utf-8"))


def find_weights_file(spec: ArchSpec) -> Path | None:
    """`spec`'s weights file on this machine, or None.

    For convertible weights (dlib's), an upstream file in the search folders or in
    its installed Python package is converted on first use into FaceLab's folder;
    a damaged upstream file raises a WeightsError saying so.
    """
    if not spec.weights_filename:
        return None
    for folder in weight_search_dirs():
        candidate = folder / spec.weights_filename
        if candidate.is_file():
            return candidate
    upstream = find_upstream_file(spec)
    if upstream is None:
        return None
    with _convert_lock:
        converted = facelab_weights_dir() / spec.weights_filename
        if converted.is_file():  # another thread converted it meanwhile
            return converted
        try:
            return install_converted(spec, upstream, facelab_weights_dir())
        except OSError as error:
            raise WeightsUnavailableError(
                f"{spec.display_name}'s weights ({upstream}) could not be converted into "
                f"{facelab_weights_dir()}: {error}",
                arch=spec.name, filename=spec.weights_filename, search_dirs=weight_search_dirs(),
            ) from error


def find_upstream_file(spec: ArchSpec) -> Path | None:
    """The upstream file `spec`'s weights convert from: in a search folder, else in the
    installed package that carries it; None if neither has it."""
    if spec.convertible is None:
        return None
    for folder in weight_search_dirs():
        candidate = folder / spec.convertible.filename
        if candidate.is_file():
            return candidate
    return spec.convertible.find_installed()


def install_converted(spec: ArchSpec, upstream: Path, folder: Path) -> Path:
    """Convert `upstream` (checked by `spec.convertible.convert`) into `folder`, beside
    its licence note; returns the weights file. Written to a temp file, read back as
    a plain state dict, then renamed into place: nothing half-written is ever visible."""
    assert spec.convertible is not None and spec.weights_filename
    state_dict = spec.convertible.convert(upstream)
    destination = folder / spec.weights_filename
    with staged_file(destination) as staged:
        torch.save(state_dict, staged)
        read_state_dict(staged)  # what is installed loads with weights_only=True
        write_licence_note(spec, folder)
        publish_staged(staged, destination)
    log.info("Converted %s into %s", upstream, destination)
    return destination


@dataclass(frozen=True)
class WeightsStatus:
    arch: str
    available: bool
    path: Path | None
    filename: str | None
    message: str


def _missing_weights_message(spec: ArchSpec) -> str:
    dirs = weight_search_dirs()
    others = ", ".join(str(folder) for folder in dirs[1:])
    if spec.convertible is not None:
        return (
            f"No pretrained weights for {spec.display_name} on this machine: {spec.convertible.how_to_get}, "
            f"or put {spec.convertible.filename} in {dirs[0]} (or one of {others}), "
            f"or run `facelab weights import {spec.convertible.filename}`."
        )
    source = f" (download it from {spec.weights_url} on a machine with internet)" if spec.weights_url else ""
    download = f" (or, with internet, `{DOWNLOAD_COMMAND} {spec.name}`)" if spec.weights_url else ""
    return (
        f"No pretrained weights for {spec.display_name} on this machine: put "
        f"{spec.weights_filename}{source} in {dirs[0]} (or one of {others}), "
        f"or run `{IMPORT_COMMAND}`{download}."
    )


def weights_status(name: str) -> WeightsStatus:
    spec = get_spec(name)
    if not spec.has_pretrained_weights:
        return WeightsStatus(
            arch=name,
            available=False,
            path=None,
            filename=None,
            message=f"{spec.display_name} has no pretrained weights: it always trains from scratch.",
        )
    try:
        path = find_weights_file(spec)
    except WeightsError as error:  # a damaged upstream file: say so, as for a missing one
        return WeightsStatus(arch=name, available=False, path=None, filename=spec.weights_filename,
                             message=str(error))
    if path is None:
        message = _missing_weights_message(spec)
    else:
        message = f"{spec.pretrained_dataset or 'Pretrained'} weights found at {path}."
    return WeightsStatus(
        arch=name, available=path is not None, path=path, filename=spec.weights_filename, message=message
    )


def require_weights_file(spec: ArchSpec) -> Path:
    """The local weights file of `spec`, or WeightsUnavailableError saying how to get it."""
    if not spec.has_pretrained_weights:
        raise WeightsUnavailableError(
            f"{spec.display_name} has no pretrained weights; build it with pretrained=False "
            "to train it from scratch.",
            arch=spec.name,
            filename=None,
        )
    path = find_weights_file(spec)
    if path is None:
        raise WeightsUnavailableError(
            _missing_weights_message(spec),
            arch=spec.name,
            filename=spec.weights_filename,
            search_dirs=weight_search_dirs(),
        )
    return path


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """Load a state dict without ever running code stored in the file."""
    try:
        loaded = load_plain_torch_file(path)
    except PickledCodeRefused as error:
        raise UnsafeWeightsFileError(
            f"{path.name} was refused: it is not a plain weights file. Either it is damaged or "
            f"opening it would run code stored inside it ({error.culprit}). "
            "Use the official file, downloaded again."
        ) from error
    except (RuntimeError, EOFError, ValueError) as error:
        detail = str(error) or type(error).__name__
        raise WeightsIncompatibleError(f"{path.name} could not be read as a weights file: {detail}") from error
    if not isinstance(loaded, Mapping) or not all(
        isinstance(key, str) and isinstance(value, torch.Tensor) for key, value in loaded.items()
    ):
        raise WeightsIncompatibleError(f"{path.name} is not a state dict (a mapping of names to tensors).")
    return dict(loaded)


def load_backbone_state(model: nn.Module, spec: ArchSpec, state_dict: Mapping[str, torch.Tensor]) -> None:
    """Load everything but the classification head; the head stays freshly initialised.

    Fails loudly on any key or shape that does not fit, so a wrong file never
    half-loads into a model that then trains on random layers.
    """
    if spec.adapt_state_dict is not None:
        state_dict = spec.adapt_state_dict(state_dict)
    head_prefix = resolved_module_name(model, spec.head_path) + "."
    # A fresh dict carries no `_metadata`, so modules take their legacy-format
    # path: BatchNorm fills in `num_batches_tracked` that old files lack, and
    # ViT's MLP renames `linear_1/2` keys of older torchvision files.
    backbone_state = {key: value for key, value in state_dict.items() if not key.startswith(head_prefix)}
    try:
        result = model.load_state_dict(backbone_state, strict=False)
    except RuntimeError as error:  # shape mismatches
        raise WeightsIncompatibleError(f"Weights do not fit {spec.display_name}: {error}") from error
    missing = [key for key in result.missing_keys if not key.startswith(head_prefix)]
    if missing or result.unexpected_keys:
        raise WeightsIncompatibleError(
            f"Weights do not fit {spec.display_name}: missing {missing[:5]}"
            f"{'...' if len(missing) > 5 else ''}, unexpected {list(result.unexpected_keys)[:5]}"
            f"{'...' if len(result.unexpected_keys) > 5 else ''}."
        )

