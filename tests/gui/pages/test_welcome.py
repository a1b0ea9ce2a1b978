"""The welcome page says what the demo project is made of and how to use real photos."""

from __future__ import annotations

from engine.demo import DRAWN_PHOTOS_FOLDER, demo_project_dir
from engine.project import CATALOG_NAME
from gui.pages.welcome import WelcomePage


def test_welcome_says_the_demo_faces_are_drawn_and_how_to_use_real_ones(qtbot, tmp_path,
                                                                       monkeypatch):
    monkeypatch.setenv("FACELAB_HOME", str(tmp_path / "home"))
    (demo_project_dir() / DRAWN_PHOTOS_FOLDER).mkdir(parents=True)
    page = WelcomePage()
    qtbot.addWidget(page)
    page.set_recent(["/somewhere/project"])  # the hint stays with recent projects listed
    page.show()
    hint = page.demo_hint.text()
    assert page.demo_hint.isVisible()
    assert "drawn by FaceLab" in hint and "fictional" in hint
    assert "New project" in hint and "FACELAB_DEMO_PHOTOS" in hint
    assert "drawn" in page.demo_button.toolTip()


def test_welcome_says_when_the_demo_is_made_of_real_photos(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("FACELAB_HOME", str(tmp_path / "home"))
    demo_project_dir().mkdir(parents=True)
    (demo_project_dir() / CATALOG_NAME).write_bytes(b"")  # built before drawn demos existed
    page = WelcomePage()
    qtbot.addWidget(page)
    assert "real photos" in page.demo_hint.text()
    assert "drawn" not in page.demo_hint.text()
