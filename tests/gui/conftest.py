"""GUI tests run offscreen, with their own settings file and a runner shut down after
each test (no thread outlives a test)."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _isolated_settings(tmp_path, qapp):
    from PySide6.QtCore import QSettings

    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope,
                      str(tmp_path / "settings"))
    yield


@pytest.fixture
def runner(qapp):
    from gui.jobs import JobRunner

    jobs = JobRunner()
    yield jobs
    assert jobs.shutdown(timeout_ms=60_000), "a job did not stop"
    jobs.deleteLater()


def add_faces(project, count: int, *, person: str | None = None, per_photo: int = 1,
              whole_image: bool = False, tag: str = "p") -> list[int]:
    """Faces with real thumbnail and crop files, stored without running a detector."""
    from engine.catalog import NewFace
    from tests.imagegen import gradient, save

    catalog = project.catalog
    person_id = catalog.ensure_person(person).id if person else None
    thumb = f"thumbs/{tag}.jpg"
    crop = f"crops/{tag}.jpg"
    save(project.root / thumb, gradient(112, 112, seed=len(tag)))
    save(project.root / crop, gradient(224, 224, seed=len(tag)))
    ids: list[int] = []
    photos = (count + per_photo - 1) // per_photo
    with catalog.db.write():  # one transaction: 20,000 faces in a second
        for n in range(photos):
            photo_id = catalog.add_photo(path=f"{tag}/{n}.jpg", sha256=f"{tag}-{n}",
                                         size_bytes=1, width=400, height=300, format="JPEG",
                                         exif_orientation=1, import_person_id=person_id)
            faces = [NewFace((20.0 + 90 * i, 40.0, 100.0 + 90 * i, 120.0), None, 0.99,
                             whole_image, crop, thumb)
                     for i in range(min(per_photo, count - len(ids)))]
            ids += catalog.store_faces(photo_id, faces, labelled_index=0 if person else None)
    return ids


@pytest.fixture
def session(project, qapp):
    from gui.project_session import ProjectSession

    yield ProjectSession(project)


@pytest.fixture
def settings(qapp):
    from gui.settings import AppSettings

    return AppSettings()


@pytest.fixture
def window(qtbot, settings, runner):
    """The main window, shown offscreen, with no project open."""
    from gui.app import create_main_window

    main = create_main_window(settings, runner)
    qtbot.addWidget(main)
    main.show()
    qtbot.waitExposed(main)
    yield main
    main.confirm_quit = lambda: True  # a test ends without a question, jobs or not
    main.close()


@pytest.fixture
def library(window, project):
    """The library page of ``project`` opened in the main window."""
    root = project.root
    project.close()  # the window opens its own
    assert window.open_project(str(root))
    page = window.library_page
    page.grid_view.setFocus()
    return page
