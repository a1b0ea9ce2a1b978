"""The status bar's job display: what runs, how far it is, and a Cancel button."""

from __future__ import annotations

from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QToolButton, QWidget

from engine.display import size_text
from engine.tasks import Progress, stage_counts_bytes, stage_words
from gui.jobs import JobHandle, JobRunner, JobState

# A stage that counts bytes is shown as sizes, and the bar counts kB (its range is an int).
BYTES_PER_BAR_STEP = 1000


def _bytes_unit(stage: str) -> int | None:
    return BYTES_PER_BAR_STEP if stage_counts_bytes(stage) else None


class JobStatusWidget(QWidget):
    """Shows the newest running job that is not quiet, and how many wait behind it."""

    def __init__(self, runner: JobRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._runner = runner
        self._shown: JobHandle | None = None
        self._waiting = ""
        self.label = QLabel()
        self.progress_bar = QProgressBar()
        self.progress_bar.setFixedWidth(180)
        self.progress_bar.setTextVisible(True)
        self.cancel_button = QToolButton()
        self.cancel_button.setText("Cancel")
        self.cancel_button.setAutoRaise(True)
        self.cancel_button.clicked.connect(self.cancel_shown_job)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 4, 0)
        layout.addWidget(self.label)
        layout.addWidget(self.progress_bar)
        layout.addWidget(self.cancel_button)
        runner.active_jobs_changed.connect(self._refresh)
        runner.job_started.connect(lambda _: self._refresh())
        self._refresh()

    @property
    def shown_job(self) -> JobHandle | None:
        return self._shown

    def cancel_shown_job(self) -> None:
        if self._shown is not None:
            self._shown.cancel()
            self.label.setText(f"{self._shown.title}: cancelling…")
            self.cancel_button.setEnabled(False)

    def _refresh(self) -> None:
        visible = [j for j in self._runner.active_jobs() if not j.quiet]
        running = [j for j in visible if j.state is JobState.RUNNING]
        shown = (running or visible or [None])[-1]
        if shown is not self._shown:
            if self._shown is not None:
                self._shown.progress_changed.disconnect(self._show_progress)
            self._shown = shown
            if shown is not None:
                shown.progress_changed.connect(self._show_progress)
                self.cancel_button.setEnabled(not shown.is_cancel_requested)
        self.setVisible(shown is not None)
        if shown is None:
            return
        waiting = len(visible) - 1
        self._waiting = f"  (+{waiting} waiting)" if waiting else ""
        self._show_progress(shown.progress)

    def _show_progress(self, progress: Progress | None) -> None:
        job = self._shown
        if job is None:
            return
        if job.is_cancel_requested:
            text = f"{job.title}: cancelling…"
        elif job.state is JobState.QUEUED:
            text = f"{job.title}: waiting"
        elif progress is None:
            text = f"{job.title}…"
        else:
            bytes_unit = _bytes_unit(progress.stage)
            detail = (f" — {progress.message}" if progress.message
                      and (progress.total == 0 or bytes_unit) else "")
            text = f"{job.title}: {stage_words(progress.stage)}{detail}"
        self.label.setText(text + self._waiting)
        if progress is not None and progress.total > 0:
            unit = _bytes_unit(progress.stage) or 1
            done = min(progress.done, progress.total)
            self.progress_bar.setRange(0, progress.total // unit)
            self.progress_bar.setValue(done // unit)
            self.progress_bar.setFormat(
                f"{size_text(done)} / {size_text(progress.total)}" if unit > 1
                else f"{progress.done} / {progress.total}")
        else:
            self.progress_bar.setRange(0, 0)  # busy indicator: the size is not known yet
