"""Progress and cancellation shared by all long engine work.

Long work is a plain function that takes a :class:`TaskContext` (Orange3's pattern):
it reports progress through a plain callback and checks a cancel flag between steps.
No Qt here; the GUI wraps a context in a worker, the CLI in a progress bar, tests
pass a bare one.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from enum import StrEnum
from typing import Callable


class Stage(StrEnum):
    """The kinds of long work that report progress, each with the words a person reads.
    A str: a report's `stage` compares equal to its value."""

    IMPORT = "import"
    CROP = "crop"
    ALIGN = "align"
    CACHE = "cache"
    EMBED = "embed"
    TRAIN = "train"
    REPORT = "report"
    MISTAKES = "mistakes"
    SWEEP = "sweep"
    DOWNLOAD = "download"
    DRAW = "draw"

    @property
    def words(self) -> str:
        return _STAGE_WORDS[self]

    @property
    def counts_bytes(self) -> bool:
        """Its done/total are bytes (shown as sizes), not items."""
        return self is Stage.DOWNLOAD


_STAGE_WORDS = {
    Stage.IMPORT: "reading photos", Stage.CROP: "finding faces", Stage.ALIGN: "aligning faces",
    Stage.CACHE: "preparing faces", Stage.EMBED: "computing face features",
    Stage.TRAIN: "training", Stage.REPORT: "writing the report",
    Stage.MISTAKES: "looking for label mistakes", Stage.SWEEP: "searching settings",
    Stage.DOWNLOAD: "downloading", Stage.DRAW: "drawing faces",
}


def stage_words(stage: str) -> str:
    """How a person reads a progress report's stage; an unknown stage reads as itself."""
    return Stage(stage).words if stage in _STAGE_VALUES else stage


def stage_counts_bytes(stage: str) -> bool:
    """Whether a progress report's done/total are bytes; False for an unknown stage."""
    return stage in _STAGE_VALUES and Stage(stage).counts_bytes


_STAGE_VALUES = frozenset(stage.value for stage in Stage)


class Cancelled(Exception):
    """Raised by :meth:`TaskContext.check` when the user asked to stop."""


@dataclass(frozen=True)
class Progress:
    stage: str  # a Stage (a str), e.g. Stage.IMPORT
    done: int
    total: int
    message: str = ""


ProgressCallback = Callable[[Progress], None]


class TaskContext:
    """Carries a progress callback and a cancel flag into long work.

    The flag is a ``threading.Event`` so any thread (a GUI button, a signal handler)
    may set it; the work notices it at its next :meth:`check`.
    """

    def __init__(self, on_progress: ProgressCallback | None = None,
                 cancel_event: threading.Event | None = None) -> None:
        self._on_progress = on_progress
        self._cancel_event = cancel_event or threading.Event()

    @property
    def cancelled(self) -> bool:
        return self._cancel_event.is_set()

    def cancel(self) -> None:
        self._cancel_event.set()

    def check(self) -> None:
        if self._cancel_event.is_set():
            raise Cancelled()

    def report(self, stage: str, done: int, total: int, message: str = "") -> None:
        if self._on_progress is not None:
            self._on_progress(Progress(stage, done, total, message))


def null_context() -> TaskContext:
    """A context for callers that want neither progress nor cancellation."""
    return TaskContext()
