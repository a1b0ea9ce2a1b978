"""The library page: drag-and-drop import, labelling keys, person search, undo/redo,
persons, the photo viewer and the hooks other pages use."""

from __future__ import annotations

import shutil
import threading

import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QInputDialog, QMessageBox

from engine.catalog import CatalogError
from gui.jobs import JobState
from gui.models.face_grid import STATUS_UNLABELLED
from gui.models.persons import NAME_ROLE, SHORTCUT_ROLE
from tests.gui.conftest import add_faces


def _labels(library):
    return {f.id: f.person_id for f in library._session.catalog.faces()}


def _person_id(library, name):
    return library._session.catalog.person_by_name(name).id


def _drop(widget, paths):
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    enter = QDragEnterEvent(QPoint(10, 10), Qt.DropAction.CopyAction, mime,
                            Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, enter)
    assert enter.isAccepted()
    drop = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime,
                      Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, drop)


@pytest.mark.slow
def test_dropping_a_folder_imports_it_and_faces_appear(qtbot, library, datasets, tmp_path):
    photos = tmp_path / "photos"
    for person in ("madonna", "elton_john"):
        sources = sorted((datasets / "5celeb" / person).iterdir())[:2]
        (photos / person).mkdir(parents=True)
        for source in sources:
            shutil.copy(source, photos / person / source.name)
    library.folders_checkbox.setChecked(True)
    runner = library._runner

    with qtbot.waitSignal(runner.job_submitted, timeout=5_000) as submitted:
        _drop(library, [photos])
    job = submitted.args[0]
    with qtbot.waitSignal(job.finished, timeout=180_000):
        pass

    assert job.state is JobState.SUCCEEDED, job.error_details
    assert library.grid_model.rowCount() >= 4
    qtbot.waitUntil(lambda: {p.name for p in library.persons_model.persons()} ==
                    {"madonna", "elton_john"})
    shown = {library.grid_model.index(r).data() for r in range(library.grid_model.rowCount())}
    assert {"madonna", "elton_john"} <= shown
    assert "Import finished" in library.window().banner.text()


def test_number_keys_label_the_selection_and_zero_unlabels(qtbot, library):
    ids = add_faces(library._session.project, 6, tag="n")
    for name in ("Bob", "Alice"):
        library._session.create_person(name)
    library._session.notify_faces_added()
    library.set_filter(library.current_filter, force=True)
    library.select_faces(ids[:3])

    QTest.keyClick(library.grid_view, Qt.Key.Key_1)  # keys follow creation: 1 is Bob
    bob = _person_id(library, "Bob")
    assert [_labels(library)[i] for i in ids] == [bob] * 3 + [None] * 3
    assert library.grid_model.index(library.grid_model.row_of(ids[0])).data() == "Bob"

    QTest.keyClick(library.grid_view, Qt.Key.Key_0)
    assert all(_labels(library)[i] is None for i in ids)
    QTest.keyClick(library.grid_view, Qt.Key.Key_1)
    QTest.keyClick(library.grid_view, Qt.Key.Key_Delete)
    assert all(_labels(library)[i] is None for i in ids)
    QTest.keyClick(library.grid_view, Qt.Key.Key_9)  # no 9th person: nothing happens
    assert all(_labels(library)[i] is None for i in ids)


def test_undo_and_redo_shortcuts(qtbot, library):
    window = library.window()
    ids = add_faces(library._session.project, 2, tag="u")
    library._session.create_person("Alice")
    library._session.notify_faces_added()
    library.select_faces(ids)
    QTest.keyClick(library.grid_view, Qt.Key.Key_1)
    alice = _person_id(library, "Alice")
    assert window.actions["undo"].isEnabled() and "Alice" in window.actions["undo"].text()

    QTest.keyClick(library.grid_view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert [_labels(library)[i] for i in ids] == [None, None]
    assert library.grid_model.index(library.grid_model.row_of(ids[0])).data() == \
        STATUS_UNLABELLED
    assert window.actions["redo"].isEnabled()

    QTest.keyClick(library.grid_view, Qt.Key.Key_Z,
                   Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert [_labels(library)[i] for i in ids] == [alice, alice]
    assert not window.actions["redo"].isEnabled()


def test_typing_a_name_searches_persons_and_creates_new_ones(qtbot, library):
    ids = add_faces(library._session.project, 2, tag="s")
    for name in ("Alice", "Alfred", "Bob"):
        library._session.create_person(name)
    library._session.notify_faces_added()
    library.select_faces(ids[:1])

    QTest.keyClick(library.grid_view, "a")  # opens the search bar
    search = library.search_bar
    assert search.isVisible() and search.line_edit.text() == "a"
    QTest.keyClicks(search.line_edit, "lic")
    QTest.keyClick(search.line_edit, Qt.Key.Key_Return)
    assert _labels(library)[ids[0]] == _person_id(library, "Alice")
    assert not search.isVisible()

    library.select_faces(ids[1:])
    QTest.keyClick(library.grid_view, "z")
    QTest.keyClicks(search.line_edit, "oe")
    QTest.keyClick(search.line_edit, Qt.Key.Key_Return)
    assert _labels(library)[ids[1]] == _person_id(library, "zoe")
    assert "zoe" in [p.name for p in library.persons_model.persons()]


def test_rename_and_merge_persons_update_every_view(qtbot, library, monkeypatch):
    session = library._session
    alicia = add_faces(session.project, 2, person="Alicia", tag="a")
    alice = add_faces(session.project, 1, person="Alice", tag="b")
    session.notify_faces_added()
    qtbot.waitUntil(lambda: library.persons_model.rowCount() == 2)
    panel = library.person_panel

    panel.select_filter(_person_filter(library, "Alicia"))
    monkeypatch.setattr(QInputDialog, "getText", lambda *a, **k: ("Alicja", True))
    panel.rename_dialog()
    qtbot.waitUntil(lambda: "Alicja" in library.persons_model.names().values())
    assert library.grid_model.index(library.grid_model.row_of(alicia[0])).data() == "Alicja"

    panel.select_filter(_person_filter(library, "Alicja"))
    monkeypatch.setattr(QInputDialog, "getItem", lambda *a, **k: ("Alice", True))
    monkeypatch.setattr(QMessageBox, "question",
                        lambda *a, **k: QMessageBox.StandardButton.Yes)
    panel.merge_dialog()
    qtbot.waitUntil(lambda: library.persons_model.rowCount() == 1)
    target = _person_id(library, "Alice")
    assert {_labels(library)[i] for i in alicia + alice} == {target}
    assert library.persons_model.person(0).count == 3


def test_renaming_to_an_existing_name_explains_itself(qtbot, library):
    session = library._session
    add_faces(session.project, 1, person="Alice", tag="a")
    bob = session.create_person("Bob")
    assert not session.rename_person(bob.id, "Alice")
    assert "already exists" in library.window().banner.text()


def test_photo_viewer_labels_one_face_and_marks_another_not_a_face(qtbot, library):
    session = library._session
    ids = add_faces(session.project, 2, per_photo=2, tag="g")
    alice = session.create_person("Alice")
    session.notify_faces_added()
    library.set_filter(library.current_filter, force=True)

    viewer = library.open_photo_viewer(ids[0])
    qtbot.waitUntil(lambda: "cannot be shown" in viewer.status_label.text(), timeout=10_000)
    assert viewer.face_list.count() == 2
    viewer.select_face(ids[1])
    viewer.label_current(alice.id)
    assert _labels(library)[ids[1]] == alice.id
    viewer.select_face(ids[0])
    QTest.keyClick(viewer, Qt.Key.Key_X)
    assert session.catalog.face(ids[0]).rejected
    assert library.grid_model.row_of(ids[0]) is None  # hidden from the grid
    QTest.keyClick(viewer, Qt.Key.Key_X)
    assert not session.catalog.face(ids[0]).rejected
    viewer.close()


def test_an_outside_face_set_is_shown_for_review(qtbot, library):
    ids = add_faces(library._session.project, 5, tag="r")
    library._session.notify_faces_added()
    library.show_face_set("Misclassified by run 7", [ids[3], ids[1]])
    assert library.grid_model.face_ids() == [ids[3], ids[1]]
    assert library.title_label.text() == "Misclassified by run 7"


def test_a_failed_import_is_reported_and_changes_nothing(qtbot, library, monkeypatch):
    def broken_import(root, paths, labels_from_folders):
        def job(ctx):
            raise CatalogError("cannot save changes, the disk is full")
        return job

    monkeypatch.setattr("gui.pages.library.import_and_crop", broken_import)
    before = library._session.catalog.stats()
    job = library.import_paths(["/nowhere"], labels_from_folders=False)
    with qtbot.waitSignal(job.finished, timeout=10_000):
        pass
    assert job.state is JobState.FAILED
    banner = library.window().banner
    assert banner.isVisible() and "the disk is full" in banner.text()
    assert "Traceback" in banner.details
    assert library._session.catalog.stats() == before


def test_cancel_from_the_status_bar(qtbot, library, monkeypatch):
    started = threading.Event()

    def endless_import(root, paths, labels_from_folders):
        def job(ctx):
            started.set()
            while True:
                ctx.check()
                ctx.report("import", 1, 10)
                threading.Event().wait(0.005)
        return job

    monkeypatch.setattr("gui.pages.library.import_and_crop", endless_import)
    job = library.import_paths(["/somewhere"], labels_from_folders=False)
    status = library.window().job_status
    qtbot.waitUntil(lambda: status.isVisible() and status.shown_job is job, timeout=10_000)
    qtbot.waitUntil(started.is_set)
    with qtbot.waitSignal(job.cancelled, timeout=10_000):
        QTest.mouseClick(status.cancel_button, Qt.MouseButton.LeftButton)
    assert "Import cancelled" in library.window().banner.text()
    qtbot.waitUntil(lambda: not status.isVisible())


@pytest.mark.slow
def test_cancelling_a_real_import_mid_crop_keeps_what_was_cropped(qtbot, library, datasets):
    """The app's crop runs in worker processes: a cancel stops it within a photo or two,
    the faces cropped so far stay in the library, and importing again finishes the rest."""
    folder = datasets / "5celeb"
    total = len(list(folder.rglob("*.jpg")))
    job = library.import_paths([folder], labels_from_folders=True)
    crop_done = []

    def on_progress(progress):
        if progress.stage == "crop" and progress.done >= 3 and not crop_done:
            crop_done.append(progress.done)
            job.cancel()

    job.progress_changed.connect(on_progress)
    with qtbot.waitSignal(job.finished, timeout=180_000):
        pass
    assert job.state is JobState.CANCELLED and crop_done
    catalog = library._session.catalog
    pending = len(catalog.photos("pending"))
    assert 0 < pending <= total - 3
    qtbot.waitUntil(lambda: library.grid_model.rowCount() >= total - pending)

    again = library.import_paths([folder], labels_from_folders=True)
    with qtbot.waitSignal(again.finished, timeout=180_000):
        pass
    assert again.state is JobState.SUCCEEDED, again.error_details
    assert catalog.photos("pending") == [] and catalog.stats()["photos"] == total
    qtbot.waitUntil(lambda: library.grid_model.rowCount() >= total)


def _person_filter(library, name):
    from gui.models.face_filter import person_filter

    return person_filter(_person_id(library, name), name)


def test_the_suspicious_filter_follows_the_finder_and_the_verdicts(qtbot, library):
    from gui.models import face_filter as ff
    from gui.models.persons import COUNT_ROLE

    session = library._session
    catalog = session.catalog
    anna = add_faces(session.project, 2, person="anna", tag="a")
    add_faces(session.project, 1, person="ben", tag="b")
    session.notify_faces_added()
    ben_id = _person_id(library, "ben")

    def suspicious_count():
        panel = library.person_panel.filter_list
        rows = [panel.item(r) for r in range(panel.count())]
        return next(item.data(COUNT_ROLE) for item in rows if "Suspicious" in item.text())

    # The finder (a job, through its own connection) stores two suspicious labels.
    catalog.runs.replace_label_issues([(anna[0], 0.9, None, ben_id), (anna[1], 0.5, None, ben_id)])
    session.notify_label_issues_changed()
    qtbot.waitUntil(lambda: suspicious_count() == 2)
    library.set_filter(ff.FaceFilter(ff.SUSPICIOUS, "Suspicious labels"))
    assert library.grid_model.rowCount() == 2

    # A verdict (given on the Evaluate page) takes the face off the list.
    catalog.runs.set_label_issue_status(anna[0], "rejected")
    session.notify_label_issues_changed()
    qtbot.waitUntil(lambda: suspicious_count() == 1)
    assert library.grid_model.rowCount() == 1


def test_adding_persons_moves_no_one_to_another_number_key(qtbot, library):
    session = library._session
    ids = add_faces(session.project, 3, tag="k")
    for name in ("Zoe", "Mia"):
        session.create_person(name)
    session.notify_faces_added()
    library.set_filter(library.current_filter, force=True)
    model = library.persons_model
    keys_before = {p.name: p.number_key for p in model.persons()}
    session.create_person("Adam")  # first in the alphabet
    keys = {p.name: p.number_key for p in model.persons()}
    assert keys == {**keys_before, "Adam": 3}
    # The list shows every key beside its person, and the key labels with that person.
    shown = {model.index(r).data(NAME_ROLE): model.index(r).data(SHORTCUT_ROLE)
             for r in range(model.rowCount())}
    assert shown == {"Zoe": "1", "Mia": "2", "Adam": "3"}
    library.select_faces(ids[:1])
    QTest.keyClick(library.grid_view, Qt.Key.Key_1)
    assert _labels(library)[ids[0]] == _person_id(library, "Zoe")
    viewer = library.open_photo_viewer(ids[0])  # the viewer's keys, with their names
    combo = [viewer.person_combo.itemText(i) for i in range(viewer.person_combo.count())]
    assert combo == ["1  Zoe", "2  Mia", "3  Adam"]
    QTest.keyClick(viewer, Qt.Key.Key_3)
    assert _labels(library)[ids[0]] == _person_id(library, "Adam")
    viewer.close()
    # The user can pin a key; the person who had it gets the other's old key.
    session.set_number_key(_person_id(library, "Adam"), 1)
    assert {p.name: p.number_key for p in model.persons()} == {"Adam": 1, "Mia": 2, "Zoe": 3}
    menu = library.person_panel.key_menu(model.persons()[0])
    assert [a.text() for a in menu.actions()][:2] == ["1", "2  (now Mia)"]


def test_every_person_change_undoes_in_order_even_after_a_restart(qtbot, library, monkeypatch):
    window = library.window()
    session = library._session
    root = session.root
    alicia = add_faces(session.project, 2, person="Alicia", tag="a")
    bob = add_faces(session.project, 1, person="Bob", tag="b")
    session.notify_faces_added()
    qtbot.waitUntil(lambda: library.persons_model.rowCount() == 2)
    panel = library.person_panel
    questions = []
    monkeypatch.setattr(QMessageBox, "question", lambda parent, title, text, *a, **k:
                        questions.append(text) or QMessageBox.StandardButton.Yes)

    panel.select_filter(_person_filter(library, "Alicia"))
    monkeypatch.setattr(QInputDialog, "getText", lambda *a, **k: ("Alicja", True))
    panel.rename_dialog()
    assert library.title_label.text() == "Alicja"  # the header follows a rename
    assert window.actions["undo"].text() == "Undo Rename Alicia to Alicja"
    monkeypatch.setattr(QInputDialog, "getItem", lambda *a, **k: ("Bob", True))
    panel.merge_dialog()
    assert "cannot be undone" not in questions[-1] and "Undo" in questions[-1]
    bob_id = _person_id(library, "Bob")
    assert {_labels(library)[i] for i in alicia + bob} == {bob_id}
    viewer = library.open_photo_viewer(bob[0])
    viewer.reject_button.click()
    assert session.catalog.face(bob[0]).rejected
    viewer.close()
    panel.select_filter(_person_filter(library, "Bob"))
    panel.delete_dialog()
    assert "cannot be undone" not in questions[-1]
    assert library.persons_model.rowCount() == 0
    assert window.actions["undo"].text() == "Undo Delete Bob"

    def ctrl_z(page):
        QTest.keyClick(page.grid_view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)

    ctrl_z(library)  # the delete
    assert [p.name for p in library.persons_model.persons()] == ["Bob"]
    assert {session.catalog.face(i).person_id for i in alicia + bob} == {bob_id}
    ctrl_z(library)  # "not a face"
    assert not session.catalog.face(bob[0]).rejected
    assert library.grid_model.row_of(bob[0]) is not None

    window.close_project(forget=False)
    assert window.open_project(str(root))
    library = window.library_page
    library.grid_view.setFocus()
    assert window.actions["undo"].text() == "Undo Merge Alicja into Bob"
    ctrl_z(library)  # the merge, not an older step
    alicja_id = _person_id(library, "Alicja")
    assert {p.name for p in library.persons_model.persons()} == {"Alicja", "Bob"}
    assert [_labels(library)[i] for i in alicia + bob] == [alicja_id, alicja_id, bob_id]
    ctrl_z(library)  # the rename
    assert {p.name for p in library.persons_model.persons()} == {"Alicia", "Bob"}
    assert not window.actions["undo"].isEnabled()


def test_the_photo_viewer_says_a_box_is_not_a_face(qtbot, library):
    session = library._session
    ids = add_faces(session.project, 2, per_photo=2, tag="v")
    session.notify_faces_added()
    viewer = library.open_photo_viewer(ids[0])
    assert viewer.reject_button.text() == "Not a face" and not viewer.face_state_label.text()
    assert not viewer.unlabel_button.isEnabled()  # unlabelled: Unlabel would do nothing
    qtbot.mouseClick(viewer.reject_button, Qt.MouseButton.LeftButton)
    assert session.catalog.face(ids[0]).rejected
    assert viewer.reject_button.isChecked() and "✓" in viewer.reject_button.text()
    assert "not a face" in viewer.face_state_label.text()
    assert not viewer.label_button.isEnabled() and not viewer.unlabel_button.isEnabled()
    qtbot.mouseClick(viewer.reject_button, Qt.MouseButton.LeftButton)
    assert not session.catalog.face(ids[0]).rejected
    assert not viewer.reject_button.isChecked() and viewer.label_button.isEnabled()
    viewer.close()


def test_names_follow_the_engines_rule_in_the_app(qtbot, library, monkeypatch):
    session = library._session
    add_faces(session.project, 1, person="Alice", tag="a")
    session.notify_faces_added()
    library.person_panel.select_filter(_person_filter(library, "Alice"))
    monkeypatch.setattr(QInputDialog, "getText", lambda *a, **k: ("   ", True))
    library.person_panel.rename_dialog()
    library.person_panel.new_person_dialog()
    assert [p.name for p in session.catalog.persons()] == ["Alice"]
    assert "needs a name" in library.window().banner.text()
