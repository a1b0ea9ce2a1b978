"""Progress and cancellation shared by all long engine work.

Long work is a plain function that takes a :class:`TaskContext` (Orange3's pattern):
it reports progress through a plain callback and checks a cancel flag between steps.
No Qt here; the GUI wraps a context in a worker, the CLI in a progress bar, tests
pass a bare one.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Callable


class Cancelled(Exception):
    """Raised by :meth:`TaskContext.check` when the user asked to stop."""


@dataclass(frozen=True)
class Progress:
    stage: str  # e.g. "import", "crop"
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
