"""The status bar's job display names every engine stage in words."""

from __future__ import annotations

import threading

import pytest

from gui.widgets.job_status import JobStatusWidget

# Every stage name the engine reports (engine/*: ctx.report(STAGE, ...)).
ENGINE_STAGES = ["import", "crop", "cache", "train", "report", "mistakes", "sweep", "draw"]


@pytest.mark.parametrize("stage", ENGINE_STAGES)
def test_an_engine_stage_reads_as_words(qtbot, runner, stage):
    from gui.widgets.job_status import STAGE_WORDS

    widget = JobStatusWidget(runner)
    qtbot.addWidget(widget)
    release = threading.Event()

    def job(ctx):
        ctx.report(stage, 3, 10)
        release.wait(10)

    handle = runner.submit(job, title="Work")
    try:
        qtbot.waitUntil(lambda: widget.progress_bar.maximum() == 10, timeout=10_000)
        assert widget.label.text() == f"Work: {STAGE_WORDS[stage]}"
        assert STAGE_WORDS[stage] != stage
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
