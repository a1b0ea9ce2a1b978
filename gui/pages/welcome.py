"""Shown when no project is open: new, open, recent, and the demo project."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtWidgets import (QFrame, QHBoxLayout, QLabel, QListWidget, QListWidgetItem,
                               QPushButton, QVBoxLayout, QWidget)

from gui.theme import set_muted


RECENT_ROW_HEIGHT = 30


class WelcomePage(QWidget):
    """Signals: ``new_requested``, ``open_requested``, ``demo_requested``,
    ``recent_chosen(path)``."""

    new_requested = Signal()
    open_requested = Signal()
    demo_requested = Signal()
    recent_chosen = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        title = QLabel("FaceLab")
        font = title.font()
        font.setPointSizeF(font.pointSizeF() * 2.4)
        font.setBold(True)
        title.setFont(font)
        subtitle = QLabel("Teach a computer to tell faces apart: import photos, fix the labels, "
                          "train models, study their mistakes.")
        subtitle.setWordWrap(True)
        set_muted(subtitle)

        self.new_button = QPushButton("New project…")
        self.open_button = QPushButton("Open project…")
        self.demo_button = QPushButton("Open demo project")
        self.new_button.clicked.connect(self.new_requested)
        self.open_button.clicked.connect(self.open_requested)
        self.demo_button.clicked.connect(self.demo_requested)
        buttons = QHBoxLayout()
        for button in (self.new_button, self.open_button, self.demo_button):
            button.setMinimumHeight(34)
            buttons.addWidget(button)

        self.recent_list = QListWidget()
        self.recent_list.setFrameShape(QFrame.Shape.NoFrame)
        self.recent_list.itemActivated.connect(
            lambda item: self.recent_chosen.emit(item.data(Qt.ItemDataRole.UserRole)))
        self.recent_list.itemClicked.connect(
            lambda item: self.recent_chosen.emit(item.data(Qt.ItemDataRole.UserRole)))
        self.busy_label = QLabel()
        self.busy_label.setWordWrap(True)
        self.busy_label.hide()
        self.recent_heading = QLabel("<b>Recent projects</b>")
        self.demo_hint = QLabel()
        self.demo_hint.setWordWrap(True)
        set_muted(self.demo_hint)
        self.refresh_demo_text()

        column = QWidget()
        column.setMaximumWidth(620)
        layout = QVBoxLayout(column)
        layout.setSpacing(10)
        layout.addWidget(title)
        layout.addWidget(subtitle)
        layout.addSpacing(14)
        layout.addLayout(buttons)
        layout.addWidget(self.busy_label)
        layout.addSpacing(18)
        layout.addWidget(self.recent_heading)
        layout.addWidget(self.recent_list, 1)
        layout.addWidget(self.demo_hint)
        layout.addStretch(1)
        outer = QHBoxLayout(self)
        outer.setContentsMargins(24, 48, 24, 24)
        outer.addStretch(1)
        outer.addWidget(column, 4)
        outer.addStretch(1)

    def refresh_demo_text(self) -> None:
        """Say what the demo is made of: faces FaceLab draws (a fresh clone, the installed
        app) or real photos found on this machine; and how to work on real photos."""
        from engine.demo import DRAWN_DEMO_TEXT, REAL_PHOTOS_TEXT, demo_is_drawn

        if demo_is_drawn():
            self.demo_button.setToolTip("Fictional people drawn by FaceLab, imported and "
                                        "cropped on first use")
            self.demo_hint.setText(f"{DRAWN_DEMO_TEXT} {REAL_PHOTOS_TEXT}")
        else:
            self.demo_button.setToolTip("Real photos found on this machine (5celeb or "
                                        "FACELAB_DEMO_PHOTOS), imported and cropped on "
                                        "first use")
            self.demo_hint.setText(
                "The demo project is made of real photos found on this machine (5celeb or "
                "FACELAB_DEMO_PHOTOS). Your own photos: New project, then drop a folder "
                "with one sub-folder per person onto the library.")

    def set_busy(self, text: str | None) -> None:
        """Say what is being prepared (the demo project), or nothing."""
        self.busy_label.setText(f"<b>{text}</b>" if text else "")
        self.busy_label.setVisible(bool(text))
        self.demo_button.setEnabled(not text)

    def set_recent(self, paths: list[str]) -> None:
        self.recent_list.clear()
        for path in paths:
            item = QListWidgetItem(f"{Path(path).name}    —    {path}")
            item.setData(Qt.ItemDataRole.UserRole, path)
            item.setToolTip(path)
            item.setSizeHint(QSize(0, RECENT_ROW_HEIGHT))
            self.recent_list.addItem(item)
        has_recent = bool(paths)
        self.recent_heading.setVisible(has_recent)
        self.recent_list.setVisible(has_recent)
        self.refresh_demo_text()
        rows = max(1, min(len(paths), 8))
        self.recent_list.setFixedHeight(rows * RECENT_ROW_HEIGHT + 8)
