"""The checkable architecture list: per row a check box, the name, whether pretrained
weights are on this machine, and the description underneath.

A click anywhere on a row (or Space) checks or unchecks it: it is a checklist, not a
selection. The full weights status (where the file is, or how to get it) is the
row's tooltip.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QModelIndex, QPointF, QRect, QRectF, QSize, Qt
from PySide6.QtGui import (QColor, QFont, QFontMetrics, QKeyEvent, QMouseEvent, QPainter,
                           QPalette, QPen)
from PySide6.QtWidgets import (QAbstractItemView, QApplication, QListView, QStyle,
                               QStyledItemDelegate, QStyleOptionViewItem)

from gui.models.architectures import (DESCRIPTION_ROLE, WEIGHTS_AVAILABLE, WEIGHTS_BADGE_ROLE,
                                      WEIGHTS_MISSING, WEIGHTS_STATE_ROLE)
from gui.theme import ERROR_COLOUR

AVAILABLE_COLOUR = QColor("#2e8b57")
PADDING = 6
CHECK_GAP = 8
DESCRIPTION_LINES = 2


class ArchitectureDelegate(QStyledItemDelegate):
    """Line 1: check box, name, weights badge; lines 2-3: the description, wrapped."""

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex) -> QSize:
        metrics = QFontMetrics(option.font)
        return QSize(200, (1 + DESCRIPTION_LINES) * metrics.height() + 2 * PADDING + 2)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        style = option.widget.style() if option.widget else QApplication.style()
        painter.save()
        # The background (selection, hover) the way the style draws it.
        background = QStyleOptionViewItem(option)
        self.initStyleOption(background, index)
        background.text = ""
        background.features &= ~QStyleOptionViewItem.ViewItemFeature.HasCheckIndicator
        style.drawControl(QStyle.ControlElement.CE_ItemViewItem, background, painter,
                          option.widget)

        size = style.pixelMetric(QStyle.PixelMetric.PM_IndicatorWidth)
        rect = option.rect.adjusted(PADDING, PADDING, -PADDING, -PADDING)
        checked = index.data(Qt.ItemDataRole.CheckStateRole) == Qt.CheckState.Checked
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        _paint_check_box(painter, QRect(rect.left(), rect.top() + 1, size, size), checked,
                         selected, option.palette)

        text_colour = option.palette.color(
            QPalette.ColorGroup.Normal,
            QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text)
        muted = text_colour if selected else _muted(option.palette)
        metrics = QFontMetrics(option.font)
        text_rect = rect.adjusted(size + CHECK_GAP, 0, 0, 0)
        line = QRect(text_rect.left(), text_rect.top(), text_rect.width(), metrics.height())

        badge = index.data(WEIGHTS_BADGE_ROLE) or ""
        badge_font = QFont(option.font)
        badge_font.setPointSizeF(option.font.pointSizeF() * 0.9)
        badge_metrics = QFontMetrics(badge_font)
        # (+4: the advance is rounded, and elidedText would cut a badge that just fits.)
        badge_width = min(badge_metrics.horizontalAdvance(badge) + 4, line.width() // 2)
        bold = QFont(option.font)
        bold.setBold(True)
        painter.setFont(bold)
        painter.setPen(text_colour)
        name = QFontMetrics(bold).elidedText(index.data() or "", Qt.TextElideMode.ElideRight,
                                             line.width() - badge_width - CHECK_GAP)
        painter.drawText(line, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, name)
        badge_colour = {WEIGHTS_AVAILABLE: AVAILABLE_COLOUR,
                        WEIGHTS_MISSING: ERROR_COLOUR}.get(index.data(WEIGHTS_STATE_ROLE), muted)
        painter.setFont(badge_font)
        painter.setPen(text_colour if selected else badge_colour)
        painter.drawText(line, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                         badge_metrics.elidedText(badge, Qt.TextElideMode.ElideRight,
                                                  badge_width))

        painter.setFont(option.font)
        painter.setPen(muted)
        lines = _wrapped(metrics, index.data(DESCRIPTION_ROLE) or "", line.width(),
                         DESCRIPTION_LINES)
        for number, text in enumerate(lines, start=1):
            painter.drawText(line.translated(0, number * metrics.height()),
                             Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, text)
        painter.restore()

    def editorEvent(self, event: QEvent, model, option, index: QModelIndex) -> bool:
        toggle = (
            (event.type() == QEvent.Type.MouseButtonRelease
             and isinstance(event, QMouseEvent)
             and event.button() == Qt.MouseButton.LeftButton
             and option.rect.contains(event.position().toPoint()))
            or (event.type() == QEvent.Type.KeyPress and isinstance(event, QKeyEvent)
                and event.key() in (Qt.Key.Key_Space, Qt.Key.Key_Select)))
        if not toggle:
            return False
        checked = index.data(Qt.ItemDataRole.CheckStateRole) == Qt.CheckState.Checked
        new_state = Qt.CheckState.Unchecked if checked else Qt.CheckState.Checked
        return model.setData(index, new_state.value, Qt.ItemDataRole.CheckStateRole)


def _wrapped(metrics: QFontMetrics, text: str, width: int, max_lines: int) -> list[str]:
    """Word-wrap ``text`` into at most ``max_lines`` lines, the last one elided."""
    lines: list[str] = []
    words = text.split()
    while words and len(lines) < max_lines - 1:
        taken = 1
        while taken < len(words) and \
                metrics.horizontalAdvance(" ".join(words[:taken + 1])) <= width:
            taken += 1
        lines.append(" ".join(words[:taken]))
        words = words[taken:]
    if words:
        lines.append(metrics.elidedText(" ".join(words), Qt.TextElideMode.ElideRight, width))
    return lines


def _paint_check_box(painter: QPainter, box: QRect, checked: bool, selected: bool,
                     palette: QPalette) -> None:
    """Drawn here rather than by the style: Fusion's box all but vanishes on the dark
    palette, and an unchecked architecture must still look checkable."""
    painter.save()
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    frame = QRectF(box).adjusted(0.5, 0.5, -0.5, -0.5)
    fill, tick = QPalette.ColorRole.Highlight, QPalette.ColorRole.HighlightedText
    if selected:  # on the selection's own colour: the box turns inside out
        fill, tick = tick, fill
    if checked:
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(palette.color(fill))
        painter.drawRoundedRect(frame, 3, 3)
        pen = QPen(palette.color(tick), 2)
        pen.setCapStyle(Qt.PenCapStyle.RoundCap)
        pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
        painter.setPen(pen)
        w, h = frame.width(), frame.height()
        painter.drawPolyline([QPointF(frame.left() + 0.22 * w, frame.top() + 0.52 * h),
                              QPointF(frame.left() + 0.42 * w, frame.top() + 0.72 * h),
                              QPointF(frame.left() + 0.78 * w, frame.top() + 0.30 * h)])
    else:
        painter.setPen(QPen(_muted(palette), 1.2))
        painter.setBrush(palette.color(QPalette.ColorRole.Base))
        painter.drawRoundedRect(frame, 3, 3)
    painter.restore()


def _muted(palette: QPalette) -> QColor:
    return palette.color(QPalette.ColorRole.PlaceholderText)


class ArchitectureListView(QListView):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setItemDelegate(ArchitectureDelegate(self))
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setUniformItemSizes(True)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setMouseTracking(True)
