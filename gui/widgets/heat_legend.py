"""The colour scale of the Grad-CAM maps (low → high), drawn from the engine's scale
so the legend and the maps cannot disagree."""

from __future__ import annotations

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFontMetrics, QLinearGradient, QPainter, QPalette
from PySide6.QtWidgets import QSizePolicy, QWidget

from engine.evaluation.heatmap import LEGEND_TEXT, colour_scale_stops

BAR_WIDTH = 90


class HeatLegend(QWidget):
    def __init__(self, low: str = "low", high: str = "high",
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._low, self._high = low, high
        self._stops = [(position, QColor(colour)) for position, colour in colour_scale_stops()]
        self.setToolTip(LEGEND_TEXT)
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        # Shown and hidden with the Grad-CAM switch: its row keeps its height either way.
        policy = self.sizePolicy()
        policy.setRetainSizeWhenHidden(True)
        self.setSizePolicy(policy)

    def sizeHint(self) -> QSize:
        metrics = QFontMetrics(self.font())
        text = metrics.horizontalAdvance(self._low) + metrics.horizontalAdvance(self._high)
        return QSize(text + BAR_WIDTH + 12, metrics.height())

    def minimumSizeHint(self) -> QSize:
        return self.sizeHint()

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        metrics = QFontMetrics(self.font())
        painter.setPen(self.palette().color(QPalette.ColorRole.PlaceholderText))
        low_width = metrics.horizontalAdvance(self._low)
        painter.drawText(QRectF(0, 0, low_width, self.height()),
                         Qt.AlignmentFlag.AlignVCenter, self._low)
        bar = QRectF(low_width + 6, self.height() / 2 - 4, BAR_WIDTH, 8)
        gradient = QLinearGradient(bar.topLeft(), bar.topRight())
        for position, colour in self._stops:
            gradient.setColorAt(position, colour)
        painter.fillRect(bar, gradient)
        painter.drawText(QRectF(bar.right() + 6, 0, self.width() - bar.right() - 6,
                                self.height()), Qt.AlignmentFlag.AlignVCenter, self._high)
