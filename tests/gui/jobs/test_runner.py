"""The job runner: one outcome per job, cancel, gpu serialisation, shutdown."""

from __future__ import annotations

import sys
import threading

import pytest

from engine.tasks import Cancelled
from gui.jobs import JobState, readable_error


def _record(handle):
    """Every outcome signal the handle emits, in order."""
    seen: list[tuple] = []
    handle.succeeded.connect(lambda result: seen.append(("succeeded", result)))
    handle.failed.connect(lambda message, details: seen.append(("failed", message, details)))
    handle.cancelled.connect(lambda: seen.append(("cancelled",)))
    handle.finished.connect(lambda: seen.append(("finished",)))
    return seen


def _blocking_job(release: threading.Event, started: threading.Event | None = None):
    def job(ctx):
        if started is not None:
            started.set()
        while not release.wait(0.005):
            ctx.check()
        return "released"
    return job


def test_success_delivers_result_and_progress_once(qtbot, runner):
    def job(ctx):
        ctx.report("count", 1, 2)
        return {"answer": 42}

    handle = runner.submit(job, title="Count")
    seen = _record(handle)
    progress = []
    handle.progress_changed.connect(progress.append)
    with qtbot.waitSignal(handle.finished, timeout=10_000):
        pass
    assert seen == [("succeeded", {"answer": 42}), ("finished",)]
    assert handle.state is JobState.SUCCEEDED and progress[0].stage == "count"
    assert not runner.is_busy


def test_failure_gives_a_message_and_the_traceback(qtbot, runner):
    def job(ctx):
        raise ValueError("the folder holds no photos")

    handle = runner.submit(job, title="Import")
    seen = _record(handle)
    with qtbot.waitSignal(handle.finished, timeout=10_000):
        pass
    assert [s[0] for s in seen] == ["failed", "finished"]
    _, message, details = seen[0]
    assert message == "the folder holds no photos"
    assert "Traceback" in details and "ValueError" in details


@pytest.mark.parametrize("error, traceback_logged", [
    (ValueError("the folder holds no photos"), False),  # explained: one line in the log
    (KeyError("persons"), True),                        # a bug: the traceback is logged
])
def test_only_unexpected_failures_log_a_traceback(qtbot, runner, caplog, error, traceback_logged):
    def job(ctx):
        raise error

    caplog.set_level("WARNING", logger="gui.jobs.runner")
    handle = runner.submit(job, title="Job")
    with qtbot.waitSignal(handle.finished, timeout=10_000):
        pass
    records = [r for r in caplog.records if r.name == "gui.jobs.runner"]
    assert len(records) == 1
    assert (records[0].exc_info is not None) == traceback_logged


def test_cancel_sets_the_flag_and_ends_in_cancelled_once(qtbot, runner):
    started = threading.Event()
    handle = runner.submit(_blocking_job(threading.Event(), started), title="Endless")
    seen = _record(handle)
    qtbot.waitUntil(started.is_set, timeout=10_000)
    with qtbot.waitSignal(handle.finished, timeout=10_000):
        handle.cancel()
        handle.cancel()  # a second click changes nothing
    assert seen == [("cancelled",), ("finished",)]


def test_a_job_raising_cancelled_on_its_own_counts_as_cancelled(qtbot, runner):
    def job(ctx):
        raise Cancelled()

    handle = runner.submit(job, title="Gives up")
    seen = _record(handle)
    with qtbot.waitSignal(handle.finished, timeout=10_000):
        pass
    assert seen == [("cancelled",), ("finished",)]


def test_gpu_jobs_run_one_at_a_time_in_order(qtbot, runner):
    release_first = threading.Event()
    first_started = threading.Event()
    order: list[str] = []
    first = runner.submit(_blocking_job(release_first, first_started), title="Train A", gpu=True)
    second = runner.submit(lambda ctx: order.append("B"), title="Train B", gpu=True)
    cpu = runner.submit(lambda ctx: order.append("cpu"), title="Import")

    qtbot.waitUntil(first_started.is_set, timeout=10_000)
    # A CPU job is not held back by the GPU queue.
    qtbot.waitUntil(lambda: cpu.state is JobState.SUCCEEDED, timeout=10_000)
    assert second.state is JobState.QUEUED and order == ["cpu"]

    with qtbot.waitSignals([first.finished, second.finished], timeout=10_000):
        release_first.set()
    assert order == ["cpu", "B"]
    assert first.state is second.state is JobState.SUCCEEDED


def test_a_queued_gpu_job_cancelled_never_runs(qtbot, runner):
    release = threading.Event()
    ran = threading.Event()
    first = runner.submit(_blocking_job(release), title="Train A", gpu=True)
    second = runner.submit(lambda ctx: ran.set(), title="Train B", gpu=True)
    seen = _record(second)
    second.cancel()
    assert seen == [("cancelled",), ("finished",)]
    with qtbot.waitSignal(first.finished, timeout=10_000):
        release.set()
    assert not ran.is_set()


def test_progress_is_throttled(qtbot, runner):
    def job(ctx):
        for i in range(20_000):
            ctx.report("crop", i, 20_000)
        return "done"

    handle = runner.submit(job, title="Busy")
    progress = []
    handle.progress_changed.connect(progress.append)
    with qtbot.waitSignal(handle.finished, timeout=10_000):
        pass
    assert 1 <= len(progress) < 200


def test_the_last_report_before_a_pause_reaches_the_window(qtbot, runner):
    """A download that stalls right after a burst of reports: the window shows where it
    stopped, not the first report of the burst."""
    release = threading.Event()

    def job(ctx):
        for done in range(1, 501):
            ctx.report("download", done, 1000)
        release.wait(10)

    handle = runner.submit(job, title="Stalls")
    try:
        qtbot.waitUntil(lambda: handle.progress is not None and handle.progress.done == 500,
                        timeout=10_000)
    finally:
        release.set()
        with qtbot.waitSignal(handle.finished, timeout=10_000):
            pass


def test_shutdown_cancels_running_and_queued_jobs_and_waits(qtbot, runner):
    started = threading.Event()
    jobs = [runner.submit(_blocking_job(threading.Event(), started), title="Endless", gpu=True),
            runner.submit(_blocking_job(threading.Event()), title="Queued", gpu=True),
            runner.submit(_blocking_job(threading.Event()), title="Endless CPU")]
    seen = [_record(job) for job in jobs]
    qtbot.waitUntil(started.is_set, timeout=10_000)

    assert runner.shutdown(timeout_ms=10_000)

    assert all(s == [("cancelled",), ("finished",)] for s in seen)
    assert not runner.is_busy
    ran = threading.Event()
    late = runner.submit(lambda ctx: ran.set(), title="Too late")  # no exception mid-quit
    assert late.state is JobState.CANCELLED and not runner.is_busy
    qtbot.wait(50)
    assert not ran.is_set()


def test_programming_errors_name_their_type():
    assert readable_error(KeyError("x")) == "Unexpected error (KeyError: 'x')"
    assert readable_error(OSError("disk full")) == "disk full"


def test_a_finished_job_is_freed_with_its_result(qtbot, runner):
    import gc
    import weakref

    handle = runner.submit(lambda ctx: bytearray(10_000_000), title="Big result")
    with qtbot.waitSignal(handle.finished, timeout=10_000):
        pass
    ref = weakref.ref(handle)
    del handle
    gc.collect()
    assert ref() is None, "the runner kept a finished job (and its result) alive"


def test_jobs_beyond_the_free_threads_wait_and_can_be_cancelled_there(qtbot):
    from gui.jobs import JobRunner

    runner = JobRunner(max_threads=1)
    release, ran = threading.Event(), threading.Event()
    first = runner.submit(_blocking_job(release), title="Busy")
    second = runner.submit(lambda ctx: ran.set(), title="Waits")
    third = runner.submit(lambda ctx: "third", title="Runs later")
    seen = _record(second)
    second.cancel()
    assert seen == [("cancelled",), ("finished",)] and third.state is JobState.QUEUED
    with qtbot.waitSignals([first.finished, third.finished], timeout=10_000):
        release.set()
    assert not ran.is_set() and third.result == "third"
    assert runner.shutdown()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread niceness is Linux's")
def test_jobs_and_the_threads_they_start_yield_the_cpu_to_the_window(qtbot, runner):
    import os

    from gui.jobs.runner import JOB_THREAD_NICENESS

    def niceness():
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    def job(ctx):
        seen = {}
        child = threading.Thread(target=lambda: seen.setdefault("child", niceness()))
        child.start()
        child.join()
        return niceness(), seen["child"]

    handle = runner.submit(job, title="Work")
    seen = _record(handle)
    with qtbot.waitSignal(handle.finished, timeout=10_000):
        pass
    job_niceness, child_niceness = seen[0][1]
    assert job_niceness >= JOB_THREAD_NICENESS and child_niceness >= JOB_THREAD_NICENESS
    assert niceness() < JOB_THREAD_NICENESS  # the UI thread keeps its own
