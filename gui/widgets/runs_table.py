"""The runs table: one row per run, sortable, best test accuracy first (the scoreboard)
unless the user sorts otherwise; one run selected at a time."""

from __future__ import annotations

from PySide6.QtCore import QAbstractItemModel, Qt
from PySide6.QtWidgets import (QAbstractItemView, QHeaderView, QStyleOptionHeader, QTableView,
                               QWidget)

from gui.models.runs import COLUMNS, TEST_ACC

_SortIndicator = QStyleOptionHeader.SortIndicator


class SortArrowHeader(QHeaderView):
    """A header whose sort arrow points the way the rows go: down for descending.

    Qt hands the style SortDown for an ascending sort and SortUp for a descending one
    (the old Windows convention), so a table sorted best-first showed an arrow pointing
    up. The flip is made where Qt fills each section's style option.
    """

    _FLIPPED = {_SortIndicator.SortUp: _SortIndicator.SortDown,
                _SortIndicator.SortDown: _SortIndicator.SortUp}

    def initStyleOptionForIndex(self, option: QStyleOptionHeader, logicalIndex: int) -> None:
        super().initStyleOptionForIndex(option, logicalIndex)
        option.sortIndicator = self._FLIPPED.get(option.sortIndicator, option.sortIndicator)


class RunsTableView(QTableView):
    def __init__(self, model: QAbstractItemModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setHorizontalHeader(SortArrowHeader(Qt.Orientation.Horizontal, self))
        self.setModel(model)
        self.setSortingEnabled(True)
        self.sortByColumn(TEST_ACC, Qt.SortOrder.DescendingOrder)  # the scoreboard
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setAlternatingRowColors(True)
        self.verticalHeader().hide()
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)

    def sort_state(self) -> dict:
        """The user's sort, to keep across restarts (the page saves it)."""
        header = self.horizontalHeader()
        return {"column": header.sortIndicatorSection(),
                "descending": header.sortIndicatorOrder() == Qt.SortOrder.DescendingOrder}

    def restore_sort_state(self, state: dict) -> None:
        column = state.get("column")
        if isinstance(column, int) and 0 <= column < len(COLUMNS):
            self.sortByColumn(column, Qt.SortOrder.DescendingOrder if state.get("descending")
                              else Qt.SortOrder.AscendingOrder)
