"""The scoreboard's rule: only runs scored on the same test faces are ranked together;
every other run is listed with the reason, and no run is ever refused."""

from __future__ import annotations

import json

import pytest

from engine.evaluation.metrics import EvaluationReport, SamplePrediction
from engine.evaluation.scoreboard import Scoreboard, ScoreboardEntry, why_not_comparable

PERSONS = ("Anna", "Ben")


def _samples(persons: tuple[str, ...], faces: range) -> tuple[SamplePrediction, ...]:
    return tuple(SamplePrediction(f, f % len(persons), f % len(persons), 0.9,
                                  persons[f % len(persons)], persons[f % len(persons)])
                 for f in faces)


def _report(accuracy: float, macro_f1: float, persons: tuple[str, ...] = PERSONS,
            faces: range = range(10)) -> EvaluationReport:
    return EvaluationReport(
        accuracy=accuracy, accuracy_ci=(accuracy - 0.05, accuracy + 0.05),
        macro_precision=macro_f1 + 0.01, macro_recall=macro_f1 - 0.01, macro_f1=macro_f1,
        per_person={}, confusion_matrix=(), persons=persons,
        samples=_samples(persons, faces))


def _entry(run_id: str, label: str, split_id: str, accuracy: float, macro_f1: float,
           persons: tuple[str, ...] = PERSONS, faces: range = range(10),
           stale: str = "") -> ScoreboardEntry:
    return ScoreboardEntry(run_id, label, split_id, _report(accuracy, macro_f1, persons, faces),
                           stale)


@pytest.fixture
def board() -> Scoreboard:
    return Scoreboard([
        _entry("r1", "CustomCNN1", "split-A", 0.70, 0.68),
        _entry("r2", "ResNet18", "split-A", 0.90, 0.85),
        _entry("r3", "ViT-B/16", "split-A", 0.90, 0.89),  # ties ResNet18, better F1
        _entry("r4", "ResNet18", "split-B", 0.99, 0.99),
    ])


def test_rows_rank_by_accuracy_then_macro_f1(board: Scoreboard) -> None:
    rows = board.rows("r1")
    assert [r.run_id for r in rows] == ["r3", "r2", "r1"]
    assert [r.rank for r in rows] == [1, 2, 3]
    best = rows[0]
    assert (best.label, best.accuracy, best.macro_f1) == ("ViT-B/16", 0.90, 0.89)
    assert best.accuracy_ci == pytest.approx((0.85, 0.95))
    assert best.macro_precision == pytest.approx(0.90)
    assert best.macro_recall == pytest.approx(0.88)


def test_runs_of_another_split_are_listed_with_the_reason_never_ranked(board: Scoreboard) -> None:
    standings = board.standings("r2")
    assert "r4" not in [r.run_id for r in standings.rows]
    assert standings.reason("r4") == "evaluated on another test split"
    assert [r.run_id for r in board.rows("r4")] == ["r4"]
    assert board.standings("nope").rows == ()  # a run not evaluated yet ranks nothing


def test_the_newest_current_run_is_the_default_reference() -> None:
    board = Scoreboard([_entry("r1", "a", "s", 0.5, 0.5), _entry("r2", "b", "s", 0.6, 0.6)])
    assert [r.run_id for r in board.rows()] == ["r2", "r1"]
    assert Scoreboard().rows() == []
    board.add(_entry("r3", "c", "s", 0.4, 0.4, faces=range(8), stale="test faces changed"))
    assert board.default_reference() == "r2"


def test_a_run_trained_on_other_persons_is_listed_not_refused(board: Scoreboard) -> None:
    """The bug of issue 18: a 6th person made the whole scoreboard (and with it the
    Evaluate page and the lab report) fail."""
    board.add(_entry("r5", "ResNet18", "split-A", 0.5, 0.5, ("Anna", "Ben", "Chai"),
                     faces=range(15)))
    standings = board.standings("r5")
    assert [r.run_id for r in standings.rows] == ["r5"]
    assert "without Chai" in standings.reason("r1")
    assert "trained on 2 persons, not 3" in standings.reason("r1")
    assert "with Chai" in board.standings("r1").reason("r5")


def test_same_persons_but_an_older_test_set_is_flagged_for_re_evaluation() -> None:
    new = _entry("new", "b", "s", 0.8, 0.8, faces=range(12))
    old = _entry("old", "a", "s", 0.9, 0.9, faces=range(10),
                 stale="test faces changed since: 2 added")
    assert why_not_comparable(new, old) == ("evaluated on an older test set (test faces "
                                            "changed since: 2 added): re-evaluate it to rank it")
    assert "re-evaluate that run" in why_not_comparable(old, new)
    twin = _entry("twin", "c", "s", 0.7, 0.7, faces=range(10), stale="2 added")
    assert why_not_comparable(old, twin) == ""  # the same older faces still compare


def test_refuses_the_same_run_twice(board: Scoreboard) -> None:
    with pytest.raises(ValueError, match="r1"):
        board.add(_entry("r1", "again", "split-B", 0.5, 0.5))


def test_to_dict_names_ranked_and_left_out_runs(board: Scoreboard) -> None:
    data = json.loads(json.dumps(board.to_dict("r1")))
    assert data["reference"] == "r1"
    assert [row["run_id"] for row in data["ranked"]] == ["r3", "r2", "r1"]
    assert data["ranked"][0]["accuracy_ci"] == pytest.approx([0.85, 0.95])
    assert data["not_comparable"] == [{"run_id": "r4", "label": "ResNet18", "accuracy": 0.99,
                                       "reason": "evaluated on another test split"}]
