"""The runs table's header (issue 18): the sort arrow points the way the rows go, the
table opens sorted best test accuracy first, and the user's sort survives a restart."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QProxyStyle, QStyle, QStyleOptionHeader

from gui.models.runs import EPOCHS, STARTED, TEST_ACC, RunListModel
from gui.widgets.runs_table import RunsTableView


class _ArrowRecorder(QProxyStyle):
    """The real style, noting which arrow it is asked to draw in the header."""

    def __init__(self, base) -> None:
        super().__init__(base)
        self.arrows: list = []

    def drawPrimitive(self, element, option, painter, widget=None) -> None:
        if element == QStyle.PrimitiveElement.PE_IndicatorHeaderArrow:
            self.arrows.append(option.sortIndicator)
        super().drawPrimitive(element, option, painter, widget)


def _drawn_arrow(view: RunsTableView):
    style = _ArrowRecorder(QApplication.style().name())
    view.horizontalHeader().setStyle(style)
    view.horizontalHeader().grab()  # paints every section
    assert style.arrows, "no sort arrow was drawn"
    return style.arrows[-1]


def test_descending_sort_draws_a_down_arrow_and_ascending_an_up_one(qtbot):
    view = RunsTableView(RunListModel())
    qtbot.addWidget(view)
    view.resize(800, 200)
    view.show()
    assert view.horizontalHeader().sortIndicatorSection() == TEST_ACC  # the scoreboard
    assert view.horizontalHeader().sortIndicatorOrder() == Qt.SortOrder.DescendingOrder
    assert _drawn_arrow(view) == QStyleOptionHeader.SortIndicator.SortDown
    view.sortByColumn(STARTED, Qt.SortOrder.AscendingOrder)
    assert _drawn_arrow(view) == QStyleOptionHeader.SortIndicator.SortUp


def test_the_users_sort_survives_a_restart_of_the_train_page(qtbot, window, project):
    root = project.root
    project.close()
    assert window.open_project(str(root))
    page = window.workspace.page("train")
    header = page.runs_view.horizontalHeader()
    assert (header.sortIndicatorSection(), header.sortIndicatorOrder()) == \
        (TEST_ACC, Qt.SortOrder.DescendingOrder)
    page.runs_view.sortByColumn(EPOCHS, Qt.SortOrder.AscendingOrder)
    window.close_project(forget=False)  # saves the page's state, as quitting does
    assert window.open_project(str(root))
    header = window.workspace.page("train").runs_view.horizontalHeader()
    assert (header.sortIndicatorSection(), header.sortIndicatorOrder()) == \
        (EPOCHS, Qt.SortOrder.AscendingOrder)
