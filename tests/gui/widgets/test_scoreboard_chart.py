"""The scoreboard chart's score axis reads 0-100% (issue 18: it ran to 1.1)."""

from __future__ import annotations

from engine.evaluation.scoreboard import ScoreboardRow
from gui.widgets.scoreboard_chart import ScoreboardChart


def test_the_score_axis_stops_at_100_percent_with_full_bars_labelled(qtbot):
    chart = ScoreboardChart()
    qtbot.addWidget(chart)
    chart.set_rows([ScoreboardRow(1, "20261206-101500-resnet18-ab12", "ResNet-18", 1, 1.0,
                                  (0.95, 1.0), 1.0, 1.0, 1.0)])
    chart.resize(600, 400)
    chart.show()
    assert chart.score_ticks() == ["0%", "20%", "40%", "60%", "80%", "100%"]
    assert chart.value_labels() == ["1.00"] * 4
    top = chart.plot.vb.viewRange()[1][1]
    assert 1.0 < top < 1.2  # room for the labels of full bars, no tick above 100%
