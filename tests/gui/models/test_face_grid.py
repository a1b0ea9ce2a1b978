"""The grid's item model: Qt's model tester, paged rows, thumbnails off the UI thread,
row-exact refresh, and 20,000 faces."""

from __future__ import annotations

import threading
import time

from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QImageReader, QPixmap

from gui.models.face_filter import FaceFilter, NO_FACE, UNLABELLED
from gui.models.face_grid import (FACE_ID_ROLE, STATUS_LABELLED, STATUS_NO_FACE, STATUS_ROLE,
                                  STATUS_UNLABELLED, FaceGridModel)
from gui.models.thumbnails import ThumbnailCache
from tests.gui.conftest import add_faces


def _model(project, thumb_size=96):
    cache = ThumbnailCache(thumb_size)
    return FaceGridModel(project.catalog, cache), cache


def test_model_passes_qt_model_tester(qtmodeltester, project):
    labelled = add_faces(project, 5, person="Alice", tag="a")
    add_faces(project, 3, tag="b")
    model, _ = _model(project)
    model.set_person_names({project.catalog.person_by_name("Alice").id: "Alice"})
    model.set_face_ids(project.catalog.face_ids())
    qtmodeltester.check(model, force_py=True)
    model.set_face_ids(labelled)
    qtmodeltester.check(model, force_py=True)


def test_rows_show_person_or_status(project):
    alice = add_faces(project, 2, person="Alice", tag="a")
    loose = add_faces(project, 1, tag="b")
    whole = add_faces(project, 1, whole_image=True, tag="c")
    model, _ = _model(project)
    person_id = project.catalog.person_by_name("Alice").id
    model.set_person_names({person_id: "Alice"})
    model.set_face_ids(alice + loose + whole)
    texts = [model.index(r).data() for r in range(4)]
    statuses = [model.index(r).data(STATUS_ROLE) for r in range(4)]
    assert texts == ["Alice", "Alice", STATUS_UNLABELLED, STATUS_NO_FACE]
    assert statuses == [STATUS_LABELLED, STATUS_LABELLED, STATUS_UNLABELLED, STATUS_NO_FACE]
    assert FaceFilter(UNLABELLED).query(project.catalog) == loose + whole
    assert FaceFilter(NO_FACE).query(project.catalog) == whole


def test_thumbnails_are_decoded_off_the_ui_thread(qtbot, project, monkeypatch):
    [face_id] = add_faces(project, 1, tag="a")
    model, cache = _model(project)
    model.set_face_ids([face_id])
    decoding_threads = []
    original_read = QImageReader.read

    def spy_read(reader):
        decoding_threads.append(threading.get_ident())
        return original_read(reader)

    monkeypatch.setattr("gui.models.thumbnails.QImageReader.read", spy_read)
    placeholder = QPixmap(4, 4)
    model.set_placeholder(placeholder)
    shown = model.index(0).data(Qt.ItemDataRole.DecorationRole)
    assert shown.cacheKey() == placeholder.cacheKey()
    with qtbot.waitSignal(model.dataChanged, timeout=10_000) as changed:
        pass
    assert changed.args[2] == [Qt.ItemDataRole.DecorationRole]
    pixmap = model.index(0).data(Qt.ItemDataRole.DecorationRole)
    assert isinstance(pixmap, QPixmap) and pixmap.width() == 96
    assert decoding_threads and threading.get_ident() not in decoding_threads


def test_thumbnails_follow_the_device_pixel_ratio(qtbot, project):
    [face_id] = add_faces(project, 1, tag="a")
    model, cache = _model(project)
    cache.set_device_pixel_ratio(2.0)
    model.set_face_ids([face_id])
    model.index(0).data(Qt.ItemDataRole.DecorationRole)
    with qtbot.waitSignal(cache.thumbnail_ready, timeout=10_000):
        pass
    pixmap = model.index(0).data(Qt.ItemDataRole.DecorationRole)
    # 96 logical px at 2x: 192 physical, read from the 224 px crop, not the 112 px thumb.
    assert pixmap.width() == 192 and pixmap.devicePixelRatio() == 2.0
    assert cache.source_for(project.root / "t", project.root / "c").name == "c"


def test_cache_is_a_bounded_lru(qtbot):
    cache = ThumbnailCache(16, capacity=2)
    cache._pending.update({1, 2, 3})
    for key in (1, 2, 3):
        image = QImage(16, 16, QImage.Format.Format_RGB32)
        image.fill(0)
        cache._on_loaded(key, image)
    assert len(cache) == 2 and cache._pixmaps.keys() == {2, 3}


def test_refresh_repaints_only_the_changed_rows(qtbot, session):
    ids = add_faces(session.project, 10, tag="a")
    model, _ = _model(session.project)
    model.set_face_ids(ids)
    [model.index(r).data() for r in range(10)]  # rows cached
    alice = session.create_person("Alice")
    changes, resets = [], []
    model.dataChanged.connect(lambda first, last, roles: changes.append(
        (first.row(), last.row())))
    model.modelReset.connect(lambda: resets.append(True))
    change = session.catalog.set_labels([ids[2], ids[3], ids[7]], alice.id)
    model.refresh_faces(change.face_ids)
    assert changes == [(2, 3), (7, 7)] and not resets
    model.set_person_names({alice.id: "Alice"})
    assert model.index(7).data() == "Alice" and model.index(6).data() == STATUS_UNLABELLED


def test_twenty_thousand_faces_stay_smooth(qtbot, project):
    """Ids load in one query, rows a page at a time; the view lays out and scrolls to
    the end without touching every row."""
    from gui.widgets.face_grid_view import FaceGridView

    ids = add_faces(project, 20_000, per_photo=4, tag="big")
    model, cache = _model(project)
    view = FaceGridView(96)
    view.resize(1100, 800)
    qtbot.addWidget(view)
    started = time.perf_counter()
    model.set_face_ids(project.catalog.face_ids())
    view.setModel(model)
    view.show()
    qtbot.waitExposed(view)
    view.scrollToBottom()
    view.viewport().repaint()
    elapsed = time.perf_counter() - started
    assert model.rowCount() == 20_000 == len(ids)
    assert len(model._rows) < 2_000  # only pages near what was painted were fetched
    print(f"[figure] {elapsed:.2f} s to show 20,000 faces")  # a figure, not a verdict
    assert view.indexAt(view.viewport().rect().center()).data(FACE_ID_ROLE) > ids[15_000]


def test_faces_added_at_the_end_are_inserted_without_a_reset(qtbot, project):
    ids = add_faces(project, 4, tag="a")
    model, _ = _model(project)
    model.set_face_ids(ids[:2])
    resets, inserted = [], []
    model.modelReset.connect(lambda: resets.append(True))
    model.rowsInserted.connect(lambda parent, first, last: inserted.append((first, last)))
    model.set_face_ids(ids)  # an import added two faces
    assert inserted == [(2, 3)] and not resets and model.row_of(ids[3]) == 3
    model.set_face_ids(ids[1:])  # not an extension: reset
    assert resets == [True] and model.row_of(ids[1]) == 0
