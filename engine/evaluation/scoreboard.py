"""The scoreboard: models ranked side by side, as the lab's bar chart shows them.

Two accuracies compare only when they were measured on the same test faces with the
same true labels: the same split, the same persons, and the same version of the test
set (the stored split takes in faces imported later, so a run evaluated last week may
have been scored on fewer faces). :func:`why_not_comparable` is that rule, in one
place; :meth:`Scoreboard.standings` ranks the runs comparable with a reference run and
names every other run with the reason it is left out. The board never refuses a run:
a project that changes must never make a run impossible to show.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from engine.evaluation.metrics import EvaluationReport


@dataclass(frozen=True)
class ScoreboardEntry:
    run_id: str
    label: str  # what the chart shows, e.g. the architecture's display name
    split_id: int | str
    report: EvaluationReport
    # Why the stored evaluation no longer matches the project's test set ("" = it does),
    # e.g. "7 test faces added since it was evaluated".
    stale: str = ""


@dataclass(frozen=True)
class ScoreboardRow:
    rank: int  # 1 = best among the comparable runs
    run_id: str
    label: str
    split_id: int | str
    accuracy: float
    accuracy_ci: tuple[float, float]
    macro_precision: float
    macro_recall: float
    macro_f1: float

    def to_dict(self) -> dict[str, Any]:
        return {"rank": self.rank, "run_id": self.run_id, "label": self.label,
                "split_id": self.split_id, "accuracy": self.accuracy,
                "accuracy_ci": list(self.accuracy_ci), "macro_precision": self.macro_precision,
                "macro_recall": self.macro_recall, "macro_f1": self.macro_f1}


@dataclass(frozen=True)
class NotComparable:
    """A run left off the ranking, with the reason in words."""
    run_id: str
    label: str
    accuracy: float
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "label": self.label, "accuracy": self.accuracy,
                "reason": self.reason}


@dataclass(frozen=True)
class Standings:
    """The runs comparable with ``reference`` (itself included), best first, and the
    others with why they are not comparable. ``reference_stale`` says why the
    reference's own evaluation is older than the test set ("" when it is current)."""
    reference: str | None
    rows: tuple[ScoreboardRow, ...]
    not_comparable: tuple[NotComparable, ...]
    reference_stale: str = ""

    def reason(self, run_id: str) -> str | None:
        """Why ``run_id`` is not ranked with the reference; None when it is (or unknown)."""
        return next((n.reason for n in self.not_comparable if n.run_id == run_id), None)

    def to_dict(self) -> dict[str, Any]:
        return {"reference": self.reference, "reference_stale": self.reference_stale,
                "ranked": [row.to_dict() for row in self.rows],
                "not_comparable": [n.to_dict() for n in self.not_comparable]}


def _names(persons: Iterable[str]) -> str:
    persons = sorted(persons, key=str.casefold)
    return ", ".join(persons[:3]) + (f" and {len(persons) - 3} more" if len(persons) > 3 else "")


def _test_faces(report: EvaluationReport):
    """What was scored: (face, true person) of every sample; a summary-only report
    (no samples) is described by its per-person supports."""
    if report.samples:
        return frozenset((s.sample_id, s.true_person) for s in report.samples)
    return frozenset((name, m.support) for name, m in report.per_person.items())


def why_not_comparable(reference: ScoreboardEntry, entry: ScoreboardEntry) -> str:
    """"" when ``entry``'s scores can be ranked with ``reference``'s, else why not."""
    if entry.split_id != reference.split_id:
        return "evaluated on another test split"
    mine, theirs = set(entry.report.persons), set(reference.report.persons)
    if mine != theirs:
        missing, extra = theirs - mine, mine - theirs
        parts = []
        if missing:
            parts.append(f"without {_names(missing)}")
        if extra:
            parts.append(f"with {_names(extra)}")
        return (f"trained on {len(mine)} persons, not {len(theirs)} "
                f"({' and '.join(parts)}): scored on other test faces")
    if _test_faces(entry.report) == _test_faces(reference.report):
        return ""
    if entry.stale:
        return f"evaluated on an older test set ({entry.stale}): re-evaluate it to rank it"
    if reference.stale:
        return (f"scored on the current test set, while the compared run's evaluation is "
                f"older ({reference.stale}): re-evaluate that run")
    return (f"scored on other test faces ({len(entry.report.samples)} vs "
            f"{len(reference.report.samples)}): evaluate both again")


class Scoreboard:
    """Evaluated runs; :meth:`standings` ranks the ones comparable with a reference."""

    def __init__(self, entries: Iterable[ScoreboardEntry] = ()) -> None:
        self._entries: list[ScoreboardEntry] = []
        for entry in entries:
            self.add(entry)

    def add(self, entry: ScoreboardEntry) -> None:
        """Add a run (callers add them oldest first: the default reference is the newest)."""
        if any(e.run_id == entry.run_id for e in self._entries):
            raise ValueError(f"run {entry.run_id!r} is already on the scoreboard")
        self._entries.append(entry)

    def entries(self) -> list[ScoreboardEntry]:
        return list(self._entries)

    def default_reference(self) -> str | None:
        """The newest run whose evaluation is current; else the newest run."""
        current = [e for e in self._entries if not e.stale]
        chosen = (current or self._entries)[-1:]
        return chosen[0].run_id if chosen else None

    def standings(self, reference: str | None = None) -> Standings:
        """Runs comparable with ``reference`` (a run id; default
        :meth:`default_reference`) ranked by accuracy, then macro F1, then label; the
        rest in the order added, each with its reason. A reference not on the board
        (not evaluated yet) ranks nothing and leaves nothing out."""
        reference = reference if reference is not None else self.default_reference()
        ref = next((e for e in self._entries if e.run_id == reference), None)
        if ref is None:
            return Standings(reference, (), ())
        ranked, left_out = [], []
        for entry in self._entries:
            reason = why_not_comparable(ref, entry)
            if reason:
                left_out.append(NotComparable(entry.run_id, entry.label, entry.report.accuracy,
                                              reason))
            else:
                ranked.append(entry)
        ranked.sort(key=lambda e: (-e.report.accuracy, -e.report.macro_f1, e.label, e.run_id))
        rows = tuple(ScoreboardRow(rank=rank, run_id=e.run_id, label=e.label,
                                   split_id=e.split_id, accuracy=e.report.accuracy,
                                   accuracy_ci=e.report.accuracy_ci,
                                   macro_precision=e.report.macro_precision,
                                   macro_recall=e.report.macro_recall,
                                   macro_f1=e.report.macro_f1)
                     for rank, e in enumerate(ranked, start=1))
        return Standings(reference, rows, tuple(left_out), ref.stale)

    def rows(self, reference: str | None = None) -> list[ScoreboardRow]:
        """The ranked rows of :meth:`standings`."""
        return list(self.standings(reference).rows)

    def to_dict(self, reference: str | None = None) -> dict[str, Any]:
        return self.standings(reference).to_dict()
