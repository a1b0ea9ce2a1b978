"""Photos that are probably filed under the wrong person.

Uses cleanlab's confident learning (Northcutt et al., 2021): from out-of-fold
predicted probabilities it estimates, per class, how confident the model typically is
on correctly labelled photos, and flags the photos whose given label falls below that
class's own threshold while another class clears its threshold. Per-class thresholds
matter here because some people are simply harder to recognise than others; a plain
"model disagrees" rule would flag every photo of a hard person. The probabilities
must be out-of-fold (each photo scored by a model that never trained on it), or the
model has memorised the wrong labels and agrees with them: :func:`stratified_folds`
makes those folds.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass

import numpy as np
from cleanlab.filter import find_label_issues
from cleanlab.rank import get_label_quality_scores
from sklearn.model_selection import StratifiedKFold

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LabelIssue:
    index: int  # position in the ``labels`` array
    given_index: int  # the label the photo carries now
    suggested_index: int  # the class the out-of-fold model believes in most
    score: float  # 1 - cleanlab label quality, in [0, 1]; higher = more suspicious


# cleanlab's filters (cleanlab.filter.find_label_issues' filter_by) used here:
# confident learning's per-class thresholds, for a model that errs on many correct
# labels; "the out-of-fold guess is another person", for a model that rarely does.
CONFIDENT_LEARNING = "prune_by_noise_rate"
PREDICTED_NOT_GIVEN = "predicted_neq_given"
FILTERS = (CONFIDENT_LEARNING, PREDICTED_NOT_GIVEN)


def rank_label_issues(labels: np.ndarray, oof_probs: np.ndarray,
                      filter_by: str = CONFIDENT_LEARNING) -> list[LabelIssue]:
    """Photos cleanlab flags as likely mislabelled, most suspicious first.

    ``labels`` are the given class indices (N,), ``oof_probs`` the out-of-fold softmax
    outputs (N, C). Only flagged photos are returned; ``score`` ranks them by
    self-confidence (the probability the model gives the given label).

    ``filter_by`` picks which photos are flagged (see FILTERS). Confident learning
    only counts a photo as another person's when the model is as sure of it as it
    typically is of that person's own photos; with few mistakes among a person's
    photos and a model that is not sharply calibrated, it misses some (measured with
    the face network on 5celeb: a quarter of the planted mistakes), which
    "predicted_neq_given" finds when the model is accurate.
    """
    if filter_by not in FILTERS:
        raise ValueError(f"filter_by must be one of {FILTERS}, not {filter_by!r}")
    labels = np.asarray(labels, dtype=np.int64).reshape(-1)
    oof_probs = np.asarray(oof_probs, dtype=np.float64)
    if oof_probs.ndim != 2 or oof_probs.shape[0] != labels.size:
        raise ValueError(f"oof_probs must have shape (N={labels.size}, C), got {oof_probs.shape}")
    if labels.size and (labels.min() < 0 or labels.max() >= oof_probs.shape[1]):
        raise ValueError(f"labels must lie in [0, {oof_probs.shape[1]})")
    if labels.size == 0:
        return []
    # cleanlab warns (e.g. "too few examples in class 2") through `warnings`; the engine
    # reports through logging instead, so the GUI's log shows it.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        # n_jobs=1: no worker processes, which a GUI process must not fork; the data
        # sets of a face lab are small enough that parallelism buys nothing.
        ranked = find_label_issues(labels, oof_probs, filter_by=filter_by,
                                   return_indices_ranked_by="self_confidence", n_jobs=1)
    for message in dict.fromkeys(str(w.message) for w in caught):
        log.info("cleanlab: %s", message)
    quality = get_label_quality_scores(labels, oof_probs, method="self_confidence")
    suggested = oof_probs.argmax(axis=1)
    issues = [LabelIssue(index=int(i), given_index=int(labels[i]),
                         suggested_index=int(suggested[i]), score=float(1.0 - quality[i]))
              for i in ranked]
    log.info("cleanlab flagged %d of %d labels as likely wrong", len(issues), labels.size)
    return issues


def stratified_folds(labels: np.ndarray, k: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """``k`` shuffled folds that keep each person's share of photos: (train, val) index
    arrays whose val parts cover every photo exactly once.

    When a person has fewer than ``k`` photos, ``k`` drops to that count (logged as a
    warning) so every fold still sees every person; a person with a single photo
    cannot be both trained on and held out, which is a ValueError.
    """
    labels = np.asarray(labels).reshape(-1)
    if k < 2:
        raise ValueError(f"need at least 2 folds, got k={k}")
    classes, counts = np.unique(labels, return_counts=True)
    if classes.size == 0:
        raise ValueError("no labels to split")
    too_few = classes[counts < 2]
    if too_few.size:
        raise ValueError(f"classes {too_few.tolist()} have a single photo; each person needs "
                         "at least 2 for cross-validation")
    smallest = int(counts.min())
    if smallest < k:
        log.warning("reducing cross-validation from %d to %d folds: the smallest class has "
                    "only %d photos", k, smallest, smallest)
        k = smallest
    splitter = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    return [(train, val) for train, val in splitter.split(np.zeros(labels.size), labels)]
