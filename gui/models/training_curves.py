"""Live training curves: what crosses from the training thread, and what the charts draw.

:class:`TrainingFeed` is the only object both threads touch. The engine calls it on
the training thread with each event (frozen dataclasses of plain numbers); it stamps
the time, appends under a lock and returns at once, so the trainer never waits for
the UI. The UI thread drains it on a timer (about 10 Hz) into :class:`RunCurves`:
growable arrays of floats that the charts redraw from, never once per event
(pyqtgraph's scrolling-plot pattern).

No Qt, numpy or torch here: events are told apart by their class name, because
importing ``engine.training`` on the UI thread would load torch.
"""

from __future__ import annotations

import threading
import time
from array import array
from collections import deque
from dataclasses import dataclass
from typing import Any, Iterable

# Batches the status line averages its images/s over (per-batch values are noisy).
THROUGHPUT_WINDOW = 20


class TrainingFeed:
    """A thread-safe inbox of ``(monotonic time, event)`` pairs."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: list[tuple[float, Any]] = []

    def __call__(self, event: Any) -> None:  # the engine's callback: training thread
        stamped = (time.monotonic(), event)
        with self._lock:
            self._pending.append(stamped)

    def drain(self) -> list[tuple[float, Any]]:  # UI thread
        with self._lock:
            pending, self._pending = self._pending, []
        return pending


@dataclass(frozen=True)
class RunEnd:
    status: str          # completed, early_stopped, cancelled, failed, interrupted
    message: str
    best_epoch: int | None
    best_val_acc: float | None


class RunCurves:
    """One run's curves, on the UI thread. ``version`` grows with every change (and
    ``epoch_version`` with the epoch series), so a chart redraws only what is new.
    Accuracies are kept in percent."""

    def __init__(self, run_id: str | None = None, arch: str = "", total_epochs: int = 0) -> None:
        self.run_id = run_id
        self.arch = arch
        self.epoch_version = 0     # grows when an epoch point is added or dropped
        self.device = ""
        self.total_epochs = total_epochs
        self.start_epoch = 0       # epochs done before this fit (a resumed run)
        self.num_train = 0
        self.version = 0
        self.epoch = array("d")
        self.train_loss = array("d")
        self.val_loss = array("d")
        self.train_acc = array("d")
        self.val_acc = array("d")
        self.batch_x = array("d")  # fractional epochs: batch 5 of 10 in epoch 2 is 1.5
        self.batch_loss = array("d")
        self.batch_throughput = array("d")
        self.last_batch: tuple[int, int, int] | None = None  # epoch, batch, batches/epoch
        self.end: RunEnd | None = None
        self._recent_throughput: deque[float] = deque(maxlen=THROUGHPUT_WINDOW)
        self._started_at: float | None = None
        self._last_event_at: float | None = None
        self._batches_done = 0     # in this fit call

    # ------------------------------------------------------------------ input
    @classmethod
    def from_epochs(cls, run_id: str, arch: str, epochs: Iterable[Any],
                    total_epochs: int = 0, end: RunEnd | None = None) -> RunCurves:
        """A stored run's curves (``EpochRecord``s from the catalog): no batch data."""
        curves = cls(run_id, arch, total_epochs)
        for record in epochs:
            curves._add_epoch(record)
        curves.end = end
        curves.version += 1
        return curves

    def apply(self, stamped: Iterable[tuple[float, Any]]) -> set[str]:
        """Take the events a feed drained; returns the names of the kinds seen."""
        kinds: set[str] = set()
        for when, event in stamped:
            kind = type(event).__name__
            handler = getattr(self, f"_on_{kind}", None)
            if handler is not None:
                handler(when, event)
                kinds.add(kind)
        if kinds:
            self.version += 1
        return kinds

    def _on_RunStarted(self, when: float, event: Any) -> None:  # noqa: N802 - event names
        self.run_id = event.run_id
        # An automatic run learns its network here: the engine chose it at the start.
        self.arch = event.config.get("arch", self.arch)
        self.device = event.device
        self.total_epochs = event.epochs
        self.start_epoch = event.start_epoch
        self.num_train = event.num_train
        self._started_at = self._last_event_at = when
        self._batches_done = 0
        # A resumed run's curves were loaded from the catalog: keep its done epochs only.
        while self.epoch and self.epoch[-1] > event.start_epoch:
            self.epoch_version += 1
            for series in (self.epoch, self.train_loss, self.val_loss, self.train_acc,
                           self.val_acc):
                series.pop()

    def _on_BatchEnded(self, when: float, event: Any) -> None:  # noqa: N802
        self.batch_x.append(event.epoch - 1 + event.batch / event.num_batches)
        self.batch_loss.append(event.loss)
        self.batch_throughput.append(event.images_per_sec)
        self._recent_throughput.append(event.images_per_sec)
        self.last_batch = (event.epoch, event.batch, event.num_batches)
        self._batches_done += 1
        self._last_event_at = when

    def _on_EpochEnded(self, when: float, event: Any) -> None:  # noqa: N802
        self._add_epoch(event)
        self._last_event_at = when

    def _on_RunFinished(self, when: float, event: Any) -> None:  # noqa: N802
        self.end = RunEnd(event.status, event.message, event.best_epoch, event.best_val_acc)
        self._last_event_at = when

    def _add_epoch(self, record: Any) -> None:
        self.epoch_version += 1
        self.epoch.append(record.epoch)
        self.train_loss.append(record.train_loss)
        self.val_loss.append(record.val_loss)
        self.train_acc.append(100.0 * record.train_acc)
        self.val_acc.append(100.0 * record.val_acc)

    # ----------------------------------------------------------------- output
    @property
    def has_data(self) -> bool:
        return bool(self.epoch) or bool(self.batch_x)

    @property
    def epochs_done(self) -> int:
        return int(self.epoch[-1]) if self.epoch else self.start_epoch

    def throughput(self) -> float | None:
        """Training images per second, averaged over the last batches."""
        if not self._recent_throughput:
            return None
        return sum(self._recent_throughput) / len(self._recent_throughput)

    def eta_seconds(self, now: float | None = None) -> float | None:
        """Seconds left in this fit, from its pace so far (validation included)."""
        if self.end is not None or self.last_batch is None or self._started_at is None:
            return None
        _, _, per_epoch = self.last_batch
        total = (self.total_epochs - self.start_epoch) * per_epoch
        done = self._batches_done
        elapsed = (self._last_event_at or self._started_at) - self._started_at
        if done <= 0 or elapsed <= 0:
            return None
        since_last = max(0.0, (now if now is not None else time.monotonic())
                         - (self._last_event_at or self._started_at))
        return max(0.0, elapsed / done * max(total - done, 0) - since_last)


def format_duration(seconds: float) -> str:
    """'45 s', '3 min', '1 h 05 min': the precision a student needs for an ETA."""
    if seconds < 60:
        return f"{max(1, round(seconds))} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d} min"
