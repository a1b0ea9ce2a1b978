"""Scores for one model on one test split: what the lab's evaluation screen shows.

Accuracy, macro precision/recall/F1, per-person scores and the confusion matrix all
come from scikit-learn, so the numbers match what students compute in a notebook.
The report also keeps every test sample's prediction and confidence, which is what
the error gallery, the low-confidence list and a click on a confusion cell show.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support

log = logging.getLogger(__name__)

# Bounds the (resamples x samples) index matrix of one bootstrap chunk to ~16 MB.
_BOOTSTRAP_CHUNK_ELEMENTS = 2_000_000


@dataclass(frozen=True)
class PersonMetrics:
    precision: float
    recall: float
    f1: float
    support: int  # test samples whose true label is this person


@dataclass(frozen=True)
class SamplePrediction:
    sample_id: int
    true_index: int
    predicted_index: int
    confidence: float  # softmax probability of the predicted class
    true_person: str
    predicted_person: str

    @property
    def correct(self) -> bool:
        return self.true_index == self.predicted_index


@dataclass(frozen=True)
class EvaluationReport:
    accuracy: float
    accuracy_ci: tuple[float, float]  # bootstrap 95% percentile interval
    macro_precision: float
    macro_recall: float
    macro_f1: float
    per_person: dict[str, PersonMetrics] = field(hash=False)
    confusion_matrix: tuple[tuple[int, ...], ...]  # rows = true person, cols = predicted
    persons: tuple[str, ...]
    samples: tuple[SamplePrediction, ...] = ()

    def misclassified(self) -> list[SamplePrediction]:
        """Wrong predictions, most confident first: confident mistakes teach the most."""
        wrong = [s for s in self.samples if not s.correct]
        return sorted(wrong, key=lambda s: -s.confidence)

    def low_confidence(self, threshold: float) -> list[SamplePrediction]:
        """Samples whose predicted-class confidence is below ``threshold``, least sure first."""
        unsure = [s for s in self.samples if s.confidence < threshold]
        return sorted(unsure, key=lambda s: s.confidence)

    def samples_in_cell(self, true_person: str, predicted_person: str) -> list[SamplePrediction]:
        """The samples counted in one confusion-matrix cell, in test-set order."""
        for person in (true_person, predicted_person):
            if person not in self.persons:
                raise ValueError(f"{person!r} is not one of the evaluated persons {self.persons}")
        return [s for s in self.samples
                if s.true_person == true_person and s.predicted_person == predicted_person]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (plain floats, ints, lists, str keys)."""
        return {
            "accuracy": self.accuracy,
            "accuracy_ci": list(self.accuracy_ci),
            "macro_precision": self.macro_precision,
            "macro_recall": self.macro_recall,
            "macro_f1": self.macro_f1,
            "per_person": {name: {"precision": m.precision, "recall": m.recall, "f1": m.f1,
                                  "support": m.support}
                           for name, m in self.per_person.items()},
            "confusion_matrix": [list(row) for row in self.confusion_matrix],
            "persons": list(self.persons),
            "samples": [{"sample_id": s.sample_id, "true_index": s.true_index,
                         "predicted_index": s.predicted_index, "confidence": s.confidence}
                        for s in self.samples],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EvaluationReport:
        """Inverse of :meth:`to_dict`. ``samples`` may be absent (a summary-only record);
        the report then has no samples."""
        persons = tuple(str(p) for p in data["persons"])
        samples = tuple(
            SamplePrediction(sample_id=int(s["sample_id"]), true_index=int(s["true_index"]),
                             predicted_index=int(s["predicted_index"]),
                             confidence=float(s["confidence"]),
                             true_person=persons[int(s["true_index"])],
                             predicted_person=persons[int(s["predicted_index"])])
            for s in data.get("samples", ()))
        low, high = data["accuracy_ci"]
        return cls(
            accuracy=float(data["accuracy"]),
            accuracy_ci=(float(low), float(high)),
            macro_precision=float(data["macro_precision"]),
            macro_recall=float(data["macro_recall"]),
            macro_f1=float(data["macro_f1"]),
            per_person={str(name): PersonMetrics(float(m["precision"]), float(m["recall"]),
                                                 float(m["f1"]), int(m["support"]))
                        for name, m in data["per_person"].items()},
            confusion_matrix=tuple(tuple(int(v) for v in row) for row in data["confusion_matrix"]),
            persons=persons,
            samples=samples,
        )


def bootstrap_accuracy_ci(correct: np.ndarray, resamples: int, seed: int,
                          level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of a 0/1 ``correct`` vector.

    Each resample draws len(correct) samples with replacement; all resamples of a
    chunk are drawn as one index matrix, so there is no Python loop per resample.
    """
    correct = np.asarray(correct, dtype=np.float64)
    n = correct.size
    if resamples <= 0:
        value = float(correct.mean())
        return value, value
    rng = np.random.default_rng(seed)
    chunk = max(1, _BOOTSTRAP_CHUNK_ELEMENTS // n)
    means = np.empty(resamples, dtype=np.float64)
    for start in range(0, resamples, chunk):
        stop = min(start + chunk, resamples)
        indices = rng.integers(0, n, size=(stop - start, n))
        means[start:stop] = correct[indices].mean(axis=1)
    tail = (1.0 - level) / 2.0 * 100.0
    low, high = np.percentile(means, [tail, 100.0 - tail])
    return float(low), float(high)


def evaluate_predictions(y_true: Sequence[int] | np.ndarray, probs: np.ndarray,
                         class_names: Sequence[str], sample_ids: Sequence[int] | None = None,
                         *, bootstrap: int = 1000, seed: int = 0) -> EvaluationReport:
    """Score softmax outputs ``probs`` (N x C) against true class indices ``y_true``.

    The predicted class is the argmax of each row, its probability the confidence.
    Every class in ``class_names`` gets a confusion row/column and per-person scores,
    even when it is absent from the test set or never predicted (its precision is then
    0, not an error: ``zero_division=0``). Macro averages cover the persons that occur
    in the truth or the predictions, as sklearn does by default. ``bootstrap`` resamples (0 = none) give the
    accuracy interval; ``seed`` makes it reproducible.
    """
    y_true = np.asarray(y_true, dtype=np.int64).reshape(-1)
    probs = np.asarray(probs, dtype=np.float64)
    persons = tuple(str(name) for name in class_names)
    n_classes = len(persons)
    if len(set(persons)) != n_classes:
        raise ValueError(f"class names must be unique: {persons}")
    if probs.ndim != 2 or probs.shape != (y_true.size, n_classes):
        raise ValueError(f"probs must have shape (N={y_true.size}, C={n_classes}), got {probs.shape}")
    if y_true.size == 0:
        raise ValueError("cannot evaluate an empty test set")
    if y_true.min() < 0 or y_true.max() >= n_classes:
        raise ValueError(f"true labels must lie in [0, {n_classes}); got {y_true.min()}..{y_true.max()}")
    if sample_ids is None:
        sample_ids = range(y_true.size)
    elif len(sample_ids) != y_true.size:
        raise ValueError(f"{len(sample_ids)} sample ids for {y_true.size} predictions")

    y_pred = probs.argmax(axis=1)
    confidences = probs[np.arange(y_true.size), y_pred]
    labels = np.arange(n_classes)

    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=labels, zero_division=0)
    # Macro averages use sklearn's default label set (persons that occur as truth or
    # prediction), the number a student gets in a notebook: a person missing from this
    # split entirely would otherwise add a 0 and drag every macro score down.
    macro_p, macro_r, macro_f, _ = precision_recall_fscore_support(
        y_true, y_pred, average="macro", zero_division=0)
    matrix = confusion_matrix(y_true, y_pred, labels=labels)
    accuracy = float(accuracy_score(y_true, y_pred))
    ci = bootstrap_accuracy_ci(y_true == y_pred, bootstrap, seed)

    samples = tuple(
        SamplePrediction(sample_id=int(sid), true_index=int(t), predicted_index=int(p),
                         confidence=float(c), true_person=persons[t], predicted_person=persons[p])
        for sid, t, p, c in zip(sample_ids, y_true, y_pred, confidences))
    log.debug("evaluated %d samples over %d persons: accuracy %.4f", y_true.size, n_classes, accuracy)
    return EvaluationReport(
        accuracy=accuracy,
        accuracy_ci=ci,
        macro_precision=float(macro_p),
        macro_recall=float(macro_r),
        macro_f1=float(macro_f),
        per_person={name: PersonMetrics(float(precision[i]), float(recall[i]), float(f1[i]),
                                        int(support[i]))
                    for i, name in enumerate(persons)},
        confusion_matrix=tuple(tuple(int(v) for v in row) for row in matrix),
        persons=persons,
        samples=samples,
    )
