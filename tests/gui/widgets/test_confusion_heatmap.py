"""The confusion matrix follows the theme: dark cells on the dark theme."""

from __future__ import annotations

from types import SimpleNamespace

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from gui.models.evaluation import ConfusionMatrixModel
from gui.theme import apply_theme
from gui.widgets.confusion_heatmap import ConfusionHeatmap


def test_cells_follow_the_dark_theme(qtbot):
    app = QApplication.instance()
    saved_style, saved_palette = app.style().name(), app.palette()
    model = ConfusionMatrixModel()
    report = SimpleNamespace(persons=("ann", "bob"), confusion_matrix=((9, 1), (0, 10)))
    model.set_report(report)
    heatmap = ConfusionHeatmap(model)
    qtbot.addWidget(heatmap)
    heatmap.show()
    empty, wrong = model.index(1, 0), model.index(0, 1)  # 0 of 10, 1 of 10
    try:
        apply_theme(app, dark=False)
        assert empty.data(Qt.ItemDataRole.BackgroundRole).lightness() > 200
        apply_theme(app, dark=True)
        qtbot.waitUntil(lambda: empty.data(Qt.ItemDataRole.BackgroundRole).lightness() < 100)
        assert wrong.data(Qt.ItemDataRole.BackgroundRole).lightness() < 128
        # the count stays readable on the dark cell
        assert wrong.data(Qt.ItemDataRole.ForegroundRole).lightness() > 128
    finally:
        app.setStyle(saved_style)
        app.setPalette(saved_palette)
