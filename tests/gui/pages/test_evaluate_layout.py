"""The Evaluate page in a small window (1024 x 700, or 1.5x scaling): every metrics
column in view, and a confusion matrix of many persons that scrolls under its person
headers instead of being cut."""

from __future__ import annotations

import numpy as np
import pytest

from engine.evaluation.metrics import evaluate_predictions
from gui.jobs.evaluation_jobs import RunResults
from gui.pages.evaluate import EvaluatePage
from gui.pages.page_context import PageContext
from gui.project_session import ProjectSession

PAGE_SIZE = (880, 560)  # the page's part of a 1024 x 700 window


def report(persons: int):
    names = [f"Person number {n} Featherstone" for n in range(persons)]
    rng = np.random.default_rng(0)
    truth = np.repeat(np.arange(persons), 3)
    probs = rng.random((len(truth), persons))
    probs[np.arange(len(truth)), truth] += 1.5  # mostly right
    probs /= probs.sum(axis=1, keepdims=True)
    return evaluate_predictions(truth, probs, names, bootstrap=0)


@pytest.fixture
def page(qtbot, project, runner, settings):
    page = EvaluatePage(PageContext(ProjectSession(project), runner, settings))
    qtbot.addWidget(page)
    page.resize(*PAGE_SIZE)
    page.show()
    qtbot.waitExposed(page)
    return page


def shown(qtbot, qapp, page, persons: int) -> None:
    page._show_results(RunResults("run-1", report(persons), ()))
    page.gallery.title_label.setText("Person number 1 Featherstone predicted as Person "
                                     "number 2 Featherstone · 12")
    qapp.processEvents()
    qtbot.wait(20)
    qapp.processEvents()


@pytest.mark.parametrize("persons", [6, 14])
def test_metrics_columns_all_in_view(qtbot, qapp, page, persons):
    shown(qtbot, qapp, page, persons)
    table, scroll = page.metrics_table, page.results_scroll
    header = table.horizontalHeader()
    # Every column whole inside the table...
    assert header.length() <= table.viewport().width() + 1
    for column in range(1, page.metrics_model.columnCount()):  # numbers are never elided
        assert header.sectionSize(column) >= table.sizeHintForColumn(column), column
    # ...and the table whole inside the visible part of the results column.
    right = table.mapTo(scroll.viewport(), table.rect().topRight()).x()
    assert right <= scroll.viewport().width(), (right, scroll.viewport().width())


def test_a_large_confusion_matrix_scrolls_under_its_headers(qtbot, qapp, page):
    shown(qtbot, qapp, page, 14)
    table = page.heatmap.table
    scroll = page.results_scroll
    header = table.horizontalHeader()
    # All columns fit, or the matrix scrolls sideways itself (its row names stay).
    assert header.length() <= table.viewport().width() or table.horizontalScrollBar().isVisible()
    # The matrix's left edge (the row names) inside the visible results column.
    left = table.mapTo(scroll.viewport(), table.rect().topLeft()).x()
    right = table.mapTo(scroll.viewport(), table.rect().topRight()).x()
    assert 0 <= left and right <= scroll.viewport().width(), (left, right)
    assert table.verticalHeader().isVisible() and table.verticalHeader().width() > 40
    assert not scroll.horizontalScrollBar().isVisible()  # the names never scroll away
