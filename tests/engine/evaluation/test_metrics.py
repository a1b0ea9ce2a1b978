from __future__ import annotations

import json

import numpy as np
import pytest

from engine.evaluation.metrics import (EvaluationReport, PersonMetrics, bootstrap_accuracy_ci,
                                       evaluate_predictions)

PERSONS = ("Anna", "Ben", "Chai")
SAMPLE_IDS = (10, 11, 12, 13, 14, 15)
Y_TRUE = np.array([0, 0, 0, 1, 1, 2])
# Predictions 0, 0, 1, 1, 0, 0: Chai is never predicted. Confidences 0.9, 0.6, 0.8, 0.55, 0.95, 0.4.
PROBS = np.array([
    [0.90, 0.05, 0.05],
    [0.60, 0.30, 0.10],
    [0.10, 0.80, 0.10],
    [0.40, 0.55, 0.05],
    [0.95, 0.03, 0.02],
    [0.40, 0.35, 0.25],
])


@pytest.fixture(scope="module")
def report() -> EvaluationReport:
    return evaluate_predictions(Y_TRUE, PROBS, PERSONS, SAMPLE_IDS, bootstrap=200, seed=0)


def test_scores_match_hand_computation(report: EvaluationReport) -> None:
    assert report.accuracy == pytest.approx(3 / 6)
    assert report.per_person["Anna"] == PersonMetrics(
        precision=pytest.approx(2 / 4), recall=pytest.approx(2 / 3), f1=pytest.approx(4 / 7),
        support=3)
    assert report.per_person["Ben"] == PersonMetrics(
        precision=pytest.approx(1 / 2), recall=pytest.approx(1 / 2), f1=pytest.approx(1 / 2),
        support=2)
    # Never predicted: precision is 0/0, reported as 0 rather than an error.
    assert report.per_person["Chai"] == PersonMetrics(0.0, 0.0, 0.0, 1)
    assert report.macro_precision == pytest.approx(1 / 3)
    assert report.macro_recall == pytest.approx(7 / 18)
    assert report.macro_f1 == pytest.approx(5 / 14)
    assert report.confusion_matrix == ((2, 1, 0), (1, 1, 0), (1, 0, 0))
    assert report.persons == PERSONS


def test_person_absent_from_the_split_still_has_a_row_but_no_macro_weight() -> None:
    report = evaluate_predictions(Y_TRUE, np.hstack([PROBS, np.zeros((6, 1))]),
                                  PERSONS + ("Dao",), bootstrap=0)
    assert report.confusion_matrix == ((2, 1, 0, 0), (1, 1, 0, 0), (1, 0, 0, 0), (0, 0, 0, 0))
    assert report.per_person["Dao"] == PersonMetrics(0.0, 0.0, 0.0, 0)
    assert report.macro_f1 == pytest.approx(5 / 14)


def test_misclassified_are_the_wrong_ones_most_confident_first(report: EvaluationReport) -> None:
    wrong = report.misclassified()
    assert [s.sample_id for s in wrong] == [14, 12, 15]
    assert [(s.true_person, s.predicted_person) for s in wrong] == [
        ("Ben", "Anna"), ("Anna", "Ben"), ("Chai", "Anna")]
    assert [s.confidence for s in wrong] == pytest.approx([0.95, 0.8, 0.4])


def test_low_confidence_is_strictly_below_threshold_least_sure_first(report: EvaluationReport) -> None:
    assert [s.sample_id for s in report.low_confidence(0.6)] == [15, 13]
    assert report.low_confidence(0.0) == []


def test_samples_in_cell_match_the_confusion_counts(report: EvaluationReport) -> None:
    assert [s.sample_id for s in report.samples_in_cell("Anna", "Anna")] == [10, 11]
    assert [s.sample_id for s in report.samples_in_cell("Chai", "Anna")] == [15]
    assert report.samples_in_cell("Ben", "Chai") == []
    for t, true_person in enumerate(PERSONS):
        for p, predicted_person in enumerate(PERSONS):
            assert len(report.samples_in_cell(true_person, predicted_person)) == \
                report.confusion_matrix[t][p]
    with pytest.raises(ValueError, match="Zoe"):
        report.samples_in_cell("Zoe", "Anna")


def test_round_trip_through_json(report: EvaluationReport) -> None:
    data = json.loads(json.dumps(report.to_dict()))
    for key in ("accuracy", "accuracy_ci", "macro_precision", "macro_recall", "macro_f1",
                "per_person", "confusion_matrix", "persons"):
        assert key in data
    assert EvaluationReport.from_dict(data) == report


def test_summary_without_samples_loads() -> None:
    report = evaluate_predictions(Y_TRUE, PROBS, PERSONS, bootstrap=0)
    data = report.to_dict()
    del data["samples"]
    loaded = EvaluationReport.from_dict(data)
    assert loaded.samples == () and loaded.accuracy == report.accuracy


def test_default_sample_ids_are_positions() -> None:
    report = evaluate_predictions(Y_TRUE, PROBS, PERSONS, bootstrap=0)
    assert [s.sample_id for s in report.samples] == list(range(6))
    assert report.accuracy_ci == (0.5, 0.5)


def _predictions(n: int, accuracy: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y_true = rng.integers(0, 2, size=n)
    correct = rng.random(n) < accuracy
    y_pred = np.where(correct, y_true, 1 - y_true)
    return y_true, np.eye(2)[y_pred] * 0.8 + 0.1


def test_ci_contains_accuracy_and_narrows_with_more_samples() -> None:
    widths = []
    for n in (40, 4000):
        y_true, probs = _predictions(n, 0.8, seed=n)
        report = evaluate_predictions(y_true, probs, ("a", "b"), bootstrap=1000, seed=0)
        low, high = report.accuracy_ci
        assert low <= report.accuracy <= high
        widths.append(high - low)
    assert widths[1] < widths[0] / 4  # the width shrinks like 1/sqrt(n): here 10x


def test_ci_is_reproducible_with_the_seed() -> None:
    correct = np.random.default_rng(1).random(300) < 0.7
    assert bootstrap_accuracy_ci(correct, 500, seed=3) == bootstrap_accuracy_ci(correct, 500, seed=3)
    # More resamples than one chunk holds give the same kind of interval.
    low, high = bootstrap_accuracy_ci(correct, 20_000, seed=0)
    assert low < correct.mean() < high


@pytest.mark.parametrize("y_true, probs, names", [
    ([0, 1], np.ones((3, 2)) / 2, ("a", "b")),  # rows != labels
    ([0, 1], np.ones((2, 3)) / 3, ("a", "b")),  # columns != names
    ([0, 2], np.ones((2, 2)) / 2, ("a", "b")),  # label out of range
    ([], np.ones((0, 2)), ("a", "b")),  # nothing to score
    ([0, 1], np.ones((2, 2)) / 2, ("a", "a")),  # ambiguous names
])
def test_bad_inputs_are_refused(y_true, probs, names) -> None:
    with pytest.raises(ValueError):
        evaluate_predictions(y_true, probs, names, bootstrap=0)
