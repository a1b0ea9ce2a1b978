"""The confusion matrix as a heatmap: a QTableView over :class:`ConfusionMatrixModel`.

Why a table view rather than a pyqtgraph ImageItem: the cells are few (persons²),
and the table gives for free what an image would need by hand: the count written in
each cell, person names as real header labels on both axes, exact hit-testing of a
click, keyboard navigation (arrows + Enter), tooltips, and a model that
``qtmodeltester`` can check. The colour comes from the model's BackgroundRole.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QModelIndex, QRect, QSize, Qt, Signal
from PySide6.QtGui import QBrush, QFont, QFontMetrics, QKeyEvent, QPainter, QPalette, QPen
from PySide6.QtWidgets import (QAbstractItemView, QGridLayout, QHeaderView, QLabel, QStyle,
                               QStyledItemDelegate, QStyleOptionHeader, QStyleOptionViewItem,
                               QTableView, QWidget)

from gui.models.evaluation import (PREDICTED_PERSON_ROLE, TRUE_PERSON_ROLE,
                                   ConfusionMatrixModel)
from gui.theme import set_muted

CELL = 42  # logical pixels of a square cell
MAX_NAME = 150  # longest header label before eliding
MIN_CELLS_SHOWN = 4  # columns a squeezed matrix still shows (the rest scroll)
MAX_HEIGHT = 560  # taller matrices scroll under their column headers


class RotatedHeaderView(QHeaderView):
    """A horizontal header whose labels read bottom-to-top, so long person names fit
    above narrow square columns."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(Qt.Orientation.Horizontal, parent)
        self.setSectionsClickable(False)

    def sizeHint(self) -> QSize:
        hint = super().sizeHint()
        model = self.model()
        metrics = QFontMetrics(self.font())
        longest = max((metrics.horizontalAdvance(str(model.headerData(
            i, Qt.Orientation.Horizontal))) for i in range(model.columnCount())), default=0) \
            if model is not None else 0
        return QSize(hint.width(), min(MAX_NAME, longest) + 14)

    def paintSection(self, painter: QPainter, rect: QRect, logical_index: int) -> None:
        option = QStyleOptionHeader()
        self.initStyleOption(option)
        option.rect = rect
        option.section = logical_index
        option.text = ""
        self.style().drawControl(QStyle.ControlElement.CE_HeaderSection, option, painter, self)
        text = str(self.model().headerData(logical_index, Qt.Orientation.Horizontal) or "")
        painter.save()
        painter.translate(rect.left(), rect.bottom())
        painter.rotate(-90)
        box = QRect(6, 0, rect.height() - 10, rect.width())
        elided = QFontMetrics(self.font()).elidedText(text, Qt.TextElideMode.ElideRight,
                                                      box.width())
        painter.setPen(self.palette().color(self.foregroundRole()))
        painter.drawText(box, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, elided)
        painter.restore()


class ConfusionCellDelegate(QStyledItemDelegate):
    """Paints the heat colour and count even on the chosen cell, which gets a frame in
    the highlight colour instead of the usual fill (that would hide its heat)."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index) -> None:
        painter.save()
        rect = option.rect
        painter.fillRect(rect, QBrush(index.data(Qt.ItemDataRole.BackgroundRole)))
        font = QFont(option.font)
        font.setBold(index.row() == index.column())
        painter.setFont(font)
        painter.setPen(index.data(Qt.ItemDataRole.ForegroundRole))
        painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, str(index.data() or ""))
        if option.state & QStyle.StateFlag.State_Selected:
            painter.setPen(QPen(option.palette.color(QPalette.ColorRole.Highlight), 3))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRect(rect.adjusted(2, 2, -2, -2))
        painter.restore()


class ConfusionTableView(QTableView):
    """Enter on a cell works like a click (keyboard users reach every cell). Its size
    hint is the whole matrix; given less, it scrolls under its fixed person headers."""

    cell_activated = Signal(QModelIndex)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.natural_size = QSize(0, 0)

    def sizeHint(self) -> QSize:
        return self.natural_size if not self.natural_size.isEmpty() else super().sizeHint()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and self.currentIndex().isValid():
            self.cell_activated.emit(self.currentIndex())
            return
        super().keyPressEvent(event)


class ConfusionHeatmap(QWidget):
    """Signal: ``cell_clicked(true_person, predicted_person)``."""

    cell_clicked = Signal(str, str)

    def __init__(self, model: ConfusionMatrixModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.table = ConfusionTableView()
        self.table.setHorizontalHeader(RotatedHeaderView(self.table))
        self.table.setModel(model)
        self.table.setItemDelegate(ConfusionCellDelegate(self.table))
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectItems)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setCornerButtonEnabled(False)
        self.table.setShowGrid(True)
        self.table.setMouseTracking(True)
        for header in (self.table.horizontalHeader(), self.table.verticalHeader()):
            header.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
            header.setDefaultSectionSize(CELL)
            header.setMinimumSectionSize(CELL)
        self.table.verticalHeader().setDefaultAlignment(
            Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.table.clicked.connect(self.activate_cell)
        self.table.cell_activated.connect(self.activate_cell)
        model.modelReset.connect(self._fit)

        predicted = QLabel("Predicted person →")
        true = QLabel("True person ↓")
        for label in (predicted, true):
            set_muted(label)
        predicted.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        layout = QGridLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(true, 0, 0)
        layout.addWidget(predicted, 0, 1)
        layout.addWidget(self.table, 1, 0, 1, 2)
        layout.setRowStretch(2, 1)
        layout.setColumnStretch(2, 1)
        self._follow_palette()

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:  # the dark theme switched on or off
            self._follow_palette()

    def _follow_palette(self) -> None:
        palette = self.palette()  # the table gets the new palette after its parent
        self.model.set_palette_colours(
            palette.color(QPalette.ColorRole.Base), palette.color(QPalette.ColorRole.Text),
            palette.color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text))

    def activate_cell(self, index: QModelIndex) -> None:
        """What a click on a cell does (tests call this with the index clicked)."""
        if index.isValid():
            self.table.setCurrentIndex(index)
            self.cell_clicked.emit(index.data(TRUE_PERSON_ROLE), index.data(PREDICTED_PERSON_ROLE))

    def select_cell(self, true_person: str, predicted_person: str) -> None:
        self.table.setCurrentIndex(self.model.cell_of(true_person, predicted_person))

    def clear_selection(self) -> None:
        self.table.clearSelection()

    def _fit(self) -> None:
        # As big as its cells when there is room (no scroll bars for a lab-sized matrix);
        # in a narrow window or for many persons it shrinks to a few cells and scrolls,
        # its person headers staying in view.
        self.table.horizontalHeader().updateGeometry()
        for header in (self.table.horizontalHeader(), self.table.verticalHeader()):
            for section in range(header.count()):
                header.resizeSection(section, CELL)
        width = self.table.verticalHeader().sizeHint().width() + CELL * self.model.columnCount() \
            + 2 * self.table.frameWidth() + 2
        height = self.table.horizontalHeader().sizeHint().height() + \
            CELL * self.model.rowCount() + 2 * self.table.frameWidth() + 2
        scroll_bar = self.table.style().pixelMetric(QStyle.PixelMetric.PM_ScrollBarExtent)
        least_width = self.table.verticalHeader().sizeHint().width() + MIN_CELLS_SHOWN * CELL \
            + 2 * self.table.frameWidth() + scroll_bar + 2
        self.table.natural_size = QSize(width, min(height, MAX_HEIGHT))
        self.table.setMinimumSize(min(width, least_width), min(height, MAX_HEIGHT))
        self.table.setMaximumSize(width, height)
        self.table.updateGeometry()
