"""The one way FaceLab opens PyTorch files: weights_only, never unpickling code.

A model file a classmate sent can carry pickled Python that runs on load; torch's
weights_only loader refuses anything but tensors and plain containers. Callers turn
the refusal into their own message (a checkpoint, a weights file).
"""

from __future__ import annotations

import os
import pickle
from typing import Any

import torch


class PickledCodeRefused(Exception):
    """The file holds Python objects that loading would have to execute."""

    def __init__(self, culprit: str) -> None:
        super().__init__(culprit)
        self.culprit = culprit  # torch's line naming what was refused


def _culprit(error: pickle.UnpicklingError) -> str:
    # torch's message opens with generic advice (including "retry with weights_only=False",
    # exactly what FaceLab must not do); the useful part is the line naming what was refused.
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    named = [line for line in lines if "unsupported" in line.lower()]
    return (named or lines or [type(error).__name__])[-1]


def load_plain_torch_file(path: str | os.PathLike) -> Any:
    """``torch.load`` onto the CPU with weights_only=True.

    Raises PickledCodeRefused for files that need pickle; other read errors
    (RuntimeError, EOFError, ValueError for damaged files) pass through.
    """
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        raise PickledCodeRefused(_culprit(error)) from error
