"""The one job runner: every long piece of work leaves the UI thread through here.

A job is a plain function ``fn(ctx: TaskContext) -> result`` (Orange3's pattern), so
the work itself is testable without Qt. The runner wraps it in a QRunnable whose
signals live on a separate QObject (napari's pattern) and turns its end into exactly
one of ``succeeded(result)`` / ``failed(message, details)`` / ``cancelled()`` on a
:class:`JobHandle` that lives on the UI thread.

Rules the runner keeps for its callers:
- only plain data crosses threads: :class:`engine.tasks.Progress`, the job's return
  value (keep it plain: ids, numbers, frozen dataclasses, QImage) and strings;
- cancelling only sets the context's flag; the job notices it at its next
  ``ctx.check()``; a job that returns normally after a late cancel still succeeds;
- ``gpu=True`` jobs (training, inference) run one at a time, in submission order;
- ``shutdown()`` cancels everything and waits, so no thread outlives the app.
"""

from __future__ import annotations

import enum
import itertools
import logging
import os
import sys
import threading
import time
import traceback
from collections import deque
from typing import Any, Callable

from PySide6.QtCore import QCoreApplication, QObject, QRunnable, QThreadPool, Signal, Slot

from engine.tasks import Cancelled, Progress, TaskContext

log = logging.getLogger(__name__)

JobFunction = Callable[[TaskContext], Any]

PROGRESS_INTERVAL_S = 0.1  # about 10 updates a second: smooth, and cheap for the UI thread

# Built-in errors that mean a bug rather than a problem the user can act on; their
# message alone ("'NoneType' object ...") would read as nonsense, so the type is named.
_PROGRAMMING_ERRORS = (AttributeError, AssertionError, IndexError, KeyError, NameError,
                       TypeError, ZeroDivisionError, RecursionError)


# Niceness of the threads that run jobs (and of the threads they start, which inherit
# it): on a 2-core lab machine an import's two crop threads kept the window's thread
# off the CPU for up to 80 ms at a time; a lower priority lets it in at once.
JOB_THREAD_NICENESS = 10


def lower_this_threads_priority() -> None:
    """Make the calling thread (and threads it starts later) yield the CPU to the UI.

    Linux only: there each thread has its own niceness (setpriority on its thread id).
    Unprivileged processes cannot raise it back, which is fine: job threads only ever
    run jobs. Elsewhere nothing changes."""
    if not sys.platform.startswith("linux"):
        return
    thread_id = threading.get_native_id()
    try:
        current = os.getpriority(os.PRIO_PROCESS, thread_id)
        if current < JOB_THREAD_NICENESS:
            os.setpriority(os.PRIO_PROCESS, thread_id, JOB_THREAD_NICENESS)
    except OSError as error:  # e.g. a sandbox that forbids it: only slower to respond
        log.debug("could not lower the job thread's priority: %s", error)


class JobState(enum.Enum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self in (JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED)


def is_unexpected(exc: BaseException) -> bool:
    """A bug (or an error without words), as opposed to a failure the engine explains."""
    return isinstance(exc, _PROGRAMMING_ERRORS) or not str(exc).strip()


def readable_error(exc: BaseException) -> str:
    text = str(exc).strip()
    if is_unexpected(exc):
        return f"Unexpected error ({type(exc).__name__}{': ' + text if text else ''})"
    return text


class _ProgressThrottle:
    """Forwards at most one progress report per interval (plus every stage change),
    so a job reporting per photo does not flood the UI thread's event queue.

    A report that comes too soon is held, not dropped: if no newer one follows (a
    download whose connection stalls), it goes out when the interval ends, so the
    window never shows an older count than the job has reached."""

    def __init__(self, emit: Callable[[Progress], None],
                 interval: float = PROGRESS_INTERVAL_S) -> None:
        self._emit = emit
        self._interval = interval
        self._last_time = float("-inf")
        self._last_stage: str | None = None
        self._held: Progress | None = None
        self._timer: threading.Timer | None = None
        # Reports come from the job's thread, held ones from the timer's: one at a time,
        # so they reach the window in order.
        self._lock = threading.Lock()

    def __call__(self, progress: Progress) -> None:
        with self._lock:
            now = time.monotonic()
            if progress.stage != self._last_stage or now - self._last_time >= self._interval:
                self._last_time, self._last_stage = now, progress.stage
                self._held = None
                self._emit(progress)
                return
            self._held = progress
            if self._timer is None:
                self._timer = threading.Timer(self._interval - (now - self._last_time),
                                              self._send_held)
                self._timer.daemon = True
                self._timer.start()

    def _send_held(self) -> None:
        with self._lock:
            held, self._held, self._timer = self._held, None, None
            if held is not None:
                self._last_time = time.monotonic()
                self._emit(held)

    def close(self) -> None:
        """The job ended: its outcome follows, so a held report is not needed any more."""
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
            self._held, self._timer = None, None


class _WorkerSignals(QObject):
    """Emitted from the worker thread; queued to the handle on the UI thread."""
    started = Signal()
    progressed = Signal(object)
    returned = Signal(object)
    raised = Signal(str, str)
    stopped = Signal()


class _Worker(QRunnable):
    """Runs one job on a pool thread. Refers to nothing of the handle but its cancel
    flag and its signals, and Qt deletes it after ``run()`` (auto-delete)."""

    def __init__(self, fn: JobFunction, cancel_event: threading.Event,
                 signals: _WorkerSignals) -> None:
        super().__init__()
        self._fn = fn
        self._cancel_event = cancel_event
        self._signals = signals

    def run(self) -> None:
        lower_this_threads_priority()
        signals = self._signals
        # Built here, on the worker thread: emitting from it is what queues the signal.
        throttle = _ProgressThrottle(signals.progressed.emit)
        ctx = TaskContext(on_progress=throttle, cancel_event=self._cancel_event)
        if ctx.cancelled:  # cancelled while it was handed to a thread
            signals.stopped.emit()
            return
        signals.started.emit()
        try:
            try:
                result = self._fn(ctx)
            finally:
                throttle.close()
        except Cancelled:
            signals.stopped.emit()
        except BaseException as exc:  # noqa: BLE001 - every end must reach the UI as one outcome
            message = readable_error(exc)
            if is_unexpected(exc):
                log.exception("job failed")
            else:  # a sentence for the user (full disk, bad file...): no traceback on the console
                log.warning("job failed: %s", message)
            signals.raised.emit(message, traceback.format_exc())
        else:
            signals.returned.emit(result)


class JobHandle(QObject):
    """One submitted job, seen from the UI thread.

    Signals (all on the UI thread): ``started``, ``progress_changed(Progress)``, then
    exactly one of ``succeeded(result)``, ``failed(message, details)``, ``cancelled``,
    and after it always ``finished``.
    """

    started = Signal()
    progress_changed = Signal(object)
    succeeded = Signal(object)
    failed = Signal(str, str)
    cancelled = Signal()
    finished = Signal()

    def __init__(self, job_id: int, title: str, fn: JobFunction, *, gpu: bool, quiet: bool,
                 runner: "JobRunner") -> None:
        # No Qt parent: the runner holds the handle until its outcome, then whoever
        # still references it does (a finished job's result is freed with its handle).
        super().__init__()
        self.id = job_id
        self.title = title
        self.gpu = gpu
        self.quiet = quiet
        self.state = JobState.QUEUED
        self.progress: Progress | None = None
        self.result: Any = None
        self.error_message: str | None = None
        self.error_details: str | None = None
        self._runner = runner
        self._fn: JobFunction | None = fn
        self._cancel_event = threading.Event()
        self._signals = _WorkerSignals()
        self._signals.setParent(self)
        self._signals.started.connect(self._on_started)
        self._signals.progressed.connect(self._on_progressed)
        self._signals.returned.connect(self._on_returned)
        self._signals.raised.connect(self._on_raised)
        self._signals.stopped.connect(self._on_stopped)

    def __repr__(self) -> str:
        return f"<JobHandle {self.id} {self.title!r} {self.state.value}>"

    @property
    def is_cancel_requested(self) -> bool:
        return self._cancel_event.is_set()

    def cancel(self) -> None:
        self._runner.cancel(self)

    def _make_worker(self) -> _Worker:
        fn, self._fn = self._fn, None  # the handle keeps no job state once it runs
        assert fn is not None, "a job is started once"
        return _Worker(fn, self._cancel_event, self._signals)

    # The slots below run on the UI thread (queued from the worker).
    @Slot()
    def _on_started(self) -> None:
        if self.state is JobState.QUEUED:
            self.state = JobState.RUNNING
            self.started.emit()
            self._runner.job_started.emit(self)

    @Slot(object)
    def _on_progressed(self, progress: Progress) -> None:
        if not self.state.finished:
            self.progress = progress
            self.progress_changed.emit(progress)

    @Slot(object)
    def _on_returned(self, result: Any) -> None:
        self.result = result
        self._finish(JobState.SUCCEEDED)

    @Slot(str, str)
    def _on_raised(self, message: str, details: str) -> None:
        self.error_message, self.error_details = message, details
        self._finish(JobState.FAILED)

    @Slot()
    def _on_stopped(self) -> None:
        self._finish(JobState.CANCELLED)

    def _finish(self, state: JobState) -> None:
        if self.state.finished:  # exactly one outcome, whatever arrives late
            return
        self.state = state
        self._fn = None
        if state is JobState.SUCCEEDED:
            self.succeeded.emit(self.result)
        elif state is JobState.FAILED:
            self.failed.emit(self.error_message or "", self.error_details or "")
        else:
            self.cancelled.emit()
        self.finished.emit()
        self._runner._job_ended(self)


class JobRunner(QObject):
    """Owns the worker threads. Signals: ``job_submitted(JobHandle)``,
    ``job_started(JobHandle)``, ``job_finished(JobHandle)`` (after its outcome) and
    ``active_jobs_changed()`` whenever the set of unfinished jobs changes."""

    job_submitted = Signal(object)
    job_started = Signal(object)
    job_finished = Signal(object)
    active_jobs_changed = Signal()

    def __init__(self, max_threads: int = 4, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(max_threads)
        # Threads never expire: each thread that touched a project holds its own SQLite
        # connection (engine Database), and a bounded set of threads bounds those.
        self._pool.setExpiryTimeout(-1)
        self._max_threads = max_threads
        self._ids = itertools.count(1)
        self._active: list[JobHandle] = []    # unfinished, in submission order
        self._waiting: deque[JobHandle] = deque()  # not handed to a thread yet
        self._running: list[JobHandle] = []   # handed to a thread
        self._shut_down = False

    # ------------------------------------------------------------------ public
    def submit(self, fn: JobFunction, *, title: str, gpu: bool = False,
               quiet: bool = False) -> JobHandle:
        """Run ``fn(ctx)`` on a worker thread. ``quiet`` jobs (e.g. decoding a photo for
        a viewer) do not show in the status bar. Connect to the handle's signals right
        away: none fires before control returns to the event loop."""
        handle = JobHandle(next(self._ids), title, fn, gpu=gpu, quiet=quiet, runner=self)
        if self._shut_down:
            # The app is quitting: a page reacting to its last job's end (a refresh) gets
            # a job that never runs, not an exception in the middle of the quit.
            log.debug("not started, the runner is shut down: %s", title)
            handle.state = JobState.CANCELLED
            handle._fn = None
            return handle
        self._active.append(handle)
        self._waiting.append(handle)
        self.job_submitted.emit(handle)
        self.active_jobs_changed.emit()
        self._dispatch()
        return handle

    def cancel(self, handle: JobHandle) -> None:
        if handle.state.finished:
            return
        handle._cancel_event.set()
        if handle in self._waiting:  # never started: it ends here
            self._waiting.remove(handle)
            handle._finish(JobState.CANCELLED)

    def cancel_all(self) -> None:
        for handle in list(self._active):
            self.cancel(handle)

    def active_jobs(self) -> list[JobHandle]:
        """Unfinished jobs (waiting or running), oldest first."""
        return list(self._active)

    @property
    def is_busy(self) -> bool:
        return bool(self._active)

    def wait_for_done(self, timeout_ms: int = -1) -> bool:
        """Block until every started worker has returned, then deliver their outcomes.
        Returns False on timeout. Meant for quitting and closing a project."""
        done = self._pool.waitForDone(timeout_ms)
        # The workers' last signals are queued events: deliver them now, so every
        # handle has its one outcome before the caller goes on.
        QCoreApplication.sendPostedEvents(None, 0)
        return done

    def shutdown(self, timeout_ms: int = 30_000) -> bool:
        """Cancel every job and wait for the threads (on quit). A job submitted after
        this never runs: its handle is cancelled from the start."""
        self._shut_down = True
        self.cancel_all()
        return self.wait_for_done(timeout_ms)

    # ---------------------------------------------------------------- internal
    def _dispatch(self) -> None:
        """Hand waiting jobs to free threads, in order; a GPU job waits while another
        GPU job runs (one model on the device at a time), without holding back the
        CPU jobs behind it."""
        gpu_busy = any(h.gpu for h in self._running)
        for handle in list(self._waiting):
            if len(self._running) >= self._max_threads:
                break
            if handle.gpu and gpu_busy:
                continue
            self._waiting.remove(handle)
            self._running.append(handle)
            gpu_busy = gpu_busy or handle.gpu
            self._pool.start(handle._make_worker())

    def _job_ended(self, handle: JobHandle) -> None:
        for jobs in (self._active, self._running):
            if handle in jobs:
                jobs.remove(handle)
        if handle in self._waiting:
            self._waiting.remove(handle)
        self.job_finished.emit(handle)
        self.active_jobs_changed.emit()
        if not self._shut_down:
            self._dispatch()
