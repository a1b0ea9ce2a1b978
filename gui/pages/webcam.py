"""The Webcam page: point a camera (or a video file) at someone and see a trained run
name them live; add the faces in view to the project as new samples.

The live loop is one job (gui/jobs/webcam_jobs.py): capture on its own thread, only
the newest frame processed, only the newest result painted. This page holds the
choices (run, source, threshold, Grad-CAM), the video and the messages; camera
trouble (none, busy, unplugged) is said here, in words, and the page recovers.

The live job runs until stopped, so it is never a ``gpu=True`` job: those run one
at a time, and training queued behind a live view would wait without a word. When
a GPU job (training, evaluation) is running or queued, the live view runs on the
CPU instead (and says so); otherwise the run's model goes to the GPU when there is
one. A training started later shares the GPU with the small inference model.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

from typing import TYPE_CHECKING

from PySide6.QtCore import QByteArray, Qt, Signal
from PySide6.QtWidgets import (QCheckBox, QComboBox, QFileDialog, QFormLayout, QHBoxLayout,
                               QLabel, QPushButton, QSlider, QToolButton, QVBoxLayout, QWidget)

from engine.inference.camera import CameraInfo
from engine.inference.snapshot import PREDICTED
from gui.jobs import JobHandle, JobState
from gui.jobs import webcam_jobs as jobs
from gui.pages.page_context import PageContext
from gui.theme import ERROR_COLOUR
from gui.widgets.heat_legend import HeatLegend
from gui.widgets.live_video import LiveVideoView
from gui.widgets.run_picker import RunPicker, run_choices
from gui.widgets.section_labels import section_heading, section_hint

if TYPE_CHECKING:
    from engine.inference.webcam import FrameResult

VIDEO_FILTER = "Videos (*.mp4 *.avi *.mov *.mkv *.webm *.m4v *.mpg *.mpeg);;All files (*)"
NO_RUN_TEXT = ("No trained run yet: the live view names people with a trained model. "
               "<a href='train'>Train one on the Train page</a>, then come back.")
IDLE_TEXT = "Choose a run and a source, then press Start."


class WebcamPage(QWidget):
    """Signals: ``train_page_requested()`` (the user wants to train a model first),
    ``live_started()`` (the model is loaded and the source open), ``live_stopped()``
    (the live job ended, however), ``snapshot_added(SnapshotResult)``,
    ``cameras_listed()``."""

    train_page_requested = Signal()
    live_started = Signal()
    live_stopped = Signal()
    snapshot_added = Signal(object)
    cameras_listed = Signal()

    def __init__(self, context: PageContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._session = context.session
        self._runner = context.runner
        self.feed = jobs.LiveFeed(self)
        self.controls = jobs.LiveControls()
        self.live_job: JobHandle | None = None
        self.snapshot_job: JobHandle | None = None
        self._cameras_job: JobHandle | None = None
        self._cameras_probed = False
        # The frame on screen: the newest while live, the last one (frozen) after Stop.
        self._shown_frame: jobs.LiveFrame | None = None
        self._build()
        self.feed.result_ready.connect(self._on_result_ready)
        self.feed.status_changed.connect(self._on_status)
        self.feed.model_loaded.connect(self._on_model_loaded)
        self._session.persons_changed.connect(self._fill_persons)
        self._fill_persons()
        self.refresh_runs()

    # ============================================================== public API
    @property
    def is_live(self) -> bool:
        return self.live_job is not None

    @property
    def shown_result(self) -> FrameResult | None:
        """The result on screen (what a snapshot adds)."""
        return self._shown_frame.result if self._shown_frame is not None else None

    def refresh_runs(self) -> None:
        """Re-read the trained runs (one may have finished since the page last showed)."""
        self.run_picker.set_choices(run_choices(self._session.catalog, self._session.root))
        self._update_controls()

    def refresh_cameras(self) -> JobHandle | None:
        """Probe the cameras on a worker thread (not while the live view uses one)."""
        if self.is_live or self._cameras_job is not None:
            return None
        self._cameras_probed = True
        self.refresh_button.setEnabled(False)
        self.source_combo.setPlaceholderText("Looking for cameras…")
        job = self._runner.submit(jobs.find_cameras(), title="Looking for cameras", quiet=True)
        job.succeeded.connect(self._on_cameras_found)
        job.finished.connect(self._on_cameras_job_finished)
        self._cameras_job = job
        return job

    def open_video(self, path: str) -> None:
        """Add a video file as a source (it stands in for a camera, and repeats) and
        choose it."""
        index = self.source_combo.findData(str(path))
        if index < 0:
            self.source_combo.addItem(f"Video: {Path(path).name}", str(path))
            index = self.source_combo.count() - 1
            self.source_combo.setItemData(index, str(path), Qt.ItemDataRole.ToolTipRole)
        self.source_combo.setCurrentIndex(index)

    def open_video_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open a video file", "", VIDEO_FILTER)
        if path:
            self.open_video(path)

    def current_source(self) -> int | str | None:
        """A camera index, a video file path, or None."""
        return self.source_combo.currentData() if self.source_combo.currentIndex() >= 0 \
            else None

    def start(self) -> JobHandle | None:
        """Start the live view with the chosen run and source; None (and the reason in
        the page) when something is missing."""
        if self.is_live:
            return self.live_job
        run_id, source = self.run_picker.current_run_id(), self.current_source()
        if run_id is None or source is None:
            self.show_message(NO_RUN_TEXT if run_id is None else
                              "Choose a camera, or open a video file.", error=run_id is not None)
            return None
        device = "cpu" if any(job.gpu for job in self._runner.active_jobs()) else "auto"
        job = self._runner.submit(
            jobs.live_view(self._session.root, run_id, jobs.make_source(source), device,
                           self.feed, self.controls),
            title="Webcam", quiet=True)  # the page shows its state; no banner on failure
        job.failed.connect(self._on_live_failed)
        job.succeeded.connect(self._on_live_ended)
        job.finished.connect(self._on_live_finished)
        self.live_job = job
        self._shown_frame = None
        self.video.clear("Starting… (loading the model)")
        self.show_message("A job is using the GPU (training?): the live view runs on the CPU."
                          if device == "cpu" and _gpu_available() else "")
        self._update_controls()
        return job

    def stop(self) -> None:
        """Stop the live view; the camera is released as the job ends (within a frame)."""
        if self.live_job is not None:
            self.live_job.cancel()
            self.start_button.setEnabled(False)
            self.start_button.setText("Stopping…")

    def take_snapshot(self) -> JobHandle | None:
        """Add the frame on screen (live, or frozen after Stop) to the project; its faces
        labelled as chosen."""
        frame = self._shown_frame
        if frame is None or not frame.result.faces or self.snapshot_job is not None:
            return None
        person = self.label_combo.currentData()
        job = self._runner.submit(
            jobs.snapshot(self._session.root, frame.result.frame, frame.result.faces, person),
            title="Adding the snapshot to the project")
        job.succeeded.connect(self._on_snapshot_added)
        job.finished.connect(self._on_snapshot_finished)
        self.snapshot_job = job
        self._update_controls()
        return job

    def show_message(self, text: str, error: bool = False) -> None:
        self.message_label.setText(text)
        self.message_label.setVisible(bool(text))
        self.message_label.setStyleSheet(f"color: {ERROR_COLOUR.name()};" if error else "")

    def message_text(self) -> str:
        return "" if self.message_label.isHidden() else self.message_label.text()

    def save_state(self) -> QByteArray:
        """The threshold and the Grad-CAM switch, kept across sessions."""
        return QByteArray(json.dumps({"threshold": self.threshold_slider.value(),
                                      "gradcam": self.gradcam_check.isChecked()}).encode())

    def restore_state(self, blob: QByteArray) -> None:
        try:
            state = json.loads(bytes(blob).decode())
            threshold, gradcam = state["threshold"], state["gradcam"]
        except (ValueError, KeyError, TypeError):
            return  # a state from another version: the defaults will do
        if isinstance(threshold, int) and not isinstance(threshold, bool):
            self.threshold_slider.setValue(threshold)  # clamped to the slider's range
        if isinstance(gradcam, bool):
            self.gradcam_check.setChecked(gradcam)

    def shutdown(self) -> None:
        """The project closes or the app quits: stop the live view (the window then
        waits for the job, so the camera is released before the project goes)."""
        if self._cameras_job is not None:
            self._cameras_job.cancel()
        if self.live_job is not None:
            self.live_job.cancel()

    # ================================================================ building
    def _build(self) -> None:
        # Narrower pickers than elsewhere: this row holds seven controls, and the page
        # must fit a 1024-pixel window (the lists open as wide as their longest entry).
        self.run_picker = RunPicker()
        self.run_picker.setMinimumContentsLength(24)
        self.run_picker.run_chosen.connect(lambda _: self._update_controls())
        self.source_combo = QComboBox()
        self.source_combo.setMinimumContentsLength(16)
        self.source_combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.source_combo.setPlaceholderText("No camera found")
        self.source_combo.currentIndexChanged.connect(lambda _: self._on_source_changed())
        self.refresh_button = QToolButton()
        self.refresh_button.setText("Refresh")
        self.refresh_button.setToolTip("Look for cameras again (one was plugged in)")
        self.refresh_button.clicked.connect(self.refresh_cameras)
        self.video_button = QPushButton("Open video…")
        self.video_button.setToolTip("Use a video file instead of a camera")
        self.video_button.clicked.connect(self.open_video_dialog)
        self.start_button = QPushButton("Start")
        self.start_button.setDefault(True)
        self.start_button.clicked.connect(self._toggle_live)
        top = QHBoxLayout()
        top.addWidget(QLabel("Run:"))
        top.addWidget(self.run_picker, 2)
        top.addSpacing(12)
        top.addWidget(QLabel("Source:"))
        top.addWidget(self.source_combo, 2)
        top.addWidget(self.refresh_button)
        top.addWidget(self.video_button)
        top.addSpacing(12)
        top.addWidget(self.start_button)

        self.message_label = QLabel()
        self.message_label.setWordWrap(True)
        self.message_label.setTextFormat(Qt.TextFormat.RichText)
        flags = Qt.TextInteractionFlag
        self.message_label.setTextInteractionFlags(flags.TextSelectableByMouse
                                                   | flags.LinksAccessibleByMouse)
        self.message_label.linkActivated.connect(lambda _: self.train_page_requested.emit())
        self.message_label.hide()
        self.video = LiveVideoView()
        self.video.clear(IDLE_TEXT)

        middle = QHBoxLayout()
        middle.addWidget(self.video, 1)
        middle.addWidget(self._build_side())
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 8, 10, 8)
        layout.addLayout(top)
        layout.addLayout(middle, 1)

    def _build_side(self) -> QWidget:
        self.threshold_slider = QSlider(Qt.Orientation.Horizontal)
        self.threshold_slider.setRange(0, 100)
        self.threshold_slider.setValue(50)
        self.threshold_slider.setToolTip("Faces the model is less sure about than this are "
                                         "shown as “unknown”")
        self.threshold_label = QLabel()
        self.threshold_slider.valueChanged.connect(self._on_threshold_moved)
        self.gradcam_check = QCheckBox("Show Grad-CAM")
        self.gradcam_check.setToolTip("Where the model looks, for the largest face (about "
                                      "once a second: it costs a backward pass)")
        self.gradcam_check.toggled.connect(self._on_gradcam_toggled)
        self.gradcam_legend = HeatLegend()
        self.gradcam_legend.setVisible(False)
        self.label_combo = QComboBox()
        self.snapshot_button = QPushButton("Add snapshot to project")
        self.snapshot_button.setToolTip("Add this frame as a photo; its faces become new "
                                        "samples in the Library")
        self.snapshot_button.clicked.connect(self.take_snapshot)

        side = QWidget()
        side.setFixedWidth(260)
        column = QVBoxLayout(side)
        column.setContentsMargins(10, 0, 0, 0)
        column.addWidget(section_heading("Recognition"))
        column.addWidget(self.threshold_label)
        column.addWidget(self.threshold_slider)
        column.addWidget(section_hint("Below this confidence a face is “unknown”. The mark on "
                                      "each face's bar shows where the threshold is."))
        column.addSpacing(8)
        column.addWidget(self.gradcam_check)
        column.addWidget(self.gradcam_legend)
        column.addSpacing(16)
        column.addWidget(section_heading("Snapshot"))
        form = QFormLayout()
        form.setContentsMargins(0, 0, 0, 0)
        form.addRow("Label as:", self.label_combo)
        column.addLayout(form)
        column.addWidget(self.snapshot_button)
        column.addWidget(section_hint("The faces in view become new samples of the project, "
                                      "cropped like every imported face. Press Stop first "
                                      "to choose the frame."))
        column.addStretch(1)
        # Last in the column, below the stretch: a message that comes or goes moves
        # neither the video nor a control of this panel.
        column.addWidget(self.message_label)
        self._on_threshold_moved(self.threshold_slider.value())
        return side

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self.refresh_runs()  # a run may have finished training while another page showed
        if not self._cameras_probed:
            self.refresh_cameras()

    # =============================================================== reactions
    def _toggle_live(self) -> None:
        if self.is_live:
            self.stop()
        else:
            self.start()

    def _on_model_loaded(self, device: str) -> None:
        self.video.set_placeholder(f"Waiting for the first picture… ({device})")
        self.live_started.emit()

    def _on_result_ready(self) -> None:
        frame, gradcam = self.feed.take()
        if self.live_job is None:  # a late result of a stopped view
            return
        if gradcam is not None and self.gradcam_check.isChecked():
            self.video.show_gradcam(gradcam.image, gradcam.person, gradcam.track_id,
                                    gradcam.caption)
        if frame is None:
            return
        result = frame.result
        self._shown_frame = frame
        stats = (f"{result.fps:.1f} fps · {result.latency_ms:.0f} ms · {frame.device}"
                 + (f" · {result.dropped} dropped" if result.dropped else ""))
        self.video.show_frame(result.index, frame.image, result.faces, stats)
        self.snapshot_button.setEnabled(bool(result.faces) and self.snapshot_job is None)

    def _on_status(self, status) -> None:
        if status.state == "camera lost":
            self.video.set_dimmed(True)
            self.show_message(f"{status.message} Waiting for it to come back… (or press Stop)",
                              error=True)
        else:
            self.video.set_dimmed(False)
            self.show_message(status.message[:1].upper() + status.message[1:] + ".")

    def _on_live_failed(self, message: str, details: str) -> None:
        self.show_message(message, error=True)

    def _on_live_ended(self, summary) -> None:
        self.show_message(summary.ended.words)

    def _on_live_finished(self) -> None:
        job, self.live_job = self.live_job, None
        if job is not None and job.state is JobState.CANCELLED:  # stopped while starting
            self.show_message("Stopped.")
        self.video.set_dimmed(False)
        # The frame that stays after Stop is not the one the map was computed on.
        self.video.show_gradcam(None)
        if not self.video.has_frame:
            self.video.clear(IDLE_TEXT)
        self._update_controls()
        self.live_stopped.emit()

    def _on_source_changed(self) -> None:
        self.video.show_gradcam(None)  # a map of another source's face
        self._update_controls()

    def _on_threshold_moved(self, value: int) -> None:
        # The right end means "nobody is known": just above 1, since a float32 softmax
        # can round a sure prediction to exactly 1.0 (the engine allows > 1 for this).
        threshold = value / 100 if value < 100 else math.nextafter(1.0, 2.0)
        self.threshold_label.setText(f"Unknown below: {value}%")
        self.controls.set_threshold(threshold)
        self.video.set_threshold(threshold)

    def _on_gradcam_toggled(self, checked: bool) -> None:
        self.gradcam_legend.setVisible(checked)
        self.controls.set_gradcam(checked)
        if not checked:
            self.video.show_gradcam(None)

    def _on_cameras_found(self, cameras: tuple[CameraInfo, ...]) -> None:
        chosen = self.current_source()
        videos = [(self.source_combo.itemText(i), self.source_combo.itemData(i))
                  for i in range(self.source_combo.count())
                  if isinstance(self.source_combo.itemData(i), str)]
        self.source_combo.blockSignals(True)
        self.source_combo.clear()
        for camera in cameras:
            self.source_combo.addItem(f"{camera.name} ({camera.width}×{camera.height})",
                                      camera.index)
        for text, path in videos:
            self.source_combo.addItem(text, path)
        found = self.source_combo.findData(chosen) if chosen is not None else -1
        self.source_combo.setCurrentIndex(found if found >= 0 else
                                          0 if self.source_combo.count() else -1)
        self.source_combo.blockSignals(False)
        self.source_combo.setPlaceholderText("No camera found")
        if not cameras and not videos and not self.is_live:
            self.show_message("No camera found. Plug one in and press Refresh, or open a "
                              "video file.")
        elif self.message_text().startswith("No camera found"):
            self.show_message("")
        self._update_controls()
        self.cameras_listed.emit()

    def _on_cameras_job_finished(self) -> None:
        self._cameras_job = None
        self.source_combo.setPlaceholderText("No camera found")
        self._update_controls()

    def _on_snapshot_added(self, result) -> None:
        self._session.notify_faces_added()  # the Library (and the counts) show them
        if result.photo_id is None:
            self.show_message("This very picture is already in the project.")
        else:
            names = sorted({name for _, name in result.labelled})
            faces = len(result.face_ids)
            self.show_message(f"Snapshot added: {faces} face(s)"
                              + (f", labelled {', '.join(names)}." if names else
                                 ", unlabelled (see the Library)."))
        self.snapshot_added.emit(result)

    def _on_snapshot_finished(self) -> None:
        job, self.snapshot_job = self.snapshot_job, None
        if job is not None and job.state is JobState.FAILED:
            self.show_message(f"The snapshot was not added: {job.error_message}", error=True)
        self._update_controls()

    # ================================================================= helpers
    def _fill_persons(self) -> None:
        chosen = self.label_combo.currentData() if self.label_combo.count() else PREDICTED
        self.label_combo.clear()
        self.label_combo.addItem("the predicted person", PREDICTED)
        self.label_combo.addItem("nobody (unlabelled)", None)
        rows = self._session.person_rows()
        if rows:
            self.label_combo.insertSeparator(self.label_combo.count())
        for row in rows:
            self.label_combo.addItem(row.name, row.name)
        index = self.label_combo.findData(chosen)
        self.label_combo.setCurrentIndex(max(0, index))

    def _update_controls(self) -> None:
        live = self.is_live
        has_run = self.run_picker.current_run_id() is not None
        self.run_picker.setEnabled(not live)
        self.source_combo.setEnabled(not live)
        self.video_button.setEnabled(not live)
        self.refresh_button.setEnabled(not live and self._cameras_job is None)
        self.start_button.setText("Stop" if live else "Start")
        self.start_button.setEnabled(live or (has_run and self.current_source() is not None))
        self.snapshot_button.setEnabled(
            self.snapshot_job is None and self._shown_frame is not None
            and bool(self._shown_frame.result.faces))
        if not has_run and not live:
            self.show_message(NO_RUN_TEXT)
            self.video.clear("No trained run yet.")
        elif self.message_text() == NO_RUN_TEXT:
            self.show_message("")
            self.video.clear(IDLE_TEXT)


def _gpu_available() -> bool:
    # A GPU job has imported torch already; the UI thread never imports it just to ask.
    torch = sys.modules.get("torch")
    return bool(torch is not None and torch.cuda.is_available())

