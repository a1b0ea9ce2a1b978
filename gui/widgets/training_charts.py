"""Live training charts (pyqtgraph): loss and accuracy per epoch (train and
validation), loss per batch, and throughput with the time left.

The charts draw a :class:`~gui.models.training_curves.RunCurves`; whoever owns it
calls :meth:`TrainingCharts.redraw` from a timer (about 10 Hz), and a redraw that
finds nothing new does nothing. Per-batch series are clipped to the view and
downsampled, so a run of 100,000 batches draws as fast as one of 100. All four
charts share the x axis, in epochs (batch 5 of 10 in epoch 2 sits at 1.5).

Each chart is a bare ViewBox with two axes and a title, not a pyqtgraph PlotItem:
a PlotItem builds a context menu of dozens of widgets, which made creating the four
charts take a tenth of a second on the UI thread.

Importing this module imports pyqtgraph (and numpy): about a second, so the Train
page creates the charts the first time it is shown, not when the window starts.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent
from PySide6.QtGui import QColor, QPalette
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

from gui.models.training_curves import RunCurves, format_duration
from gui.theme import ACCENT_COLOUR

TRAIN_COLOUR = ACCENT_COLOUR
VAL_COLOUR = QColor("#e67e22")
THROUGHPUT_COLOUR = QColor("#2e8b57")
AXIS_WIDTH = 52
GRID_ALPHA = 40  # horizontal grid lines on the epoch charts only


_KEY = (f'<span style="color: {TRAIN_COLOUR.name()}">━ training</span>  '
        f'<span style="color: {VAL_COLOUR.name()}">━ validation</span>')


class EpochAxis(pg.AxisItem):
    """Epoch ticks are whole numbers: no "epoch 1.5" on a short run."""

    def tickSpacing(self, minVal, maxVal, size):  # noqa: N802, N803 - pyqtgraph's names
        levels, seen = [], set()
        for spacing, offset in super().tickSpacing(minVal, maxVal, size):
            spacing = max(float(spacing), 1.0)
            if spacing not in seen:
                seen.add(spacing)
                levels.append((spacing, offset))
        return levels


class _Chart:
    """Title, left axis, view and epoch axis, in one cell of the charts' layout."""

    def __init__(self, layout: pg.GraphicsLayout, row: int, col: int, title: str,
                 unit: str, grid: bool = False) -> None:
        cell = layout.addLayout(row=row, col=col)
        cell.setSpacing(0)
        self.title = cell.addLabel(title, row=0, col=1)
        self.view = pg.ViewBox(enableMenu=False, defaultPadding=0.03)
        self.view.setLimits(xMin=0)
        self.view.setMouseEnabled(x=False, y=False)  # a live chart: no stray drags
        self.left = pg.AxisItem("left")
        self.bottom = EpochAxis("bottom")
        # Fixed width and no automatic SI prefix: new tick labels then never re-lay out
        # the charts, which would repaint all four.
        self.left.setWidth(AXIS_WIDTH)
        for axis, label in ((self.left, unit), (self.bottom, "epoch")):
            axis.enableAutoSIPrefix(False)
            axis.setLabel(label)
            axis.linkToView(self.view)
        if grid:
            # Only where a student reads values off: grid lines make the axis repaint the
            # whole chart, which the per-batch charts do several times a second.
            self.left.setGrid(GRID_ALPHA)
        cell.addItem(self.left, row=1, col=0)
        cell.addItem(self.view, row=1, col=1)
        cell.addItem(self.bottom, row=2, col=1)

    def line(self, colour: QColor, width: float = 2, symbol: bool = False,
             downsample: str | None = None) -> pg.PlotDataItem:
        options = {"pen": pg.mkPen(colour, width=width)}
        if symbol:
            options.update(symbol="o", symbolSize=6, symbolBrush=colour, symbolPen=colour)
        item = pg.PlotDataItem([], [], **options)
        if downsample:
            item.setDownsampling(auto=True, method=downsample)
            item.setClipToView(True)
        self.view.addItem(item)
        return item

    def axes(self) -> tuple[pg.AxisItem, pg.AxisItem]:
        return self.left, self.bottom


class TrainingCharts(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.curves: RunCurves | None = None
        self._drawn_version = -1
        self._drawn_epochs = self._drawn_batches = -1
        self._drawn_title = ""
        self._x_range = 0
        self.view = pg.GraphicsLayoutWidget()
        self.view.ci.setSpacing(6)
        # The key and the speed are Qt labels above the charts, not chart titles: a chart
        # title cannot wrap or shrink, and long ones pushed the right-hand charts out of
        # a narrow window. (A legend inside a chart would hide a curve.)
        self.key_label = QLabel(_KEY)
        self.speed_label = QLabel()
        self.speed_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.speed_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        key_row = QHBoxLayout()
        key_row.setContentsMargins(AXIS_WIDTH, 0, 6, 0)
        key_row.addWidget(self.key_label)
        key_row.addWidget(self.speed_label, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(key_row)
        layout.addWidget(self.view, 1)

        self.loss_chart = _Chart(self.view.ci, 0, 0, "Loss per epoch", "loss", True)
        self.acc_chart = _Chart(self.view.ci, 0, 1, "Accuracy per epoch", "%", True)
        self.batch_chart = _Chart(self.view.ci, 1, 0, "Loss per batch", "loss")
        self.speed_chart = _Chart(self.view.ci, 1, 1, "Throughput", "images/s")
        self.acc_chart.view.setYRange(0, 100, padding=0.02)
        self.acc_chart.view.enableAutoRange(y=False)
        for chart in (self.loss_chart, self.acc_chart, self.batch_chart, self.speed_chart):
            chart.view.enableAutoRange(x=False)
            if chart is not self.loss_chart:
                chart.view.setXLink(self.loss_chart.view)

        self.train_loss = self.loss_chart.line(TRAIN_COLOUR, symbol=True)
        self.val_loss = self.loss_chart.line(VAL_COLOUR, symbol=True)
        self.train_acc = self.acc_chart.line(TRAIN_COLOUR, symbol=True)
        self.val_acc = self.acc_chart.line(VAL_COLOUR, symbol=True)
        self.batch_loss = self.batch_chart.line(TRAIN_COLOUR, width=1, downsample="peak")
        self.throughput = self.speed_chart.line(THROUGHPUT_COLOUR, width=1, downsample="mean")
        self.loss_chart.view.setXRange(0, 1, padding=0.02)
        self._apply_palette()

    # ------------------------------------------------------------------ public
    def show_curves(self, curves: RunCurves | None) -> None:
        """Draw these curves from now on (a live run, or a past run reopened)."""
        self.curves = curves
        self._drawn_version = self._drawn_epochs = self._drawn_batches = -1
        self.redraw()

    def redraw(self) -> None:
        curves = self.curves
        title = self._speed_title(curves)
        if title != self._drawn_title:  # the time left moves even without new events
            self._drawn_title = title
            self.speed_label.setText(title)
            self.speed_label.setToolTip(title)
        if curves is None:
            if self._drawn_version != -2:
                for item in self._items():
                    item.setData([], [])
                self._drawn_version = -2
            return
        if curves.version == self._drawn_version:
            return
        self._drawn_version = curves.version
        # Only what changed: the epoch series grow once an epoch, the batch series often.
        if curves.epoch_version != self._drawn_epochs:
            self._drawn_epochs = curves.epoch_version
            epochs = np.array(curves.epoch)
            self.train_loss.setData(epochs, np.array(curves.train_loss))
            self.val_loss.setData(epochs, np.array(curves.val_loss))
            self.train_acc.setData(epochs, np.array(curves.train_acc))
            self.val_acc.setData(epochs, np.array(curves.val_acc))
        if len(curves.batch_x) != self._drawn_batches:
            self._drawn_batches = len(curves.batch_x)
            batch_x = np.array(curves.batch_x)
            self.batch_loss.setData(batch_x, np.array(curves.batch_loss))
            self.throughput.setData(batch_x, np.array(curves.batch_throughput))
        last = max(curves.total_epochs, curves.epochs_done, 1)
        if last != self._x_range:  # the x axis spans the whole run, set once
            self._x_range = last
            self.loss_chart.view.setXRange(0, last, padding=0.02)

    def plot_rects(self) -> list[tuple[str, tuple[float, float, float, float]]]:
        """Where each chart's title, axes and plot area are drawn, in the view's pixels
        (a test checks they all lie inside the widget)."""
        rects = []
        for chart in self._charts():
            for name, item in (("title", chart.title), ("left", chart.left),
                               ("bottom", chart.bottom), ("view", chart.view)):
                rect = self.view.mapFromScene(item.sceneBoundingRect()).boundingRect()
                rects.append((f"{chart.title.text}/{name}",
                              (rect.x(), rect.y(), rect.width(), rect.height())))
        return rects

    def point_counts(self) -> dict[str, int]:
        """Points drawn per series (what a test or a screenshot script checks)."""
        names = ("train_loss", "val_loss", "train_acc", "val_acc", "batch_loss", "throughput")
        return {name: 0 if getattr(self, name).xData is None else len(getattr(self, name).xData)
                for name in names}

    # ----------------------------------------------------------------- helpers
    def _items(self) -> list[pg.PlotDataItem]:
        return [self.train_loss, self.val_loss, self.train_acc, self.val_acc, self.batch_loss,
                self.throughput]

    def _charts(self) -> list[_Chart]:
        return [self.loss_chart, self.acc_chart, self.batch_chart, self.speed_chart]

    def _speed_title(self, curves: RunCurves | None) -> str:
        if curves is None:
            return ""
        speed = curves.throughput()
        eta = curves.eta_seconds()
        parts = [f"Throughput: {speed:,.0f} images/s"] if speed is not None else []
        if eta is not None:
            parts.append(f"about {format_duration(eta)} left")
        return " · ".join(parts)

    def _apply_palette(self) -> None:
        """Chart colours follow the window's palette (light or dark theme)."""
        palette = self.palette()
        self.view.setBackground(palette.color(QPalette.ColorRole.Base))
        text = palette.color(QPalette.ColorRole.WindowText)
        axis_pen = pg.mkPen(palette.color(QPalette.ColorRole.PlaceholderText))
        for chart in self._charts():
            for axis in chart.axes():
                axis.setPen(axis_pen)
                axis.setTextPen(text)
            chart.title.setAttr("color", text)
            chart.title.setAttr("size", "11pt")
            chart.title.setText(chart.title.text)

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.PaletteChange:
            self._apply_palette()
        super().changeEvent(event)
