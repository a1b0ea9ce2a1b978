"""Stable ground under the pointer, and a window that fits its screen: a message that
appears or goes moves no button or panel (the user may be about to click it); the
window never opens larger than the screen's free area, every page fits a 1024 x 700
window, and nothing is cut at a right edge."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint
from PySide6.QtWidgets import QGraphicsSimpleTextItem, QWidget

from tests.gui.conftest import add_faces
from tests.imagegen import gradient, save


@pytest.fixture
def no_cameras(monkeypatch):
    monkeypatch.setattr("engine.inference.camera.list_cameras", lambda *a, **k: [])


def where(widget: QWidget) -> tuple[int, int, int, int]:
    """The widget's place on screen: moved or resized is a change."""
    top_left = widget.mapToGlobal(QPoint(0, 0))
    return top_left.x(), top_left.y(), widget.width(), widget.height()


def settle(qtbot, qapp) -> None:
    qapp.processEvents()
    qtbot.wait(20)
    qapp.processEvents()


@pytest.fixture
def opened(window, project, qtbot, qapp, no_cameras):
    add_faces(project, 6, person="ada", tag="a")
    add_faces(project, 4, person="bob", tag="b")
    root = project.root
    project.close()
    assert window.open_project(str(root))
    window.resize(1024, 700)
    settle(qtbot, qapp)
    return window


def test_the_window_never_opens_larger_than_the_screen(window, settings, runner, qtbot):
    available = window.screen().availableGeometry()
    assert available.contains(window.frameGeometry()), (window.frameGeometry(), available)

    # A size saved on a larger screen (or at a smaller scale factor) is fitted too.
    window.resize(available.width() + 900, available.height() + 700)
    window.move(available.left() + 300, available.top() + 200)
    window.close()  # saves the geometry
    from gui.app import create_main_window

    again = create_main_window(settings, runner)
    qtbot.addWidget(again)
    again.show()
    qtbot.waitExposed(again)
    assert available.contains(again.frameGeometry()), (again.frameGeometry(), available)
    again.close()


def test_the_window_banner_moves_nothing(opened, qtbot, qapp):
    opened.show_page("library")
    library = opened.library_page
    watched = [library.person_panel.person_list, library.import_button, library.grid_view]
    before = [where(w) for w in watched]
    opened.banner.show_error("The import failed: the disk is full. " * 3, "Traceback …")
    settle(qtbot, qapp)
    assert opened.banner.isVisible()
    assert [where(w) for w in watched] == before
    banner = opened.banner.geometry()
    assert opened.centralWidget().rect().contains(banner)  # all of it on screen
    opened.banner.dismiss()
    settle(qtbot, qapp)
    assert [where(w) for w in watched] == before


def test_show_in_library_moves_no_person(opened, qtbot, qapp):
    opened.show_page("library")
    library = opened.library_page
    persons = library.person_panel.person_list
    before = where(persons)
    library.show_face_set("Misclassified by run 1", library.grid_model.face_ids()[:3])
    settle(qtbot, qapp)
    assert library.person_panel.current_filter().title == "Misclassified by run 1"
    assert where(persons) == before


def test_train_messages_move_no_button(opened, qtbot, qapp):
    opened.show_page("train")
    page = opened.workspace.pages["train"]
    buttons = [page.start_button, page.stop_button, page.resume_button]
    before = [where(b) for b in buttons]
    page.show_message("Check at least one architecture to train. " * 4, error=True)
    settle(qtbot, qapp)
    assert page.message_text()
    assert [where(b) for b in buttons] == before
    page.show_message("")
    settle(qtbot, qapp)
    assert [where(b) for b in buttons] == before


def test_webcam_messages_move_neither_video_nor_panel(opened, qtbot, qapp):
    opened.show_page("webcam")
    page = opened.workspace.pages["webcam"]
    watched = [page.video, page.start_button, page.threshold_slider, page.gradcam_check,
               page.snapshot_button]
    qtbot.waitUntil(lambda: page._cameras_probed and page._cameras_job is None, timeout=10_000)
    settle(qtbot, qapp)  # "No camera found…" is said by now
    page.show_message("")
    settle(qtbot, qapp)
    assert not page.message_text()
    before = [where(w) for w in watched]
    page.show_message("Camera 0 was unplugged. Waiting for it to come back… (or press Stop)",
                      error=True)
    settle(qtbot, qapp)
    assert page.message_text()
    assert [where(w) for w in watched] == before
    page.gradcam_check.setChecked(True)  # its colour scale shows below it
    settle(qtbot, qapp)
    assert page.gradcam_legend.isVisible()
    assert [where(w) for w in watched] == before


def test_evaluate_banner_moves_no_table(opened, qtbot, qapp):
    opened.show_page("evaluate")
    page = opened.workspace.pages["evaluate"]
    from gui.pages.evaluate import LABELS_TAB

    page.show_tab(LABELS_TAB)
    settle(qtbot, qapp)
    table = page.issues_panel.table
    before = where(table), where(page.tabs)
    page.banner.show_info("Found 12 suspicious labels; the most likely mistakes first.")
    settle(qtbot, qapp)
    assert page.banner.isVisible()
    assert (where(table), where(page.tabs)) == before
    page.banner.dismiss()
    settle(qtbot, qapp)
    assert (where(table), where(page.tabs)) == before


def test_every_page_fits_a_1024_by_700_window(opened, qtbot, qapp):
    for key in ("library", "train", "evaluate", "webcam"):
        opened.show_page(key)
        settle(qtbot, qapp)
        # A page wider than the window made the window grow past the screen's edge.
        assert opened.minimumSizeHint().width() <= 1024 - 16, key
        assert opened.size().toTuple() == (1024, 700), key


def test_photo_viewer_names_stay_inside_the_photo(qtbot, library):
    session = library._session
    project = session.project
    ids = add_faces(project, 4, per_photo=4, tag="edge")  # the last box ends 30 px from the edge
    save(project.root / "edge" / "0.jpg", gradient(400, 300))
    person = session.create_person("Maximilian Featherstonehaugh-Worthington")
    session.label_faces([ids[3]], person.id)
    session.notify_faces_added()
    viewer = library.open_photo_viewer(ids[3])
    qtbot.addWidget(viewer)

    def names():
        return [item for item in viewer.scene.items() if isinstance(item, QGraphicsSimpleTextItem)]

    qtbot.waitUntil(lambda: len(names()) == 4, timeout=10_000)
    available = viewer.screen().availableGeometry()
    assert available.contains(viewer.frameGeometry()), (viewer.frameGeometry(), available)
    photo = viewer.scene.sceneRect()
    for name in names():
        box = name.sceneBoundingRect()
        assert photo.left() <= box.left() and box.right() <= photo.right() + 0.5, name.text()
    assert any("Featherstonehaugh" in name.text() for name in names())
    viewer.close()
