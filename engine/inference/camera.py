"""Frames from a camera or a video file, through OpenCV.

OpenCV rather than QtMultimedia: the engine never imports Qt, and the CLI and headless
machines (a lab server, CI with a video file standing in for the camera) need the same
capture path as the app. OpenCV's device names are not portable, so cameras are known
by index; on Linux the kernel's name for the device is shown where it has one.

A :class:`FrameSource` turns the ways a camera fails into one :class:`CameraError` with
a message for the user: no camera at that index, a camera that opens but sends no
pictures (another program is using it), and a camera that stops sending pictures
mid-stream (unplugged). A source can be opened again after an error, so a live view
recovers when the camera comes back.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Protocol

import numpy as np

log = logging.getLogger(__name__)


class CameraError(Exception):
    """A camera (or video file) that cannot give pictures; the message says why."""


@dataclass(frozen=True)
class CameraInfo:
    index: int
    name: str
    width: int
    height: int


@dataclass(frozen=True)
class Frame:
    index: int            # 0, 1, 2... in capture order, including frames dropped later
    timestamp: float      # time.monotonic() when the picture was read
    rgb: np.ndarray = field(repr=False, compare=False)  # (H, W, 3) uint8, read-only


class Capture(Protocol):
    """The part of cv2.VideoCapture a source uses (tests pass a fake)."""

    def isOpened(self) -> bool: ...
    def read(self) -> tuple[bool, np.ndarray | None]: ...
    def get(self, prop: int) -> float: ...
    def set(self, prop: int, value: float) -> bool: ...
    def release(self) -> None: ...


@contextlib.contextmanager
def quiet_opencv() -> Iterator[None]:
    """OpenCV logs a warning for every camera index that is not there; probing is
    expected to miss, so its log is silenced meanwhile (the level is process-wide)."""
    import cv2

    # cv2.getLogLevel/setLogLevel in the pinned wheel; cv2.utils.logging in some other
    # builds (distribution packages, older wheels); neither in a few: then no silence.
    levels = cv2 if hasattr(cv2, "getLogLevel") else getattr(getattr(cv2, "utils", None), "logging", None)
    if levels is None or not hasattr(levels, "getLogLevel"):
        yield
        return
    saved = levels.getLogLevel()
    levels.setLogLevel(0)  # silent
    try:
        yield
    finally:
        levels.setLogLevel(saved)


def _open_capture(target: int | str) -> Capture:
    import cv2

    with quiet_opencv():
        return cv2.VideoCapture(target)


def _device_name(index: int) -> str:
    try:
        return Path(f"/sys/class/video4linux/video{index}/name").read_text().strip() \
            or f"Camera {index}"
    except OSError:
        return f"Camera {index}"


def list_cameras(max_index: int = 8, opener: Callable[[int | str], Capture] = _open_capture
                 ) -> list[CameraInfo]:
    """The cameras OpenCV can open among indexes 0..max_index-1 (quietly: a missing
    index is not an error). A camera busy in another program may still be listed.

    OpenCV, not QtMultimedia, so that the engine stays Qt-free and the CLI and headless
    machines see the same cameras as the app."""
    import cv2

    found = []
    for index in range(max_index):
        capture = opener(index)
        try:
            if capture.isOpened():
                found.append(CameraInfo(index, _device_name(index),
                                        int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)),
                                        int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))))
        finally:
            capture.release()
    log.info("cameras found: %s", [c.index for c in found])
    return found


def parse_source(text: str | int | os.PathLike) -> int | Path:
    """A camera index ("0", 0) or a video file path, from a command-line value."""
    if isinstance(text, int):
        return text
    if isinstance(text, str) and text.strip().isdigit():
        return int(text.strip())
    return Path(text)


class FrameSource:
    """RGB frames with timestamps from a camera index or a video file.

    A video file stands in for a camera: with ``pace`` it is read at its own frame
    rate (or ``fps``), so a slow consumer misses frames as it would with a camera;
    without, it is read as fast as it is asked. ``read`` returns None at the end of
    a file; a camera never ends, it fails with :class:`CameraError`.
    """

    def __init__(self, source: int | str | os.PathLike, *, pace: bool = True,
                 fps: float | None = None, size: tuple[int, int] | None = (640, 480),
                 first_frame_timeout_s: float = 3.0, max_failed_reads: int = 10,
                 retry_delay_s: float = 0.02,
                 opener: Callable[[int | str], Capture] = _open_capture) -> None:
        self.source = parse_source(source)
        self.pace = pace
        self.fps = fps
        self.size = size  # asked of a camera (it may choose another); a file keeps its own
        self.first_frame_timeout_s = first_frame_timeout_s
        self.max_failed_reads = max_failed_reads
        self.retry_delay_s = retry_delay_s
        self._opener = opener
        self._capture: Capture | None = None
        self._pending: np.ndarray | None = None  # the first frame, read by open()
        self._next_index = 0
        self._opened_at = 0.0
        self._started: float | None = None  # when the first frame of a file was read
        self._file_frames = 0

    @property
    def is_camera(self) -> bool:
        return isinstance(self.source, int)

    @property
    def name(self) -> str:
        return f"camera {self.source}" if self.is_camera else str(self.source)

    @property
    def frames_read(self) -> int:
        return self._next_index

    @property
    def is_open(self) -> bool:
        return self._capture is not None

    def open(self) -> None:
        """Open (or reopen) the source and wait for its first picture."""
        import cv2

        self.close()
        if not self.is_camera and not Path(self.source).is_file():
            raise CameraError(f"Video file not found: {self.source}")
        capture = self._opener(self.source if self.is_camera else str(self.source))
        if not capture.isOpened():
            capture.release()
            raise CameraError(
                f"No camera at index {self.source}: is it plugged in and allowed to be used?"
                if self.is_camera else f"Cannot open the video file {self.source} "
                "(not a video, or a format OpenCV cannot read)")
        if self.is_camera and self.size:
            capture.set(cv2.CAP_PROP_FRAME_WIDTH, self.size[0])
            capture.set(cv2.CAP_PROP_FRAME_HEIGHT, self.size[1])
        first = self._first_picture(capture)
        if first is None:
            capture.release()
            raise CameraError(
                f"Camera {self.source} opened but sends no pictures: another program may be "
                "using it; close that program and try again." if self.is_camera
                else f"The video file {self.source} holds no readable frame")
        file_fps = capture.get(cv2.CAP_PROP_FPS)
        if self.fps is None and not self.is_camera:
            self.fps = file_fps if 0 < file_fps < 1000 else 30.0
        self._capture, self._pending = capture, first
        self._opened_at, self._started, self._file_frames = time.monotonic(), None, 0
        log.info("opened %s (%dx%d)", self.name, first.shape[1], first.shape[0])

    def _first_picture(self, capture: Capture) -> np.ndarray | None:
        deadline = time.monotonic() + self.first_frame_timeout_s
        while True:
            ok, bgr = capture.read()
            if ok and bgr is not None:
                return bgr
            if not self.is_camera or time.monotonic() >= deadline:
                return None
            time.sleep(self.retry_delay_s * 5)

    def read(self) -> Frame | None:
        """The next picture; None at the end of a video file. Raises CameraError when a
        camera stops sending pictures (after ``max_failed_reads`` failed reads in a row)."""
        import cv2

        if self._capture is None:
            raise CameraError(f"{self.name} is not open")
        bgr, self._pending = self._pending, None
        if bgr is not None and self.is_camera and time.monotonic() - self._opened_at > 0.5:
            bgr = None  # the picture open() waited for is stale by now: take a fresh one
        failures = 0
        while bgr is None:
            ok, bgr = self._capture.read()
            if ok and bgr is not None:
                break
            bgr = None
            if not self.is_camera:
                return None
            failures += 1
            if failures >= self.max_failed_reads:
                self.close()
                raise CameraError(f"Camera {self.source} stopped sending pictures "
                                  "(unplugged, or taken by another program?)")
            time.sleep(self.retry_delay_s)
        if not self.is_camera and self.pace and self.fps:
            self._wait_for_frame_time()
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        rgb.flags.writeable = False  # shared with other threads: nobody may change it
        frame = Frame(self._next_index, time.monotonic(), rgb)
        self._next_index += 1
        return frame

    def _wait_for_frame_time(self) -> None:
        if self._started is None:  # the clock starts at the first read, not at open()
            self._started = time.monotonic()
        due = self._started + self._file_frames / self.fps
        self._file_frames += 1
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)

    def close(self) -> None:
        if self._capture is not None:
            self._capture.release()
        self._capture, self._pending = None, None

    def __enter__(self) -> FrameSource:
        self.open()
        return self

    def __exit__(self, *exc) -> None:
        self.close()
