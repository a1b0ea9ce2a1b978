from __future__ import annotations

import logging

import numpy as np
import pytest

from engine.evaluation.label_issues import rank_label_issues, stratified_folds

N_PHOTOS = 600
N_PERSONS = 4


def _noisy_dataset(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """True labels, given labels with 10% flipped to another person, and out-of-fold
    probabilities of a decent model that saw the true identities."""
    rng = np.random.default_rng(seed)
    true = rng.integers(0, N_PERSONS, size=N_PHOTOS)
    logits = rng.normal(size=(N_PHOTOS, N_PERSONS)) + 3.0 * np.eye(N_PERSONS)[true]
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    flipped = rng.choice(N_PHOTOS, size=N_PHOTOS // 10, replace=False)
    given = true.copy()
    given[flipped] = (true[flipped] + rng.integers(1, N_PERSONS, size=flipped.size)) % N_PERSONS
    return given, probs, flipped


def test_flipped_labels_rank_in_the_top_ten_percent() -> None:
    given, probs, flipped = _noisy_dataset()
    issues = rank_label_issues(given, probs)
    top = {issue.index for issue in issues[:N_PHOTOS // 10]}
    recall = len(top & set(flipped.tolist())) / flipped.size
    assert recall >= 0.8


def test_issue_fields_and_order() -> None:
    given, probs, _ = _noisy_dataset(seed=1)
    issues = rank_label_issues(given, probs)
    assert issues
    scores = [issue.score for issue in issues]
    assert scores == sorted(scores, reverse=True)
    assert all(0.0 <= score <= 1.0 for score in scores)
    for issue in issues:
        assert issue.given_index == given[issue.index]
        assert issue.suggested_index == probs[issue.index].argmax()
        assert issue.score == pytest.approx(1.0 - probs[issue.index, issue.given_index])


def test_clean_confident_labels_raise_nothing() -> None:
    labels = np.repeat(np.arange(3), 20)
    probs = np.full((60, 3), 0.05)
    probs[np.arange(60), labels] = 0.9
    assert rank_label_issues(labels, probs) == []
    assert rank_label_issues(np.array([], dtype=int), np.zeros((0, 3))) == []


def test_mismatched_inputs_are_refused() -> None:
    with pytest.raises(ValueError):
        rank_label_issues(np.array([0, 1]), np.full((3, 2), 0.5))
    with pytest.raises(ValueError):
        rank_label_issues(np.array([0, 2]), np.full((2, 2), 0.5))


def test_folds_are_stratified_and_cover_every_photo_once() -> None:
    labels = np.repeat([0, 1, 2], [10, 10, 5])
    folds = stratified_folds(labels, k=5, seed=0)
    assert len(folds) == 5
    held_out = np.concatenate([val for _, val in folds])
    assert sorted(held_out.tolist()) == list(range(labels.size))
    for train, val in folds:
        assert not set(train) & set(val)
        assert len(train) + len(val) == labels.size
        assert np.bincount(labels[val], minlength=3).tolist() == [2, 2, 1]


def test_folds_depend_on_the_seed_only() -> None:
    labels = np.repeat([0, 1], 12)
    first = stratified_folds(labels, k=3, seed=4)
    again = stratified_folds(labels, k=3, seed=4)
    other = stratified_folds(labels, k=3, seed=5)
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(first, again))
    assert not all(np.array_equal(a[1], b[1]) for a, b in zip(first, other))


def test_small_class_reduces_k_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    labels = np.repeat([0, 1], [10, 3])
    with caplog.at_level(logging.WARNING, logger="engine.evaluation.label_issues"):
        folds = stratified_folds(labels, k=5, seed=0)
    assert len(folds) == 3
    assert "5 to 3 folds" in caplog.text
    for _, val in folds:
        assert 1 in labels[val]


def test_single_photo_class_is_refused() -> None:
    with pytest.raises(ValueError, match=r"\[7\]"):
        stratified_folds(np.array([0, 0, 0, 7]), k=2, seed=0)
    with pytest.raises(ValueError):
        stratified_folds(np.array([0, 0, 1, 1]), k=1, seed=0)


def test_class_without_photos_is_logged_not_warned(caplog: pytest.LogCaptureFixture,
                                                   recwarn: pytest.WarningsRecorder) -> None:
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, size=50)  # nobody is labelled as the third person
    probs = rng.dirichlet([1.0, 1.0, 1.0], size=50)
    with caplog.at_level(logging.INFO, logger="engine.evaluation.label_issues"):
        issues = rank_label_issues(labels, probs)
    assert all(issue.given_index in (0, 1) for issue in issues)
    assert "cleanlab:" in caplog.text
    assert not [w for w in recwarn if "cleanlab" in w.filename]
