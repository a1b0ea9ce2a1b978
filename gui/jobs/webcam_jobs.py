"""Job functions and plumbing for the Webcam page.

The live view is one long job: :class:`engine.inference.webcam.LiveLoop` runs on a
runner worker (its processing thread) and starts its own capture thread. Results
reach the UI through a :class:`LiveFeed`, which coalesces them: the worker leaves
the newest result and the UI thread is told once; results that arrive before the UI
took the last one replace it. So the UI paints only the newest frame and never
falls behind a queue of paints, whatever the frame rate.

Capture goes through OpenCV (engine.inference.camera), not QtMultimedia: one capture
path for the CLI and the app (the same cameras, the same error messages, video files
standing in for a camera in tests), and no dependency on a QtMultimedia backend
(GStreamer/FFmpeg plugins) that differs from machine to machine.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QImage

from engine.inference.camera import CameraInfo, Frame, FrameSource
from engine.project import Project
from engine.tasks import TaskContext
from gui.jobs.evaluation_jobs import rgb_image

if TYPE_CHECKING:
    from engine.inference.live_pipeline import FramePipeline, LiveFace
    from engine.inference.snapshot import SnapshotResult
    from engine.inference.webcam import FrameResult, LiveStatus, LiveSummary


@dataclass(frozen=True)
class LiveFrame:
    """One result of the live loop, with its picture already a QImage (made on the
    processing thread, so the UI thread only paints it)."""
    result: FrameResult
    image: QImage
    device: str


@dataclass(frozen=True)
class LiveGradCamImage:
    track_id: int               # the face it explains
    person: str                 # the person it explains
    image: QImage
    caption: str = ""           # LiveGradCam.caption(): from the map's own forward pass


class LiveFeed(QObject):
    """The live loop's callbacks, handed to the UI thread.

    Signals (queued to the UI thread): ``result_ready()`` once per batch of results
    (call :meth:`take` for the newest), ``status_changed(LiveStatus)`` (camera lost /
    back), ``model_loaded(device)`` (the model is ready and the source opened).
    """

    result_ready = Signal()
    status_changed = Signal(object)
    model_loaded = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._lock = threading.Lock()
        self._frame: LiveFrame | None = None
        self._gradcam: LiveGradCamImage | None = None
        self._told = False  # a result_ready is on its way and not yet answered by take()
        self.device = ""

    # processing thread -------------------------------------------------------
    def __call__(self, result: FrameResult) -> None:
        frame = LiveFrame(result, rgb_image(result.frame), self.device)
        cam = result.gradcam
        # A Grad-CAM comes with one frame in many: kept apart, so a newer frame
        # without one does not throw it away before the UI saw it.
        gradcam = None if cam is None else LiveGradCamImage(
            cam.track_id, cam.person, rgb_image(cam.overlay), cam.caption())
        with self._lock:
            self._frame = frame
            if gradcam is not None:
                self._gradcam = gradcam
            tell, self._told = not self._told, True
        if tell:
            self.result_ready.emit()

    def report_status(self, status: LiveStatus) -> None:
        self.status_changed.emit(status)

    # UI thread ---------------------------------------------------------------
    def take(self) -> tuple[LiveFrame | None, LiveGradCamImage | None]:
        """The newest result and the newest Grad-CAM not taken yet (either may be None)."""
        with self._lock:
            frame, gradcam = self._frame, self._gradcam
            self._frame = self._gradcam = None
            self._told = False
        return frame, gradcam


class LiveControls:
    """What the user changes while the loop runs (threshold, Grad-CAM), kept until the
    pipeline exists (the model loads on the worker) and passed on from then on."""

    def __init__(self, threshold: float = 0.5, gradcam: bool = False) -> None:
        self._lock = threading.Lock()
        self._threshold = threshold
        self._gradcam = gradcam
        self._pipeline: FramePipeline | None = None

    @property
    def threshold(self) -> float:
        return self._threshold

    def set_threshold(self, threshold: float) -> None:
        with self._lock:
            self._threshold = threshold
            if self._pipeline is not None:
                self._pipeline.set_threshold(threshold)

    def set_gradcam(self, enabled: bool) -> None:
        with self._lock:
            self._gradcam = enabled
            if self._pipeline is not None:
                self._pipeline.set_gradcam(enabled)

    def attach(self, pipeline: FramePipeline) -> None:  # worker thread
        with self._lock:
            pipeline.set_threshold(self._threshold)
            pipeline.set_gradcam(self._gradcam)
            self._pipeline = pipeline


class RepeatingVideo(FrameSource):
    """A video file that starts again at its end: it stands in for a camera, and a
    camera does not end (a demo, or the tests, can run as long as they need)."""

    def read(self) -> Frame | None:
        frame = super().read()
        if frame is None and not self.is_camera:
            self.open()  # frame indexes go on counting: a repeat is not a new stream
            frame = super().read()
        return frame


def make_source(source: int | str) -> FrameSource:
    """A camera index or a video file path as the live loop's source."""
    return FrameSource(source) if isinstance(source, int) else RepeatingVideo(source)


def find_cameras():
    """Probe the camera indexes (slow where a driver is slow to say no)."""
    def job(ctx: TaskContext) -> tuple[CameraInfo, ...]:
        from engine.inference.camera import list_cameras

        return tuple(list_cameras())
    return job


def live_view(root: Path, run_id: str, source: FrameSource, device: str, feed: LiveFeed,
              controls: LiveControls):
    """Name the faces of ``source`` with the run's best model until cancelled (or the
    source fails: its CameraError is the job's failure message)."""
    def job(ctx: TaskContext) -> LiveSummary:
        from engine.inference.live_pipeline import FramePipeline
        from engine.inference.predictor import Predictor
        from engine.inference.webcam import LiveLoop

        try:
            ctx.report("open", 0, 1, f"opening {source.name}")
            source.open()  # before the model loads: a missing camera says so at once
            ctx.check()
            ctx.report("load", 0, 1, "loading the model")
            with Project.open(root, readonly=True) as project:
                predictor = Predictor.from_run(project, run_id, threshold=controls.threshold,
                                               device=device)
            ctx.check()
            pipeline = FramePipeline(predictor)
            controls.attach(pipeline)
            feed.device = str(predictor.device).upper().replace("CUDA", "GPU")
            feed.model_loaded.emit(feed.device)
            loop = LiveLoop(source, pipeline, on_result=feed, on_status=feed.report_status)
            return loop.run(ctx)
        finally:
            source.close()  # the camera is free for other programs at once
    return job


def snapshot(root: Path, frame, faces: Sequence[LiveFace], person: str | None):
    """Add a live frame to the project as a photo; label its faces (see
    :func:`engine.inference.snapshot.snapshot_to_project`)."""
    def job(ctx: TaskContext) -> SnapshotResult:
        from engine.inference.snapshot import snapshot_to_project

        with Project.open(root) as project:
            return snapshot_to_project(project, frame, faces, person, ctx=ctx)
    return job
