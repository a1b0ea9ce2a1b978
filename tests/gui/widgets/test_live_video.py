"""The Webcam page's video: the Grad-CAM inset belongs to the face it was computed on."""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QColor, QImage

from engine.inference.live_pipeline import LiveFace, LiveGradCam
from gui.widgets.live_video import LiveVideoView

CROP = np.zeros((8, 8, 3), np.uint8)


def face(track: int, person: str, box=(10.0, 10.0, 60.0, 60.0)) -> LiveFace:
    return LiveFace(box, person, 0.9, False, ((person, 0.9), ("other", 0.1)), track, CROP)


def frame_image() -> QImage:
    image = QImage(160, 120, QImage.Format.Format_RGB888)
    image.fill(QColor("grey"))
    return image


def painted(qtbot, view: LiveVideoView, index: int, faces) -> None:
    view.show_frame(index, frame_image(), tuple(faces), "30 fps")
    view.repaint()
    qtbot.waitUntil(lambda: view.painted_index == index, timeout=2_000)


def test_the_inset_goes_when_its_face_leaves_or_is_named_otherwise(qtbot):
    view = LiveVideoView()
    qtbot.addWidget(view)
    view.resize(400, 300)
    view.show()
    qtbot.waitExposed(view)
    cam = LiveGradCam(1, "madonna", np.zeros((16, 16, 3), np.uint8), 0.87, False)
    view.show_gradcam(frame_image(), cam.person, cam.track_id, cam.caption())
    painted(qtbot, view, 1, [face(1, "madonna"), face(2, "elton_john", (80, 10, 120, 60))])
    assert view.painted_gradcam == "madonna"
    assert view.painted_gradcam_caption == "Grad-CAM: madonna 87%"

    # The same face still in view (another person beside it): the inset stays.
    painted(qtbot, view, 2, [face(1, "madonna"), face(3, "ben_afflek", (80, 10, 120, 60))])
    assert view.painted_gradcam == "madonna"
    # Another person under the same box (the track kept its id): not madonna's map.
    painted(qtbot, view, 3, [face(1, "elton_john")])
    assert view.painted_gradcam is None and not view.gradcam_shown

    view.show_gradcam(frame_image(), "madonna", 1, "Grad-CAM: madonna 87%")
    painted(qtbot, view, 4, [face(1, "madonna")])
    assert view.painted_gradcam == "madonna"
    painted(qtbot, view, 5, [face(2, "elton_john")])  # she left; he came in
    assert view.painted_gradcam is None
    painted(qtbot, view, 6, [face(1, "madonna")])  # and it does not come back by itself
    assert view.painted_gradcam is None


def test_a_flat_map_says_so_in_its_caption():
    cam = LiveGradCam(4, "madonna", np.zeros((16, 16, 3), np.uint8), 0.5, True)
    assert cam.caption() == "Grad-CAM: madonna 50% · flat map"


def test_another_source_clears_the_inset(qtbot, window, project, monkeypatch, tmp_path):
    monkeypatch.setattr("engine.inference.camera.list_cameras", lambda *a, **k: [])
    root = project.root
    project.close()
    assert window.open_project(str(root))
    window.show_page("webcam")
    page = window.workspace.pages["webcam"]
    page.open_video(str(tmp_path / "first.avi"))
    view = page.video
    view.show_gradcam(frame_image(), "madonna", 1, "Grad-CAM: madonna 87%")
    painted(qtbot, view, 1, [face(1, "madonna")])
    assert view.painted_gradcam == "madonna"
    page.open_video(str(tmp_path / "second.avi"))  # the user picks another source
    view.repaint()
    assert view.painted_gradcam is None and not view.gradcam_shown
