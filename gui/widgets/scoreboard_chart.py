"""The lab's scoreboard as a chart: accuracy, precision, recall and F1 grouped per run
(runs on the same test split only), each bar labelled with its value.

pyqtgraph draws it (fast, zoomable, themable); the module is imported only when the
Scoreboard tab is first shown, so opening a project does not pay for pyqtgraph.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import pyqtgraph as pg
from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtGui import QColor, QFont, QPalette
from PySide6.QtWidgets import QVBoxLayout, QWidget

if TYPE_CHECKING:
    from engine.evaluation.scoreboard import ScoreboardRow

# The lab's four metrics in its order; the colours stay apart for colour-blind eyes.
METRICS = (("Accuracy", "accuracy", "#4C72B0"), ("Precision", "macro_precision", "#DD8452"),
           ("Recall", "macro_recall", "#55A868"), ("F1", "macro_f1", "#C44E52"))
BAR_WIDTH = 0.19
# Scores are fractions: the axis is labelled 0-100% only; the view goes a little higher
# so that the value labels above full bars stay inside it.
SCORE_TICKS = tuple((k / 5, f"{20 * k}%") for k in range(6))
VIEW_TOP = 1.16


def run_label(row: ScoreboardRow) -> str:
    """``#1 customcnn1`` over the run's time and suffix (ids are DATE-TIME-ARCH-XXXX)."""
    parts = row.run_id.split("-")
    when = f"{parts[1][:2]}:{parts[1][2:4]} " if len(parts) > 2 and len(parts[1]) >= 4 else ""
    return f"#{row.rank} {row.label}\n{when}{parts[-1]}"


class ScoreboardChart(QWidget):
    """Signal: ``run_clicked(run_id)`` when a bar group is clicked."""

    run_clicked = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._rows: list[ScoreboardRow] = []
        self._current: str | None = None
        self.plot_widget = pg.PlotWidget()
        self.plot_widget.setMenuEnabled(False)
        self.plot_widget.setMouseEnabled(x=False, y=False)
        self.plot_widget.hideButtons()
        self.plot = self.plot_widget.getPlotItem()
        self.plot.showGrid(x=False, y=True, alpha=0.25)
        self.plot.setLabel("left", "Score")
        self.plot.getAxis("left").setTicks([list(SCORE_TICKS), []])
        self.legend = self.plot.addLegend(offset=(10, 5), colCount=4)
        self.bars: list[pg.BarGraphItem] = []
        self.value_items: list[pg.TextItem] = []
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot_widget)
        self.plot_widget.scene().sigMouseClicked.connect(self._on_clicked)
        self._apply_palette()

    # ------------------------------------------------------------ public API
    def set_rows(self, rows: Sequence[ScoreboardRow], current_run: str | None = None) -> None:
        self._rows = list(rows)
        self._current = current_run
        self._redraw()

    def group_count(self) -> int:
        return len(self._rows)

    def run_ids(self) -> list[str]:
        return [row.run_id for row in self._rows]

    def value_labels(self) -> list[str]:
        return [item.textItem.toPlainText() for item in self.value_items]

    def score_ticks(self) -> list[str]:
        """The left axis's tick labels, bottom to top."""
        return [label for _, label in self.plot.getAxis("left")._tickLevels[0]]

    def bar_heights(self) -> dict[str, list[float]]:
        """Metric title -> one height per run group, in chart order."""
        return {title: [float(h) for h in bar.opts["height"]]
                for (title, _, _), bar in zip(METRICS, self.bars)}

    # ------------------------------------------------------------- drawing
    def _redraw(self) -> None:
        for item in self.bars + self.value_items:
            self.plot.removeItem(item)
        self.bars.clear()
        self.value_items.clear()
        self.legend.clear()
        text_colour = self.palette().color(QPalette.ColorRole.Text)
        font = QFont(self.font())
        font.setPointSizeF(max(7.0, font.pointSizeF() * 0.85))
        for k, (title, attribute, colour) in enumerate(METRICS):
            xs = [i + (k - 1.5) * BAR_WIDTH for i in range(len(self._rows))]
            heights = [getattr(row, attribute) for row in self._rows]
            bar = pg.BarGraphItem(x=xs, height=heights, width=BAR_WIDTH * 0.9,
                                  brush=pg.mkBrush(colour), pen=pg.mkPen(None))
            self.plot.addItem(bar)
            self.legend.addItem(bar, title)
            self.bars.append(bar)
            for x, height in zip(xs, heights):
                label = pg.TextItem(f"{height:.2f}", color=text_colour, anchor=(0.5, 1.0))
                label.setFont(font)
                label.setPos(x, height + 0.01)
                self.plot.addItem(label)
                self.value_items.append(label)
        ticks = [(i, run_label(row) + (" (shown)" if row.run_id == self._current else ""))
                 for i, row in enumerate(self._rows)]
        self.plot.getAxis("bottom").setTicks([ticks])
        self.plot.getAxis("bottom").setHeight(44)
        self.plot.setXRange(-0.6, max(0, len(self._rows) - 1) + 0.6, padding=0)
        self.plot.setYRange(0.0, VIEW_TOP, padding=0)
        self.plot.setTitle("Runs scored on the same test faces, best first" if self._rows else
                           "No evaluated run to compare yet")

    def _apply_palette(self) -> None:
        palette = self.palette()
        self.plot_widget.setBackground(palette.color(QPalette.ColorRole.Base))
        text = palette.color(QPalette.ColorRole.Text)
        for axis in ("left", "bottom"):
            self.plot.getAxis(axis).setPen(pg.mkPen(text))
            self.plot.getAxis(axis).setTextPen(pg.mkPen(text))
        self.legend.setLabelTextColor(text)
        self.plot.titleLabel.setText(self.plot.titleLabel.text, color=QColor(text).name())

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.PaletteChange:
            self._apply_palette()
            self._redraw()
        super().changeEvent(event)

    def _on_clicked(self, event) -> None:
        if event.button() != Qt.MouseButton.LeftButton or not self._rows:
            return
        point = self.plot.vb.mapSceneToView(event.scenePos())
        group = round(point.x())
        if 0 <= group < len(self._rows) and abs(point.x() - group) <= 0.45:
            self.run_clicked.emit(self._rows[group].run_id)
