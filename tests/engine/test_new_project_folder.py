"""Where a new project can go, and what creating it there does, in words."""

from __future__ import annotations

from engine.project import Project, new_project_folder


def test_new_project_folder_says_what_create_will_do(tmp_path):
    missing = tmp_path / "a" / "b"
    assert new_project_folder(missing) == (True, new_project_folder(missing)[1])
    assert "does not exist yet" in new_project_folder(missing)[1]
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "notes.txt").write_text("x")
    usable, text = new_project_folder(tmp_path / "full")
    assert usable and "not empty" in text
    (tmp_path / "file").write_text("x")
    assert new_project_folder(tmp_path / "file")[0] is False
    with Project.create(missing):
        pass
    usable, text = new_project_folder(missing)
    assert not usable and "already a FaceLab project" in text
