"""Errors raised by the model zoo. Each carries a message a student can act on."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path


class UnknownArchitectureError(ValueError):
    """An architecture name that is not in the registry."""

    def __init__(self, name: str, valid_names: Sequence[str]):
        self.name = name
        self.valid_names = tuple(valid_names)
        super().__init__(
            f"Unknown architecture {name!r}. Valid names: {', '.join(self.valid_names)}."
        )


class WeightsError(Exception):
    """Base class for every problem with a pretrained weights file."""


class WeightsUnavailableError(WeightsError):
    """Pretrained weights were asked for but are not on this machine (FaceLab downloads
    them only when the user asks: `facelab weights download`)."""

    def __init__(
        self,
        message: str,
        *,
        arch: str,
        filename: str | None,
        search_dirs: Sequence[Path] = (),
    ):
        self.arch = arch
        self.filename = filename
        self.search_dirs = tuple(search_dirs)
        super().__init__(message)


class WeightsDownloadError(WeightsUnavailableError):
    """A download the user asked for did not bring the file: offline, refused by the
    server, or interrupted more often than it could resume."""


class WeightsChecksumError(WeightsError, ValueError):
    """A weights file whose content does not match the checksum or structure its name promises."""


class UnsafeWeightsFileError(WeightsError, ValueError):
    """A weights file that can only be opened by running pickled code; FaceLab refuses those."""


class UnrecognizedWeightsFileError(WeightsError, ValueError):
    """A file whose name matches no architecture's pretrained weights."""


class WeightsIncompatibleError(WeightsError, ValueError):
    """A state dict whose keys or tensor shapes do not fit the architecture."""
