"""The labels that structure a page's side column: a section heading and a muted hint."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel

from gui.theme import set_muted


def section_heading(text: str) -> QLabel:
    label = QLabel(text)
    font = label.font()
    font.setBold(True)
    font.setPointSizeF(font.pointSizeF() * 1.1)
    label.setFont(font)
    return label


def section_hint(text: str) -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    set_muted(label)
    return label
