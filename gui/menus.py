"""The main window's menus. Keys come from gui/shortcuts.py (one table for the menus
and the shortcuts dialog); the actions call the window's public methods."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from PySide6.QtGui import QAction, QKeySequence

from gui.pages.registry import PAGES
from gui.shortcuts import keys_for

if TYPE_CHECKING:
    from gui.main_window import MainWindow


def _action(window: "MainWindow", text: str, slot, name: str | None = None) -> QAction:
    action = QAction(text, window)
    action.triggered.connect(slot)
    if name is not None:
        action.setShortcuts(keys_for(name))
    return action


def build_menus(window: "MainWindow") -> dict:
    """Create the menu bar; returns the actions by name (plus "pages": a list)."""
    actions: dict = {
        "new_project": _action(window, "&New project…", window.new_project_dialog,
                               "new_project"),
        "open_project": _action(window, "&Open project…", window.open_project_dialog,
                                "open_project"),
        "open_demo": _action(window, "Open &demo project", lambda: window.open_demo_project()),
        "import_photos": _action(window, "&Import photos…", window.import_photos_dialog,
                                 "import_photos"),
        "import_folder": _action(window, "Import &folder…", window.import_folder_dialog,
                                 "import_folder"),
        "close_project": _action(window, "&Close project", lambda: window.close_project()),
        "quit": _action(window, "&Quit", window.close, "quit"),
        "undo": _action(window, "&Undo", window.undo, "undo"),
        "redo": _action(window, "&Redo", window.redo, "redo"),
        "dark_theme": _action(window, "&Dark theme", window.set_dark_theme, "dark_theme"),
        "shortcuts": _action(window, "&Keyboard shortcuts", window.show_shortcuts, "shortcuts"),
        "about": _action(window, "&About FaceLab", window.show_about),
    }
    actions["quit"].setMenuRole(QAction.MenuRole.QuitRole)
    actions["about"].setMenuRole(QAction.MenuRole.AboutRole)
    actions["dark_theme"].setCheckable(True)
    actions["dark_theme"].setChecked(window.settings.dark_theme)

    menu = window.menuBar().addMenu("&File")
    for name in ("new_project", "open_project"):
        menu.addAction(actions[name])
    recent_menu = menu.addMenu("Open &recent")
    recent_menu.aboutToShow.connect(partial(_fill_recent, window, recent_menu))
    actions["recent_menu"] = recent_menu
    menu.addAction(actions["open_demo"])
    menu.addSeparator()
    menu.addAction(actions["import_photos"])
    menu.addAction(actions["import_folder"])
    menu.addSeparator()
    menu.addAction(actions["close_project"])
    menu.addAction(actions["quit"])

    menu = window.menuBar().addMenu("&Edit")
    menu.addAction(actions["undo"])
    menu.addAction(actions["redo"])

    menu = window.menuBar().addMenu("&View")
    pages = []
    for number, spec in enumerate(PAGES, start=1):
        action = QAction(spec.title, window)
        action.setShortcut(QKeySequence(f"Ctrl+{number}"))
        action.triggered.connect(partial(window.show_page, spec.key))
        menu.addAction(action)
        pages.append(action)
    actions["pages"] = pages
    menu.addSeparator()
    menu.addAction(actions["dark_theme"])

    menu = window.menuBar().addMenu("&Help")
    menu.addAction(actions["shortcuts"])
    menu.addAction(actions["about"])
    return actions


def _fill_recent(window: "MainWindow", menu) -> None:
    menu.clear()
    recent = window.settings.recent_projects()
    for path in recent:
        action = menu.addAction(path)
        action.triggered.connect(partial(window.open_project, path))
    if not recent:
        menu.addAction("(none)").setEnabled(False)
