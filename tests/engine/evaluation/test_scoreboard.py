from __future__ import annotations

import json

import pytest

from engine.evaluation.metrics import EvaluationReport
from engine.evaluation.scoreboard import Scoreboard, ScoreboardEntry

PERSONS = ("Anna", "Ben")


def _report(accuracy: float, macro_f1: float, persons: tuple[str, ...] = PERSONS) -> EvaluationReport:
    return EvaluationReport(
        accuracy=accuracy, accuracy_ci=(accuracy - 0.05, accuracy + 0.05),
        macro_precision=macro_f1 + 0.01, macro_recall=macro_f1 - 0.01, macro_f1=macro_f1,
        per_person={}, confusion_matrix=(), persons=persons)


def _entry(run_id: str, label: str, split_id: str, accuracy: float, macro_f1: float,
           persons: tuple[str, ...] = PERSONS) -> ScoreboardEntry:
    return ScoreboardEntry(run_id, label, split_id, _report(accuracy, macro_f1, persons))


@pytest.fixture
def board() -> Scoreboard:
    return Scoreboard([
        _entry("r1", "CustomCNN1", "split-A", 0.70, 0.68),
        _entry("r2", "ResNet18", "split-A", 0.90, 0.85),
        _entry("r3", "ViT-B/16", "split-A", 0.90, 0.89),  # ties ResNet18, better F1
        _entry("r4", "ResNet18", "split-B", 0.99, 0.99),
    ])


def test_rows_rank_by_accuracy_then_macro_f1(board: Scoreboard) -> None:
    rows = board.rows("split-A")
    assert [r.run_id for r in rows] == ["r3", "r2", "r1"]
    assert [r.rank for r in rows] == [1, 2, 3]
    best = rows[0]
    assert (best.label, best.accuracy, best.macro_f1) == ("ViT-B/16", 0.90, 0.89)
    assert best.accuracy_ci == pytest.approx((0.85, 0.95))
    assert best.macro_precision == pytest.approx(0.90)
    assert best.macro_recall == pytest.approx(0.88)


def test_rows_never_mix_splits(board: Scoreboard) -> None:
    assert [r.run_id for r in board.rows("split-B")] == ["r4"]
    assert board.rows("split-C") == []
    with pytest.raises(ValueError, match="split"):
        board.rows()


def test_single_split_board_needs_no_split_name() -> None:
    board = Scoreboard([_entry("r1", "a", "s", 0.5, 0.5), _entry("r2", "b", "s", 0.6, 0.6)])
    assert [r.run_id for r in board.rows()] == ["r2", "r1"]
    assert Scoreboard().rows() == []


def test_refuses_different_persons_on_one_split(board: Scoreboard) -> None:
    with pytest.raises(ValueError, match="persons"):
        board.add(_entry("r5", "ResNet18", "split-A", 0.5, 0.5, ("Anna", "Ben", "Chai")))


def test_refuses_the_same_run_twice(board: Scoreboard) -> None:
    with pytest.raises(ValueError, match="r1"):
        board.add(_entry("r1", "again", "split-B", 0.5, 0.5))


def test_to_dict_ranks_each_split_on_its_own(board: Scoreboard) -> None:
    data = json.loads(json.dumps(board.to_dict()))
    assert list(data["splits"]) == ["split-A", "split-B"]
    assert [row["run_id"] for row in data["splits"]["split-A"]] == ["r3", "r2", "r1"]
    assert data["splits"]["split-B"][0]["rank"] == 1
    assert data["splits"]["split-A"][0]["accuracy_ci"] == pytest.approx([0.85, 0.95])
