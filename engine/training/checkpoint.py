"""Checkpoint files: written atomically, read back safely and strictly.

A checkpoint is a dict of plain data (str, int, float, bool, None, lists, dicts)
and tensors only, so `torch.load(..., weights_only=True)` can read it without
unpickling arbitrary Python objects. Writing goes through `engine.storage.atomic_write`:
a temp file in the same folder, flushed to disk, then renamed over the target (and the
folder synced), so a crash or a full disk leaves either the old file or the new one,
never half of one.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

from engine.safe_load import PickledCodeRefused, load_plain_torch_file
from engine.storage import atomic_write, publish_staged, staged_file, write_error_reason

FORMAT_VERSION = 1
CHECKPOINT_KEYS = frozenset({
    "format_version",
    "config",          # TrainConfig.to_dict()
    "class_names",     # list[str], index = model output
    "arch",
    "model_state",
    "optimizer_state",
    "scheduler_state",  # LrSchedule.state_dict()
    "scaler_state",     # GradScaler.state_dict() (empty when AMP is off)
    "early_stopping_state",
    "epoch",            # epochs completed
    "history",          # one metrics dict per completed epoch
    "best",             # {"epoch", "val_loss", "val_acc"} of the lowest validation loss
    "rng_state",        # generator states, so a resumed run continues exactly
})


class CheckpointError(Exception):
    """Base class for checkpoints FaceLab will not use."""


class UnsafeCheckpointError(CheckpointError):
    """The file can only be opened by running code stored inside it."""


class CheckpointFormatError(CheckpointError):
    """The file is not a checkpoint this version of FaceLab understands."""


class CheckpointWriteError(CheckpointError):
    """The checkpoint could not be written (a full disk...); the previous one is intact."""


def save_checkpoint(path: str | os.PathLike, payload: dict[str, Any]) -> Path:
    """Write `payload` to `path` atomically; returns the path written."""
    _check_keys(payload, Path(path))
    with _explained_write_errors(path):
        return atomic_write(path, lambda file: torch.save(payload, file))


def copy_checkpoint(source: str | os.PathLike, target: str | os.PathLike) -> Path:
    """Make `target` hold the checkpoint `source` holds, atomically.

    A hard link where the file system has them: checkpoints are only ever replaced by
    renaming a new file over the name, never rewritten in place, so once `source` is
    replaced the two names hold different epochs, as two copies would. That saves
    writing the whole file a second time (ResNet-50 with Adam's moments: 280 MB an
    epoch). Elsewhere (FAT/exFAT sticks, some network shares) the bytes are copied.
    """
    with _explained_write_errors(target), staged_file(target, suffix=".tmp") as temp:
        temp.unlink()
        try:
            os.link(source, temp)
        except OSError:
            with open(source, "rb") as source_file, open(temp, "xb") as file:
                shutil.copyfileobj(source_file, file)
        return publish_staged(temp, target)


@contextlib.contextmanager
def _explained_write_errors(path: str | os.PathLike) -> Iterator[None]:
    """A failed write (a full disk...) as one sentence naming the file and the reason."""
    try:
        yield
    except (OSError, RuntimeError) as error:
        # torch.save turns a failed write into a RuntimeError caused by the OSError.
        cause = error if isinstance(error, OSError) else error.__cause__ or error.__context__
        if isinstance(cause, OSError):
            reason = write_error_reason(cause)
        elif "write" in str(error).lower():
            reason = str(error)
        else:
            raise
        raise CheckpointWriteError(
            f"{path}: cannot save the checkpoint: {reason}. The previous checkpoint is "
            "kept; resume the run once the disk can be written again.") from error


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Read a checkpoint onto the CPU, refusing anything unsafe, newer or incomplete."""
    path = Path(path)
    if not zipfile.is_zipfile(path):
        raise CheckpointFormatError(
            f"{path} is not a FaceLab checkpoint: it is not in PyTorch's file format.")
    try:
        payload = load_plain_torch_file(path)
    except PickledCodeRefused as error:
        raise UnsafeCheckpointError(
            f"{path} was refused: it contains Python objects that could run code when "
            f"opened, and FaceLab only opens checkpoints made of plain data and tensors. "
            f"Only use checkpoints that FaceLab wrote. (Detail: {error.culprit})"
        ) from error
    except RuntimeError as error:
        raise CheckpointFormatError(f"{path} is damaged and cannot be read: {error}") from error
    if not isinstance(payload, dict):
        raise CheckpointFormatError(
            f"{path} is not a FaceLab checkpoint: it holds a {type(payload).__name__}, "
            f"not a dict of checkpoint fields.")
    version = payload.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise CheckpointFormatError(f"{path} is not a FaceLab checkpoint: it has no format_version.")
    if version > FORMAT_VERSION:
        raise CheckpointFormatError(
            f"{path} was written by a newer FaceLab (checkpoint format {version}; this "
            f"version reads up to {FORMAT_VERSION}). Update FaceLab to open it.")
    _check_keys(payload, path)
    return payload


def _check_keys(payload: dict[str, Any], path: Path) -> None:
    missing = sorted(CHECKPOINT_KEYS - set(payload))
    unknown = sorted(set(payload) - CHECKPOINT_KEYS)
    problems = []
    if missing:
        problems.append(f"missing {', '.join(missing)}")
    if unknown:
        problems.append(f"unexpected {', '.join(unknown)}")
    if problems:
        raise CheckpointFormatError(
            f"{path} does not have the fields of a checkpoint (format {FORMAT_VERSION}): "
            + "; ".join(problems) + ".")
