"""The engine stack loads once, in a quiet background job, and ends up frozen."""

from __future__ import annotations

import gc
import sys


def test_start_up_warm_up_loads_the_stack_and_freezes_it(qtbot, window):
    from gui.app import start_engine_warm_up

    collecting = gc.isenabled()
    job = start_engine_warm_up(window)
    assert job.quiet and not window.job_status.isVisible()
    with qtbot.waitSignal(job.finished, timeout=120_000):
        pass
    assert job.state.value == "succeeded"
    for module in ("torch", "engine.ingest.detect", "engine.training.runner",
                   "engine.evaluation.runs"):
        assert module in sys.modules, module
    assert gc.get_freeze_count() > 0  # left out of every later full collection
    assert gc.isenabled() == collecting

    # A second call (each import job makes one) does nothing.
    from gui.jobs.engine_stack import load_engine_stack

    frozen = gc.get_freeze_count()
    load_engine_stack()
    assert gc.get_freeze_count() == frozen
