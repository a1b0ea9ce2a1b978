"""The status bar's job display names every engine stage in words."""

from __future__ import annotations

import threading

import pytest

from engine.tasks import Stage
from gui.widgets.job_status import JobStatusWidget

# Every stage the engine reports (engine/*: ctx.report(Stage.X, ...)), bytes apart.
ENGINE_STAGES = [stage for stage in Stage if not stage.counts_bytes]


def test_every_stage_the_engine_reports_is_declared():
    """A ctx.report(...) with a stage that is not a Stage would read as a bare word."""
    import re
    from pathlib import Path

    engine = Path(__file__).resolve().parents[3] / "engine"
    literals = set()
    for path in engine.rglob("*.py"):
        literals |= set(re.findall(r"\.report\(\s*\"(\w+)\"", path.read_text("utf-8")))
    assert literals <= {stage.value for stage in Stage}, literals


@pytest.mark.parametrize("stage", ENGINE_STAGES)
def test_an_engine_stage_reads_as_words(qtbot, runner, stage):

    widget = JobStatusWidget(runner)
    qtbot.addWidget(widget)
    release = threading.Event()

    def job(ctx):
        ctx.report(stage, 3, 10)
        release.wait(10)

    handle = runner.submit(job, title="Work")
    try:
        qtbot.waitUntil(lambda: widget.progress_bar.maximum() == 10, timeout=10_000)
        assert widget.label.text() == f"Work: {stage.words}"
        assert stage.words != stage.value
        assert widget.progress_bar.format() == "3 / 10"
    finally:
        release.set()
        with qtbot.waitSignal(handle.finished, timeout=10_000):
            pass


def test_a_download_shows_sizes_and_the_file_name(qtbot, runner):
    """Bytes read as sizes, and the bar counts kB so a file over 2 GB still fits its range."""
    widget = JobStatusWidget(runner)
    qtbot.addWidget(widget)
    release = threading.Event()

    def job(ctx):
        ctx.report("download", 1_500_000, 3_300_000_000, "vit_b_16-c867db91.pth")
        release.wait(10)

    handle = runner.submit(job, title="Download weights")
    try:
        qtbot.waitUntil(lambda: widget.progress_bar.maximum() == 3_300_000, timeout=10_000)
        assert widget.label.text() == "Download weights: downloading — vit_b_16-c867db91.pth"
        assert widget.progress_bar.value() == 1_500
        assert widget.progress_bar.format() == "1.5 MB / 3.30 GB"
    finally:
        release.set()
        with qtbot.waitSignal(handle.finished, timeout=10_000):
            pass
