"""Live classification from a camera (or a video file standing in for one), Qt-free.

Threading model (PySide's "mandelbrot" pattern: only the newest request matters):

- The thread that calls :meth:`LiveLoop.run` is the processing thread. It alone uses
  the FramePipeline, and so the model and the detector; it calls ``on_result`` and
  ``on_status``. In the GUI that is a job-runner worker; in the CLI, the main thread.
- ``run`` starts one capture thread that reads the :class:`FrameSource` and puts
  each frame into a one-slot mailbox. A frame not yet taken is replaced by the newer
  one and counted as dropped: when processing is slower than the camera the live
  view skips frames instead of falling ever further behind a growing queue.
- Any thread may call :meth:`LiveLoop.stop`, cancel the TaskContext, or change the
  pipeline's threshold and Grad-CAM switch while it runs.

Only plain, immutable data leaves the processing thread: frozen dataclasses and
read-only numpy arrays (DESIGN.md, convention 2).

Use (the GUI's webcam page runs ``loop.run`` in a job-runner worker)::

    predictor = Predictor.from_run(project, run_id, threshold=0.6)
    pipeline = FramePipeline(predictor, LiveSettings())
    loop = LiveLoop(FrameSource(0), pipeline, on_result=show, on_status=tell)
    summary = loop.run(ctx)   # until stop(), ctx.cancel(), the end of a video or max_frames
    # meanwhile, from any thread:
    pipeline.set_threshold(0.7); pipeline.set_gradcam(True, track_id); loop.stop()
    # a snapshot, from a thread that may use the project:
    snapshot_to_project(project, result.frame, result.faces, PREDICTED)

When a camera stops sending pictures, the loop reports it (``on_status``) and, with
``reconnect``, tries to open the camera again every ``reconnect_interval_s`` until it
is back or the loop is stopped; without, :meth:`run` raises the CameraError.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Callable

import numpy as np

from engine.inference.camera import CameraError, CameraInfo, Frame, FrameSource, list_cameras
from engine.inference.live_pipeline import FramePipeline, LiveFace, LiveGradCam, LiveSettings
from engine.inference.snapshot import PREDICTED, SnapshotResult, snapshot_to_project
from engine.tasks import TaskContext, null_context

log = logging.getLogger(__name__)

__all__ = ["PREDICTED", "CameraError", "CameraInfo", "Frame", "FramePipeline", "FrameResult",
           "FrameSource", "LiveFace", "LiveGradCam", "LiveLoop", "LiveSettings", "LiveStatus",
           "LiveSummary", "NewestFrameMailbox", "SnapshotResult", "default_threads",
           "list_cameras", "snapshot_to_project"]

FPS_WINDOW = 30  # results the frame rate is measured over


def default_threads() -> int:
    """Torch CPU threads for a live loop: one core is left to the capture thread (more
    threads than cores make PyTorch's kernels wait on each other)."""
    return max(1, (os.cpu_count() or 2) - 1)


@dataclass(frozen=True)
class FrameResult:
    index: int                  # the frame's capture index (gaps are dropped frames)
    timestamp: float            # time.monotonic() when the frame was captured
    faces: tuple[LiveFace, ...]
    detect_ran: bool            # False: the last detection's boxes were reused
    fps: float                  # results per second over the last FPS_WINDOW results
    latency_ms: float           # from capture to this result
    dropped: int                # frames dropped so far (captured, never processed)
    frame: np.ndarray = field(repr=False, compare=False)  # RGB uint8, read-only
    gradcam: LiveGradCam | None = None  # only on frames where it was computed


@dataclass(frozen=True)
class LiveStatus:
    state: str                  # "camera lost" or "camera back"
    message: str


class LiveEnding(StrEnum):
    """Why a live loop ended, with the sentence a person reads (a str: its value)."""

    STOPPED = "stopped"            # stop() was called
    CANCELLED = "cancelled"        # the job's cancel flag
    END_OF_VIDEO = "end of video"  # a video file ran out
    FRAME_LIMIT = "frame limit"    # the frames asked for were processed

    @property
    def words(self) -> str:
        return "The video ended." if self is LiveEnding.END_OF_VIDEO else "Stopped."


@dataclass(frozen=True)
class LiveSummary:
    frames: int                 # processed
    captured: int
    dropped: int
    detections: int
    reused: int
    seconds: float
    ended: LiveEnding


class NewestFrameMailbox:
    """A one-slot mailbox: ``put`` replaces an unread frame (counted in ``dropped``),
    ``take`` waits for the newest one. Never more than one frame is held."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._frame: Frame | None = None
        self._closed = False
        self.dropped = 0

    def put(self, frame: Frame, *, wait: bool = False) -> None:
        """Leave ``frame`` for the consumer; with ``wait``, first wait until the slot is
        empty (a video file processed frame by frame drops nothing)."""
        with self._cond:
            if wait:
                self._cond.wait_for(lambda: self._frame is None or self._closed)
            if self._closed:
                return
            if self._frame is not None:
                self.dropped += 1
            self._frame = frame
            self._cond.notify_all()

    def take(self, timeout: float | None = None) -> Frame | None:
        """The newest frame, or None after ``timeout`` or once closed and empty."""
        with self._cond:
            self._cond.wait_for(lambda: self._frame is not None or self._closed, timeout)
            frame, self._frame = self._frame, None
            self._cond.notify_all()
            return frame

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    @property
    def closed(self) -> bool:
        return self._closed


class LiveLoop:
    def __init__(self, source: FrameSource, pipeline: FramePipeline, *,
                 on_result: Callable[[FrameResult], None],
                 on_status: Callable[[LiveStatus], None] | None = None,
                 every_frame: bool = False, reconnect: bool | None = None,
                 reconnect_interval_s: float = 1.0, max_frames: int | None = None) -> None:
        if every_frame and source.is_camera:
            raise ValueError("every_frame is for video files: a camera does not wait")
        if max_frames is not None and max_frames < 1:
            raise ValueError(f"max_frames must be at least 1, not {max_frames}")
        self.source = source
        self.pipeline = pipeline
        self.on_result = on_result
        self.on_status = on_status
        self.every_frame = every_frame
        self.reconnect = source.is_camera if reconnect is None else reconnect
        self.reconnect_interval_s = reconnect_interval_s
        self.max_frames = max_frames
        self._stop = threading.Event()
        self._mailbox = NewestFrameMailbox()
        self._statuses: queue.SimpleQueue[LiveStatus] = queue.SimpleQueue()
        self._capture_error: Exception | None = None
        self._ran = False

    def stop(self) -> None:
        """Ask the loop to end after the frame in hand (any thread)."""
        self._stop.set()

    # ------------------------------------------------------------- capture thread
    def _capture(self) -> None:
        try:
            while not self._stop.is_set():
                try:
                    frame = self.source.read()
                except CameraError as exc:
                    if not self.reconnect:
                        raise
                    log.warning("%s", exc)
                    self._statuses.put(LiveStatus("camera lost", str(exc)))
                    if not self._reopen():
                        return
                    self._statuses.put(LiveStatus("camera back", f"{self.source.name} is back"))
                    continue
                if frame is None:
                    return  # the end of a video file
                self._mailbox.put(frame, wait=self.every_frame)
        except Exception as exc:  # handed to run(), which raises it on its own thread
            self._capture_error = exc
        finally:
            self._mailbox.close()

    def _reopen(self) -> bool:
        while not self._stop.wait(self.reconnect_interval_s):
            try:
                self.source.open()
                return True
            except CameraError as exc:
                log.info("still waiting for %s: %s", self.source.name, exc)
        return False

    # ---------------------------------------------------------- processing thread
    def run(self, ctx: TaskContext | None = None) -> LiveSummary:
        """Capture and classify until the video ends, ``max_frames`` are processed,
        :meth:`stop` or the context is cancelled. Raises CameraError when the source
        cannot be opened (or is lost and ``reconnect`` is off)."""
        ctx = ctx or null_context()
        if self._ran:
            raise RuntimeError("a LiveLoop runs once; make a new one to start again")
        self._ran = True
        if not self.source.is_open:
            self.source.open()
        self.pipeline.reset()
        started = time.monotonic()
        capture = threading.Thread(target=self._capture, name="facelab-webcam-capture",
                                   daemon=True)
        capture.start()
        times: deque[float] = deque(maxlen=FPS_WINDOW)
        processed = detections = 0
        ended = LiveEnding.STOPPED
        try:
            while True:
                self._deliver_statuses()
                if ctx.cancelled:
                    ended = LiveEnding.CANCELLED
                    break
                if self._stop.is_set():
                    break
                frame = self._mailbox.take(timeout=0.1)
                if frame is None:
                    if self._mailbox.closed:
                        ended = LiveEnding.END_OF_VIDEO
                        break
                    continue
                analysis = self.pipeline.process(frame)
                now = time.monotonic()
                times.append(now)
                fps = (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 else 0.0
                self.on_result(FrameResult(frame.index, frame.timestamp, analysis.faces,
                                           analysis.detect_ran, fps,
                                           (now - frame.timestamp) * 1000.0,
                                           self._mailbox.dropped, frame.rgb, analysis.gradcam))
                processed += 1
                detections += analysis.detect_ran
                if self.max_frames is not None and processed >= self.max_frames:
                    ended = LiveEnding.FRAME_LIMIT
                    break
        finally:
            self._stop.set()
            self._mailbox.close()
            capture.join(timeout=5.0)
            if capture.is_alive():
                log.warning("the capture thread did not stop within 5 s (a blocked camera?)")
            else:
                self.source.close()
            self._deliver_statuses()
        if self._capture_error is not None:
            raise self._capture_error
        summary = LiveSummary(processed, self.source.frames_read, self._mailbox.dropped,
                              detections, processed - detections,
                              time.monotonic() - started, ended)
        log.info("live loop ended: %s", summary)
        return summary

    def _deliver_statuses(self) -> None:
        while True:
            try:
                status = self._statuses.get_nowait()
            except queue.Empty:
                return
            if status.state == "camera back":
                self.pipeline.reset()  # the old boxes say nothing about the new picture
            if self.on_status is not None:
                self.on_status(status)
