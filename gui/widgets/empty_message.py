"""An item view's empty state: a sentence in the middle of a view with no rows."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QPainter, QPalette
from PySide6.QtWidgets import QAbstractItemView


def paint_empty_message(view: QAbstractItemView, text: str, margin: int = 30) -> None:
    """Call from the view's paintEvent, after the base class painted: draws ``text``
    (muted, centred, wrapped) when the view has a message and no rows to show."""
    model = view.model()
    if not text or (model is not None and model.rowCount() > 0):
        return
    painter = QPainter(view.viewport())
    painter.setPen(view.palette().color(QPalette.ColorRole.PlaceholderText))
    painter.drawText(view.viewport().rect().adjusted(margin, margin, -margin, -margin),
                     Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, text)
    painter.end()
