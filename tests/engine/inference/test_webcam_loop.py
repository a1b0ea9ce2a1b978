"""The live loop's plumbing with fake cameras and a fake pipeline (no model, no camera):
the one-slot mailbox, frame dropping, camera failures and recovery, tracking, motion."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from engine.cli import main
from engine.inference.camera import CameraError, CameraInfo, Frame, FrameSource, list_cameras
from engine.inference.live_pipeline import (FrameAnalysis, LiveSettings, grey_thumbnail,
                                            match_tracks, motion_between)
from engine.inference.webcam import LiveLoop, NewestFrameMailbox
from engine.tasks import TaskContext


class FakeCapture:
    """cv2.VideoCapture's surface: ``frames`` pictures at ``fps``, then failures."""

    def __init__(self, *, opened=True, frames=10**9, fps=100.0, shape=(48, 64)):
        self.opened, self.left, self.delay = opened, frames, 1.0 / fps
        self.picture = np.full((*shape, 3), 90, np.uint8)
        self.released = False

    def isOpened(self):
        return self.opened

    def read(self):
        time.sleep(self.delay)
        if self.left <= 0:
            return False, None
        self.left -= 1
        return True, self.picture.copy()

    def get(self, prop):
        return {3: 64.0, 4: 48.0}.get(prop, 0.0)

    def set(self, prop, value):
        return True

    def release(self):
        self.released = True


def camera(*captures, **kwargs) -> FrameSource:
    """A camera source whose successive open() calls get the given fake captures."""
    queue = list(captures)
    kwargs.setdefault("retry_delay_s", 0.001)
    return FrameSource(0, opener=lambda target: queue.pop(0) if len(queue) > 1 else queue[0],
                       first_frame_timeout_s=0.05, **kwargs)


class SlowPipeline:
    """Stands in for FramePipeline: takes ``seconds`` per frame, finds no face."""

    def __init__(self, seconds: float = 0.0):
        self.seconds, self.seen, self.resets = seconds, [], 0

    def process(self, frame: Frame) -> FrameAnalysis:
        self.seen.append(frame.index)
        time.sleep(self.seconds)
        return FrameAnalysis((), True, 0.0, None)

    def reset(self):
        self.resets += 1


def frame(index: int) -> Frame:
    return Frame(index, time.monotonic(), np.zeros((2, 2, 3), np.uint8))


# ----------------------------------------------------------------------- mailbox
def test_the_mailbox_keeps_only_the_newest_frame_and_counts_the_rest_dropped():
    box = NewestFrameMailbox()
    for i in range(5):
        box.put(frame(i))
    assert box.take(timeout=0).index == 4
    assert box.dropped == 4
    assert box.take(timeout=0.01) is None  # nothing left: it never queued
    box.put(frame(5))
    box.close()
    assert box.take(timeout=0).index == 5  # a frame left at the end is still delivered
    assert box.take(timeout=0) is None and box.closed


def test_a_waiting_put_drops_nothing():
    box = NewestFrameMailbox()
    taken = []

    def consumer():
        while (got := box.take(timeout=1.0)) is not None:
            taken.append(got.index)
            time.sleep(0.005)

    worker = threading.Thread(target=consumer)
    worker.start()
    for i in range(20):
        box.put(frame(i), wait=True)
    box.close()
    worker.join()
    assert taken == list(range(20)) and box.dropped == 0


# ------------------------------------------------------------------ the live loop
def test_slow_processing_drops_frames_instead_of_falling_behind():
    results = []
    loop = LiveLoop(camera(FakeCapture(fps=100)), SlowPipeline(0.05), on_result=results.append,
                    max_frames=12)

    summary = loop.run()

    assert summary.frames == 12 and summary.ended == "frame limit"
    indexes = [r.index for r in results]
    assert indexes == sorted(indexes) and indexes[-1] - indexes[0] > 3 * (len(indexes) - 1)
    assert summary.dropped > 20 and results[-1].dropped > results[0].dropped
    # Each result is about the newest frame: latency stays near one processing time
    # (a growing queue would make it climb frame after frame).
    assert max(r.latency_ms for r in results[2:]) < 300
    assert summary.captured >= summary.frames + summary.dropped
    assert 5 < results[-1].fps < 25


def test_a_slow_callback_also_only_sees_the_newest_frames():
    seen = []
    loop = LiveLoop(camera(FakeCapture(fps=200)), SlowPipeline(),
                    on_result=lambda r: (seen.append(r), time.sleep(0.04)), max_frames=6)
    summary = loop.run()
    assert summary.dropped > 10 and len(seen) == 6


def test_stop_and_cancel_end_the_loop_from_another_thread():
    loop = LiveLoop(camera(FakeCapture()), SlowPipeline(0.01), on_result=lambda r: None)
    threading.Timer(0.2, loop.stop).start()
    assert loop.run().ended == "stopped"

    ctx = TaskContext()
    loop = LiveLoop(camera(FakeCapture()), SlowPipeline(0.01), on_result=lambda r: None)
    threading.Timer(0.2, ctx.cancel).start()
    summary = loop.run(ctx)
    assert summary.ended == "cancelled" and summary.frames > 0
    with pytest.raises(RuntimeError, match="runs once"):
        loop.run()


def test_a_camera_lost_mid_stream_fails_the_run_without_reconnect():
    loop = LiveLoop(camera(FakeCapture(frames=5), max_failed_reads=3), SlowPipeline(),
                    on_result=lambda r: None, reconnect=False)
    with pytest.raises(CameraError, match="stopped sending pictures"):
        loop.run()


def test_the_loop_recovers_when_the_camera_comes_back():
    statuses, results = [], []
    unplugged = FakeCapture(frames=5)
    gone = FakeCapture(opened=False)
    back = FakeCapture()
    pipeline = SlowPipeline()
    loop = LiveLoop(camera(unplugged, gone, gone, back, max_failed_reads=3), pipeline,
                    on_result=results.append, on_status=statuses.append,
                    reconnect_interval_s=0.02, max_frames=15)

    summary = loop.run()

    assert [s.state for s in statuses] == ["camera lost", "camera back"]
    assert "stopped sending pictures" in statuses[0].message
    assert summary.frames == 15 and summary.ended == "frame limit"
    assert pipeline.resets == 2  # at the start, and when the camera came back
    assert unplugged.released and back.released


def test_every_frame_mode_reads_a_whole_video_file(tmp_path):
    import cv2

    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30, (64, 48))
    for i in range(9):
        writer.write(np.full((48, 64, 3), 20 * i, np.uint8))
    writer.release()
    pipeline = SlowPipeline(0.01)
    loop = LiveLoop(FrameSource(path, pace=False), pipeline, on_result=lambda r: None,
                    every_frame=True)

    summary = loop.run()

    assert pipeline.seen == list(range(9))
    assert summary.ended == "end of video" and summary.dropped == 0 and summary.captured == 9


def test_every_frame_is_refused_for_a_camera():
    with pytest.raises(ValueError, match="video files"):
        LiveLoop(camera(FakeCapture()), SlowPipeline(), on_result=print, every_frame=True)


# -------------------------------------------------------------------- camera errors
def test_a_missing_camera_index_is_a_clear_camera_error(capfd):
    with pytest.raises(CameraError, match="No camera at index 97"):
        FrameSource(97).open()
    assert "WARN" not in capfd.readouterr().err  # OpenCV's own complaints are silenced


def test_a_busy_camera_opens_but_sends_no_pictures():
    with pytest.raises(CameraError, match="another program may be using it"):
        camera(FakeCapture(frames=0)).open()


def test_a_missing_or_unreadable_video_file(tmp_path):
    with pytest.raises(CameraError, match="not found"):
        FrameSource(tmp_path / "none.avi").open()
    (tmp_path / "notes.avi").write_text("not a video")
    with pytest.raises(CameraError, match="notes.avi"):
        FrameSource(tmp_path / "notes.avi").open()


def test_frames_are_rgb_read_only_with_increasing_timestamps():
    capture = FakeCapture()
    capture.picture[..., 0] = 255  # blue in OpenCV's BGR order
    with camera(capture) as source:
        first, second = source.read(), source.read()
    assert first.rgb.shape == (48, 64, 3) and first.rgb[0, 0].tolist() == [90, 90, 255]
    assert not first.rgb.flags.writeable
    assert (first.index, second.index) == (0, 1) and second.timestamp > first.timestamp


def test_list_cameras_probes_quietly(capfd):
    present = {0, 2}
    found = list_cameras(4, opener=lambda i: FakeCapture(opened=i in present))
    assert [(c.index, c.width, c.height) for c in found] == [(0, 64, 48), (2, 64, 48)]
    assert all(isinstance(c, CameraInfo) for c in list_cameras(2))  # real probing, quiet
    assert "WARN" not in capfd.readouterr().err


def test_cli_with_a_missing_camera_prints_one_line_and_exits_1(tmp_path, capsys):
    code = main(["webcam", str(tmp_path), "--run", "any", "--source", "97"])
    out, err = capsys.readouterr()
    assert code == 1 and out == ""
    assert err.strip().splitlines() == [err.strip()] and "No camera at index 97" in err


# ------------------------------------------------------------ tracking and motion
def test_new_boxes_keep_the_track_id_of_the_box_they_overlap():
    old = {1: (0, 0, 10, 10), 2: (50, 50, 60, 60)}
    ids, next_id = match_tracks(old, [(51, 51, 61, 61), (100, 0, 110, 10), (1, 0, 11, 10)],
                                0.3, 3)
    assert ids == [2, 3, 1] and next_id == 4


def test_motion_sees_a_face_moving_in_a_still_room():
    still = np.full((480, 640, 3), 120, np.uint8)
    moved = still.copy()
    moved[200:260, 300:360] = 250  # a small change: little of the frame, much of the box
    before, after = grey_thumbnail(still), grey_thumbnail(moved)
    whole_frame = motion_between(before, after, [], (640, 480))
    in_box = motion_between(before, after, [(290, 190, 370, 270)], (640, 480))
    assert whole_frame < LiveSettings().motion_threshold < in_box
    assert motion_between(before, grey_thumbnail(still), [(0, 0, 640, 480)], (640, 480)) == 0


def test_settings_are_checked():
    with pytest.raises(ValueError, match="detect_every"):
        LiveSettings(detect_every=0)
