"""The Webcam page driven like a user: a video made of real 5celeb photos stands in for
the camera, and the session's small trained run (tests/engine/inference/live_run.py)
names the persons in it. Live naming, the threshold, Grad-CAM, snapshots into the
Library, stopping, and the ways a camera fails: none, a source that cannot open, a
camera unplugged and plugged back while running, the project closing under it."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from PySide6.QtCore import Qt

from engine.inference.camera import CameraInfo, FrameSource
from engine.inference.live_pipeline import LiveGradCam
from engine.inference.webcam import FrameResult
from gui.jobs import JobState, webcam_jobs
from gui.pages.page_context import PageContext
from gui.pages.webcam import WebcamPage
from gui.project_session import ProjectSession
from tests.engine.inference.live_run import HOLD, LiveRun
from tests.engine.inference.live_run import live_run as build_live_run

pytestmark = pytest.mark.slow

TIMEOUT_MS = 60_000  # the first start imports torch and MTCNN; later ones take a second


@pytest.fixture(scope="module")
def live_run(tmp_path_factory, datasets) -> LiveRun:
    return build_live_run(tmp_path_factory, datasets)


@pytest.fixture
def cameras(monkeypatch):
    """The cameras the page will find (none by default: the test machine has none, and
    a machine that has one must not change what the tests see)."""
    found: list[CameraInfo] = []
    monkeypatch.setattr("engine.inference.camera.list_cameras", lambda *a, **k: list(found))
    return found


@pytest.fixture
def session(live_run, project_copy, qapp):
    return ProjectSession(project_copy(live_run.root))


@pytest.fixture
def page(qtbot, session, runner, settings, cameras):
    page = WebcamPage(PageContext(session, runner, settings))
    qtbot.addWidget(page)
    page.resize(1100, 640)
    with qtbot.waitSignal(page.cameras_listed, timeout=TIMEOUT_MS):
        page.show()
    qtbot.waitExposed(page)
    yield page
    page.shutdown()


def start(qtbot, page, source: str | int | None = None):
    if isinstance(source, str):
        page.open_video(source)
    with qtbot.waitSignal(page.live_started, timeout=TIMEOUT_MS):
        qtbot.mouseClick(page.start_button, Qt.MouseButton.LeftButton)
    assert page.start_button.text() == "Stop" and not page.run_picker.isEnabled()
    return page.live_job


def stop(qtbot, page):
    job = page.live_job
    with qtbot.waitSignal(page.live_stopped, timeout=TIMEOUT_MS):
        qtbot.mouseClick(page.start_button, Qt.MouseButton.LeftButton)
    assert job.state is JobState.SUCCEEDED and job.result.ended == "cancelled"
    assert page.start_button.text() == "Start" and page.message_text() == "Stopped."


def expected_person(live_run: LiveRun, frame_index: int) -> str:
    """Who the video shows in a frame (it repeats; frame indexes go on counting)."""
    return live_run.segments[frame_index % (HOLD * len(live_run.segments)) // HOLD]


def painted_named_right(page, live_run) -> bool:
    view = page.video
    return (view.painted_index is not None and len(view.painted_captions) == 1
            and view.painted_captions[0].split()[0] == expected_person(live_run,
                                                                       view.painted_index))


# ------------------------------------------------------------------ live naming
def test_live_view_names_the_person_then_unknown_above_the_threshold_and_grad_cam(
        qtbot, page, live_run, runner):
    assert "No camera found" in page.message_text()  # and a video is the way on
    assert page.run_picker.current_run_id() == live_run.run_id
    page.run_picker.select_run(live_run.run_id)
    start(qtbot, page, str(live_run.video))

    qtbot.waitUntil(lambda: painted_named_right(page, live_run), timeout=TIMEOUT_MS)

    # A training job is not held back by the live view (which runs until stopped).
    training = runner.submit(lambda ctx: "trained", title="Training", gpu=True)
    with qtbot.waitSignal(training.succeeded, timeout=5_000):
        pass

    page.threshold_slider.setValue(100)  # the user drags it to the right end
    assert page.threshold_label.text() == "Unknown below: 100%"
    shown = page.video.painted_index
    qtbot.waitUntil(lambda: page.video.painted_index > shown + 1
                    and page.video.painted_captions
                    and all(c.startswith("unknown (closest: ")
                            for c in page.video.painted_captions), timeout=TIMEOUT_MS)

    page.gradcam_check.click()
    qtbot.waitUntil(lambda: page.video.painted_gradcam is not None, timeout=TIMEOUT_MS)
    assert page.video.painted_gradcam in live_run.segments
    page.gradcam_check.click()
    qtbot.waitUntil(lambda: page.video.painted_gradcam is None, timeout=5_000)

    stop(qtbot, page)
    assert page.run_picker.isEnabled() and page.start_button.isEnabled()


def test_the_grad_cam_inset_explains_the_face_in_view_and_goes_on_stop(qtbot, page, live_run):
    page.gradcam_check.setChecked(True)
    assert page.gradcam_legend.isVisible()  # the colour scale beside the switch
    start(qtbot, page, str(live_run.video))
    view = page.video
    qtbot.waitUntil(lambda: view.painted_gradcam is not None, timeout=TIMEOUT_MS)
    # Caption and map from one result, of a face the frame shows and names the same.
    assert view.painted_gradcam_caption.startswith(f"Grad-CAM: {view.painted_gradcam} ")
    assert any(view.painted_gradcam in caption for caption in view.painted_captions)

    stop(qtbot, page)
    view.repaint()
    assert view.has_frame  # the last frame stays, for a snapshot...
    assert view.painted_gradcam is None  # ...without a map computed on another frame


def test_snapshot_adds_the_faces_in_view_to_the_library_labelled(qtbot, page, live_run,
                                                                  session, runner, settings):
    from gui.pages.library import LibraryPage

    library = LibraryPage(PageContext(session, runner, settings))
    qtbot.addWidget(library)
    faces_before = library.grid_model.rowCount()
    photos_before = len(session.catalog.photos())
    assert page.label_combo.currentText() == "the predicted person"
    assert not page.snapshot_button.isEnabled()  # nothing in view yet
    start(qtbot, page, str(live_run.video))
    qtbot.waitUntil(lambda: painted_named_right(page, live_run), timeout=TIMEOUT_MS)
    stop(qtbot, page)  # the frame on screen stays: the one to add
    shown = page.shown_result
    qtbot.waitUntil(lambda: page.video.painted_index == shown.index, timeout=5_000)
    assert len(shown.faces) == 1 and page.snapshot_button.isEnabled()
    person = shown.faces[0].person
    assert person == expected_person(live_run, shown.index)

    with qtbot.waitSignals([page.snapshot_added, session.faces_changed], timeout=TIMEOUT_MS):
        qtbot.mouseClick(page.snapshot_button, Qt.MouseButton.LeftButton)

    catalog = session.catalog
    assert len(catalog.photos()) == photos_before + 1
    new_photo = max(catalog.photos(), key=lambda p: p.id)
    assert new_photo.path.startswith("webcam/")
    labelled = [f for f in catalog.faces(photo_id=new_photo.id) if f.person_id is not None]
    assert len(labelled) == 1 and labelled[0].label_source == "model"
    assert catalog.person_by_name(person).id == labelled[0].person_id
    assert library.grid_model.rowCount() > faces_before  # the Library shows it already
    assert f"labelled {person}" in page.message_text()


def test_the_feed_paints_only_the_newest_result_and_keeps_a_grad_cam(qtbot, qapp):
    """Results that arrive faster than the UI paints replace each other: one signal
    for the lot, the newest frame, and a Grad-CAM of an older frame is not lost."""
    feed = webcam_jobs.LiveFeed()
    told = []
    feed.result_ready.connect(lambda: told.append(feed.take()))
    picture = np.zeros((4, 6, 3), np.uint8)
    cam = LiveGradCam(1, "madonna", np.zeros((8, 8, 3), np.uint8))

    def produce():
        for index in range(20):
            feed(FrameResult(index, 0.0, (), True, 30.0, 5.0, 0, picture,
                             cam if index == 3 else None))

    worker = threading.Thread(target=produce)
    worker.start()
    worker.join()  # all twenty arrive before the UI thread gets to any
    qtbot.waitUntil(lambda: len(told) == 1, timeout=5_000)
    qapp.processEvents()
    frame, gradcam = told[0]
    assert len(told) == 1 and frame.result.index == 19
    assert frame.image.size().toTuple() == (6, 4)
    assert gradcam.person == "madonna" and gradcam.image.width() == 8


# ------------------------------------------------------------- camera trouble
def test_a_source_that_cannot_open_says_so_and_the_page_stays_usable(qtbot, page, live_run,
                                                                     tmp_path):
    broken = tmp_path / "notes.avi"
    broken.write_text("not a video")
    page.open_video(str(broken))
    with qtbot.waitSignal(page.live_stopped, timeout=TIMEOUT_MS):
        qtbot.mouseClick(page.start_button, Qt.MouseButton.LeftButton)
    assert "Cannot open the video file" in page.message_text()
    assert "notes.avi" in page.message_text() and "Traceback" not in page.message_text()
    assert page.start_button.text() == "Start" and page.start_button.isEnabled()

    start(qtbot, page, str(live_run.video))  # another source: it works
    assert page.message_text() == ""
    qtbot.waitUntil(lambda: painted_named_right(page, live_run), timeout=TIMEOUT_MS)
    stop(qtbot, page)


class UnpluggableCapture:
    """cv2.VideoCapture's surface: a camera that sends ``frames`` pictures, then none
    (unplugged); ``opened=False``: the camera is not there."""

    def __init__(self, picture: np.ndarray, frames: int = 10**9, opened: bool = True):
        self.picture, self.left, self.opened = picture, frames, opened

    def isOpened(self):
        return self.opened

    def read(self):
        time.sleep(0.01)
        if self.left <= 0:
            return False, None
        self.left -= 1
        return True, self.picture.copy()

    def get(self, prop):
        return 0.0

    def set(self, prop, value):
        return True

    def release(self):
        pass


def test_a_camera_unplugged_while_running_is_said_and_the_view_recovers(
        qtbot, page, live_run, cameras, monkeypatch):
    import cv2

    video = cv2.VideoCapture(str(live_run.video))
    picture = video.read()[1]  # a real face, as a camera sends it (BGR)
    video.release()
    captures = [UnpluggableCapture(picture, frames=40), UnpluggableCapture(picture, opened=False),
                UnpluggableCapture(picture)]
    monkeypatch.setattr(webcam_jobs, "make_source", lambda source: FrameSource(
        source, opener=lambda _: captures.pop(0), retry_delay_s=0.005,
        first_frame_timeout_s=0.1))
    cameras.append(CameraInfo(0, "Lab camera", 640, 480))
    with qtbot.waitSignal(page.cameras_listed, timeout=TIMEOUT_MS):
        page.refresh_cameras()
    assert page.source_combo.currentText() == "Lab camera (640×480)"
    assert page.message_text() == ""

    start(qtbot, page)
    qtbot.waitUntil(lambda: "stopped sending pictures" in page.message_text(),
                    timeout=TIMEOUT_MS)
    assert "Waiting for it to come back" in page.message_text() and page.is_live
    qtbot.waitUntil(lambda: page.message_text() == "Camera 0 is back.", timeout=TIMEOUT_MS)
    shown = page.video.painted_index
    qtbot.waitUntil(lambda: (page.video.painted_index or 0) > shown + 2, timeout=TIMEOUT_MS)
    stop(qtbot, page)


def test_closing_the_project_stops_the_live_view(qtbot, window, live_run, tmp_path, cameras):
    import shutil

    root = tmp_path / "project"
    shutil.copytree(live_run.root, root)
    assert window.open_project(str(root))
    window.show_page("webcam")
    page = window.workspace.page("webcam")
    job = start(qtbot, page, str(live_run.video))
    qtbot.waitUntil(lambda: page.video.painted_index is not None, timeout=TIMEOUT_MS)

    window.close_project()

    assert job.state.finished and not window.runner.is_busy
