"""A page that is not built yet says so, and what it will do."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout, QWidget

from gui.theme import set_muted


class ComingSoonPage(QWidget):
    def __init__(self, title: str, promise: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        heading = QLabel(title)
        font = heading.font()
        font.setPointSizeF(font.pointSizeF() * 1.6)
        font.setBold(True)
        heading.setFont(font)
        body = QLabel(promise)
        body.setWordWrap(True)
        note = QLabel("This page is coming in a later version of FaceLab.")
        note.setWordWrap(True)
        set_muted(note)
        column = QWidget()
        column.setFixedWidth(460)
        inner = QVBoxLayout(column)
        inner.setSpacing(12)
        for label in (heading, body, note):
            label.setAlignment(Qt.AlignmentFlag.AlignHCenter)
            inner.addWidget(label)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(column)
        row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addStretch(1)
        layout.addLayout(row)
        layout.addStretch(2)
