"""The Train page's charts in a narrow pane (a 1024-pixel window, or 1.5x scaling):
titles, axes and plots all inside the widget, none cut at its right edge."""

from __future__ import annotations

from engine.catalog.runs import EpochRecord
from gui.models.training_curves import RunCurves


def test_every_chart_lies_inside_a_narrow_widget(qtbot, qapp):
    from gui.widgets.training_charts import TrainingCharts

    charts = TrainingCharts()
    qtbot.addWidget(charts)
    charts.resize(430, 420)  # the Train page's right pane in a 1024 x 700 window
    charts.show()
    qtbot.waitExposed(charts)
    epochs = [EpochRecord(n, 2.0 / n, 40.0 + 10 * n, 2.2 / n, 35.0 + 9 * n, 1e-3, 3.0, 120.0)
              for n in range(1, 6)]
    charts.show_curves(RunCurves.from_epochs("run-1", "customcnn1", epochs, 10))
    qapp.processEvents()
    viewport = charts.view.viewport().rect()
    outside = [(name, rect) for name, rect in charts.plot_rects()
               if rect[0] < viewport.left() - 1 or rect[0] + rect[2] > viewport.right() + 2
               or rect[1] < viewport.top() - 1 or rect[1] + rect[3] > viewport.bottom() + 2]
    assert not outside, (outside, viewport)
    assert charts.point_counts()["train_loss"] == 5
