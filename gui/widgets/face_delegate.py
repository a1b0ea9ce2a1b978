"""Paints one face in the library grid: thumbnail, name, and a badge for faces that
need attention ("unlabelled", "no face found")."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPalette, QPen, QPixmap
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem

from gui.models.face_grid import STATUS_LABELLED, STATUS_NO_FACE, STATUS_ROLE
from gui.theme import NO_FACE_COLOUR, UNLABELLED_COLOUR

PADDING = 6
TEXT_GAP = 4


class FaceItemDelegate(QStyledItemDelegate):
    def __init__(self, thumb_size: int, parent=None) -> None:
        super().__init__(parent)
        self.thumb_size = thumb_size

    def cell_size(self, font: QFont) -> QSize:
        line = QFontMetrics(font).height()
        return QSize(self.thumb_size + 2 * PADDING + 8,
                     self.thumb_size + 2 * PADDING + TEXT_GAP + line)

    def sizeHint(self, option: QStyleOptionViewItem,
                 index: QModelIndex | QPersistentModelIndex) -> QSize:
        return self.cell_size(option.font)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem,
              index: QModelIndex | QPersistentModelIndex) -> None:
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        palette: QPalette = option.palette
        cell = option.rect.adjusted(2, 2, -2, -2)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        hovered = bool(option.state & QStyle.StateFlag.State_MouseOver)
        highlight = palette.color(QPalette.ColorRole.Highlight)
        if selected or hovered:
            fill = QColor(highlight)
            fill.setAlpha(90 if selected else 30)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(fill)
            painter.drawRoundedRect(QRectF(cell), 6, 6)

        size = self.thumb_size
        thumb = QRect(cell.x() + (cell.width() - size) // 2, cell.y() + PADDING, size, size)
        pixmap = index.data(Qt.ItemDataRole.DecorationRole)
        if isinstance(pixmap, QPixmap) and not pixmap.isNull():
            self._draw_fitted(painter, thumb, pixmap)
        if selected:
            painter.setPen(QPen(highlight, 2))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRoundedRect(QRectF(thumb).adjusted(-1, -1, 1, 1), 4, 4)

        status = index.data(STATUS_ROLE)
        if status not in (None, STATUS_LABELLED):
            self._draw_badge(painter, thumb, status, option.font)

        text_rect = QRect(cell.x() + 2, thumb.bottom() + TEXT_GAP, cell.width() - 4,
                          cell.bottom() - thumb.bottom() - TEXT_GAP)
        text = str(index.data(Qt.ItemDataRole.DisplayRole) or "")
        font = QFont(option.font)
        if status == STATUS_LABELLED:
            colour = palette.color(QPalette.ColorRole.Text)
        else:
            font.setItalic(True)
            colour = palette.color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text)
        painter.setFont(font)
        painter.setPen(colour)
        elided = QFontMetrics(font).elidedText(text, Qt.TextElideMode.ElideRight,
                                               text_rect.width())
        painter.drawText(text_rect, Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop,
                         elided)
        painter.restore()

    @staticmethod
    def _draw_fitted(painter: QPainter, target: QRect, pixmap: QPixmap) -> None:
        # Logical size, so a 2x pixmap fills the box with all its pixels (crisp on HiDPI).
        logical = pixmap.deviceIndependentSize().toSize()
        logical.scale(target.size(), Qt.AspectRatioMode.KeepAspectRatio)
        x = target.x() + (target.width() - logical.width()) // 2
        y = target.y() + (target.height() - logical.height()) // 2
        painter.drawPixmap(QRect(x, y, logical.width(), logical.height()), pixmap)

    @staticmethod
    def _draw_badge(painter: QPainter, thumb: QRect, status: str, base_font: QFont) -> None:
        font = QFont(base_font)
        font.setPointSizeF(max(6.5, base_font.pointSizeF() * 0.78))
        font.setBold(True)
        metrics = QFontMetrics(font)
        width = metrics.horizontalAdvance(status) + 10
        height = metrics.height() + 2
        badge = QRectF(thumb.x() + 4, thumb.bottom() - height - 3, min(width, thumb.width() - 8),
                       height)
        colour = QColor(NO_FACE_COLOUR if status == STATUS_NO_FACE else UNLABELLED_COLOUR)
        colour.setAlpha(225)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(colour)
        painter.drawRoundedRect(badge, height / 2, height / 2)
        painter.setFont(font)
        painter.setPen(QColor("white"))
        painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, status)
