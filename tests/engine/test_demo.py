"""The demo project: drawn faces when no real photos are at hand (engine/demo_faces.py,
engine/demo.py). A whole drawn demo from a fresh clone: tests/gui/test_demo_fresh_clone.py."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from engine import demo
from engine.demo_faces import PERSONS, person_photos, write_photo_folders
from engine.project import CATALOG_NAME
from engine.tasks import TaskContext


def test_drawn_photos_are_the_same_for_a_seed_and_differ_between_persons():
    first = [np.asarray(photo) for photo, _ in person_photos(0, 2, seed=3)]
    again = [np.asarray(photo) for photo, _ in person_photos(0, 2, seed=3)]
    other = np.asarray(next(person_photos(1, 1, seed=3))[0])
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert not np.array_equal(first[0], first[1])  # each photo its own pose and light
    assert not np.array_equal(first[0], other)


def test_photo_folders_misfile_one_photo_a_person_and_resume(tmp_path):
    calls = []
    root = write_photo_folders(tmp_path / "photos", 2, seed=1, mislabelled=1,
                               progress=lambda done, total: calls.append((done, total)))
    assert calls[-1] == (2 * len(PERSONS), 2 * len(PERSONS))
    for person in PERSONS:
        assert sorted(p.name for p in (root / person.name).iterdir()) == [
            "photo-000.jpg", "photo-001.jpg"]
    # photo-001 in each folder is the previous person's: the misfiled one.
    misfiled = root / PERSONS[1].name / "photo-001.jpg"
    first_persons_second = np.asarray(list(person_photos(0, 2, seed=1))[1][0], np.float32)
    with Image.open(misfiled) as photo:
        assert np.abs(np.asarray(photo, np.float32) - first_persons_second).mean() < 3  # JPEG
    assert not list(root.rglob("*.part"))

    kept = root / PERSONS[0].name / "photo-000.jpg"
    misfiled_bytes, kept_mtime = misfiled.read_bytes(), kept.stat().st_mtime_ns
    misfiled.unlink()
    write_photo_folders(root, 2, seed=1, mislabelled=1)
    assert misfiled.read_bytes() == misfiled_bytes  # drawn again, the same photo
    assert kept.stat().st_mtime_ns == kept_mtime  # the others were not redrawn


def test_the_demo_keeps_the_photos_it_was_built_from(tmp_path, monkeypatch):
    monkeypatch.setenv("FACELAB_HOME", str(tmp_path / "home"))
    real = tmp_path / "real-photos"
    real.mkdir()
    monkeypatch.setenv("FACELAB_DEMO_PHOTOS", str(real))
    assert not demo.demo_is_drawn()  # real photos asked for: they are used
    root = demo.demo_project_dir()
    (root / demo.DRAWN_PHOTOS_FOLDER).mkdir(parents=True)
    assert demo.demo_is_drawn()  # a drawn demo stays drawn until it is rebuilt
    (root / demo.DRAWN_PHOTOS_FOLDER).rmdir()
    (root / CATALOG_NAME).write_bytes(b"")
    assert not demo.demo_is_drawn()  # one built from real photos before drawn ones existed


def test_demo_photos_asked_for_but_missing_are_an_error_not_drawn_faces(tmp_path, monkeypatch):
    monkeypatch.setenv("FACELAB_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("FACELAB_DEMO_PHOTOS", str(tmp_path / "nowhere"))
    with pytest.raises(demo.DemoUnavailable, match="FACELAB_DEMO_PHOTOS.*nowhere"):
        demo.build_demo_project()
    assert not (demo.demo_project_dir() / demo.DRAWN_PHOTOS_FOLDER).exists()


@pytest.mark.slow
def test_a_drawn_demo_is_drawn_imported_and_cropped_then_resumed(tmp_path, monkeypatch):
    """A drawn demo interrupted after its folder was made (a few photos a person, to be
    quick; the full one: tests/gui/test_demo_fresh_clone.py)."""
    monkeypatch.setenv("FACELAB_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(demo, "DRAWN_PHOTOS_PER_PERSON", 3)
    (demo.demo_project_dir() / demo.DRAWN_PHOTOS_FOLDER).mkdir(parents=True)
    # Real photos found now do not get mixed into a drawn demo.
    real = tmp_path / "real-photos" / "someone"
    real.mkdir(parents=True)
    next(person_photos(0, 1, seed=99))[0].save(real / "x.jpg")
    monkeypatch.setenv("FACELAB_DEMO_PHOTOS", str(real.parent))

    stages = []
    ctx = TaskContext(on_progress=lambda p: stages.append(p.stage))
    with demo.build_demo_project(ctx=ctx) as project:
        stats = project.catalog.stats()
    assert {"draw", "import", "crop"} <= set(stages)
    assert sorted(stats["persons"]) == sorted(p.name for p in PERSONS)
    assert stats["photos"] == 3 * len(PERSONS) and stats["pending_photos"] == 0
    assert stats["no_face_photos"] <= 2  # MTCNN finds (nearly) every drawn face

    with demo.build_demo_project() as project:  # opening again adds nothing
        assert project.catalog.stats()["photos"] == 3 * len(PERSONS)
