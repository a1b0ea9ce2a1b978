"""The Train page's training jobs: one run after another, each with its live curves.

Each run is a ``gpu=True`` job, so the runner trains one at a time, in submission
order (several checked architectures = a queue that fills the scoreboard). The
engine calls each run's :class:`TrainingFeed` on the training thread; ten times a
second, on the UI thread, the queue drains the running feeds into their
:class:`RunCurves` and says so (``ticked``): the page redraws from the curves,
never once per event.

Stop only sets the jobs' cancel flags: the trainer checks its flag before every
batch, and a cancelled run stays resumable from its last completed epoch.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QTimer, Signal

from gui.jobs import JobHandle, JobRunner, JobState
from gui.jobs.training_jobs import TrainingOutcome
from gui.models.runs import STATUS_WORDS
from gui.models.training_curves import RunCurves, RunEnd, TrainingFeed, format_duration

REDRAW_INTERVAL_MS = 100  # ~10 Hz: smooth curves, and a tiny share of the UI thread


class QueuedRun(QObject):
    """One training job and its live curves (UI thread only)."""

    def __init__(self, label: str, job: JobHandle, feed: TrainingFeed, curves: RunCurves,
                 parent: QObject) -> None:
        super().__init__(parent)
        self.label, self.job, self.feed, self.curves = label, job, feed, curves
        self.outcome = "waiting"
        self.test_accuracy: float | None = None

    def drain(self) -> set[str]:
        return self.curves.apply(self.feed.drain())

    @property
    def active(self) -> bool:
        return not self.job.state.finished


class TrainingQueue(QObject):
    """Signals: ``run_started(QueuedRun)``; ``ticked()`` (curves may have grown: redraw);
    ``runs_changed()`` (a run appeared or advanced in the catalog); ``run_ended(QueuedRun)``;
    ``message_posted(text, is_error)`` (how a run ended, in words); ``queue_finished()``."""

    run_started = Signal(object)
    ticked = Signal()
    runs_changed = Signal()
    run_ended = Signal(object)
    message_posted = Signal(str, bool)
    queue_finished = Signal()

    def __init__(self, runner: JobRunner, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._runner = runner
        self.entries: list[QueuedRun] = []  # the last queue: running, waiting and ended
        self._timer = QTimer(self, interval=REDRAW_INTERVAL_MS, timeout=self.tick)

    @property
    def is_running(self) -> bool:
        return any(entry.active for entry in self.entries)

    @property
    def can_stop(self) -> bool:
        return any(entry.active and not entry.job.is_cancel_requested for entry in self.entries)

    def submit(self, fn, label: str, feed: TrainingFeed, curves: RunCurves,
               verb: str = "Train") -> JobHandle:
        """Queue the job ``fn`` (which calls ``feed`` with the engine's events)."""
        job = self._runner.submit(fn, title=f"{verb} {label}", gpu=True)
        entry = QueuedRun(label, job, feed, curves, self)
        job.started.connect(lambda: self._on_started(entry))
        job.succeeded.connect(lambda outcome: self._on_succeeded(entry, outcome))
        job.failed.connect(lambda message, _: self._on_failed(entry, message))
        job.cancelled.connect(lambda: self._on_cancelled(entry))
        job.finished.connect(lambda: self._on_finished(entry))
        # A new queue starts when the last one is over; until then runs join it.
        self.entries = [e for e in self.entries if e.active] + [entry]
        return job

    def stop(self) -> None:
        """Stop the running run within a batch and drop the waiting ones."""
        for entry in self.entries:
            if entry.active:
                entry.job.cancel()

    def entry_of(self, curves: RunCurves | None) -> QueuedRun | None:
        return next((e for e in self.entries if e.curves is curves), None)

    def active_entry_of_run(self, run_id: str) -> QueuedRun | None:
        return next((e for e in self.entries if e.active and e.curves.run_id == run_id), None)

    def summary(self) -> str:
        return " · ".join(f"{n}. {e.label} — {e.outcome}"
                          for n, e in enumerate(self.entries, start=1))

    def shutdown(self) -> None:
        self._timer.stop()

    def tick(self) -> None:
        """Drain the running feeds (UI thread, ~10 Hz)."""
        changed = False
        for entry in self.entries:
            if entry.job.state is JobState.RUNNING:
                changed |= bool(entry.drain() & {"RunStarted", "EpochEnded"})
        if changed:
            self.runs_changed.emit()
        self.ticked.emit()

    # ------------------------------------------------------------- job outcomes
    def _on_started(self, entry: QueuedRun) -> None:
        entry.outcome = "training"
        self._timer.start()
        self.run_started.emit(entry)
        self.tick()

    def _on_succeeded(self, entry: QueuedRun, outcome: TrainingOutcome) -> None:
        test = (f", test accuracy {100 * outcome.test_accuracy:.1f} %"
                if outcome.test_accuracy is not None else "")
        val = (f"validation accuracy {100 * outcome.best_val_acc:.1f} % at the lowest loss"
               if outcome.best_val_acc is not None else "no validation score")
        entry.outcome = f"{STATUS_WORDS.get(outcome.status, outcome.status)}: {val}{test}"
        entry.test_accuracy = outcome.test_accuracy
        self.message_posted.emit(f"{entry.label} {entry.outcome}. {outcome.message}", False)

    def _on_failed(self, entry: QueuedRun, message: str) -> None:
        entry.outcome = "failed"
        self.message_posted.emit(f"{entry.label}: training failed. {message}", True)

    def _on_cancelled(self, entry: QueuedRun) -> None:
        entry.drain()
        if entry.curves.run_id is None:
            entry.outcome = "not started"
            return
        entry.outcome = "cancelled"
        entry.curves.end = entry.curves.end or RunEnd("cancelled", "", None, None)
        saved = entry.curves.epochs_done
        self.message_posted.emit(f"{entry.label}: cancelled. " + (
            f"Epoch {saved} is saved: select the run below and press Resume to go on."
            if saved else "It stopped before its first epoch ended, so nothing was saved."),
            False)

    def _on_finished(self, entry: QueuedRun) -> None:
        entry.drain()  # the events sent after the last tick
        if not self.is_running:
            self._timer.stop()
        self.ticked.emit()
        self.run_ended.emit(entry)
        if not self.is_running:
            scored = [e for e in self.entries if e.test_accuracy is not None]
            if len(scored) > 1:
                best = max(scored, key=lambda e: e.test_accuracy)
                self.message_posted.emit(
                    f"All {len(scored)} runs are done. Best on the test faces: {best.label} "
                    f"({100 * best.test_accuracy:.1f} %). The table below is sorted by test "
                    "accuracy: that is the scoreboard.", False)
            self.queue_finished.emit()


def status_line(curves: RunCurves, label: str, entry: QueuedRun | None) -> str:
    """Where a run is, in one line: waiting, preparing, training (epoch, batch, speed,
    time left), stopping, or how it ended."""
    if entry is not None and entry.active:
        if entry.job.is_cancel_requested:
            return f"{label}: stopping… (the current batch finishes first)"
        if entry.job.state is JobState.QUEUED:
            return f"{label}: waiting for the run before it."
        if curves.run_id is None or curves.last_batch is None:
            progress = entry.job.progress
            detail = (f" ({progress.done:,} / {progress.total:,} faces)"
                      if progress is not None and progress.stage == "cache" and progress.total
                      else "")
            return f"{label}: preparing the faces and the model{detail}…"
        epoch, batch, batches = curves.last_batch
        parts = [f"{label} on {curves.device}", f"epoch {epoch} of {curves.total_epochs}, "
                 f"batch {batch} of {batches}"]
        speed, eta = curves.throughput(), curves.eta_seconds()
        if speed is not None:
            parts.append(f"{speed:,.0f} images/s")
        if eta is not None:
            parts.append(f"about {format_duration(eta)} left")
        return "Training " + " · ".join(parts)
    end = curves.end
    status = STATUS_WORDS.get(end.status, end.status) if end else "training elsewhere"
    text = f"{label}: {status}, {curves.epochs_done} of {curves.total_epochs or '?'} epochs"
    if end is not None and end.best_val_acc is not None:
        text += f", validation accuracy {100 * end.best_val_acc:.1f} % at the lowest loss"
    return text + "."
