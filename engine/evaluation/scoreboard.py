"""The scoreboard: models ranked side by side, as the lab's bar chart shows them.

Two accuracies are only comparable when they were measured on the same test images,
so every entry names the split it was evaluated on and the board never ranks entries
of different splits together: :meth:`Scoreboard.rows` ranks one split at a time, and
asking for rows without naming a split is a ValueError as soon as the board holds
more than one. Entries of one split must also cover the same persons.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from engine.evaluation.metrics import EvaluationReport


@dataclass(frozen=True)
class ScoreboardEntry:
    run_id: str
    label: str  # what the chart shows, e.g. the architecture's display name
    split_id: str
    report: EvaluationReport


@dataclass(frozen=True)
class ScoreboardRow:
    rank: int  # 1 = best on this split
    run_id: str
    label: str
    split_id: str
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


class Scoreboard:
    """Evaluated runs, ranked per split by accuracy, then macro F1."""

    def __init__(self, entries: Iterable[ScoreboardEntry] = ()) -> None:
        self._entries: list[ScoreboardEntry] = []
        for entry in entries:
            self.add(entry)

    def add(self, entry: ScoreboardEntry) -> None:
        if any(e.run_id == entry.run_id for e in self._entries):
            raise ValueError(f"run {entry.run_id!r} is already on the scoreboard")
        same_split = [e for e in self._entries if e.split_id == entry.split_id]
        if same_split and same_split[0].report.persons != entry.report.persons:
            raise ValueError(
                f"run {entry.run_id!r} was scored on persons {entry.report.persons}, but split "
                f"{entry.split_id!r} holds runs scored on {same_split[0].report.persons}; "
                "results over different persons cannot be ranked together")
        self._entries.append(entry)

    def split_ids(self) -> list[str]:
        """Splits present on the board, in the order they were first added."""
        return list(dict.fromkeys(e.split_id for e in self._entries))

    def rows(self, split_id: str | None = None) -> list[ScoreboardRow]:
        """Entries of one split, best first (accuracy, then macro F1, then label).

        ``split_id`` may be left out only while the board holds a single split; with
        several, guessing one would silently compare the wrong runs, so it is an error.
        A split with no entries gives an empty list.
        """
        if split_id is None:
            splits = self.split_ids()
            if len(splits) > 1:
                raise ValueError(f"the scoreboard holds several test splits {splits}; name the "
                                 "split to rank, runs are only comparable on the same split")
            if not splits:
                return []
            split_id = splits[0]
        entries = [e for e in self._entries if e.split_id == split_id]
        entries.sort(key=lambda e: (-e.report.accuracy, -e.report.macro_f1, e.label, e.run_id))
        return [ScoreboardRow(rank=rank, run_id=e.run_id, label=e.label, split_id=e.split_id,
                              accuracy=e.report.accuracy, accuracy_ci=e.report.accuracy_ci,
                              macro_precision=e.report.macro_precision,
                              macro_recall=e.report.macro_recall, macro_f1=e.report.macro_f1)
                for rank, e in enumerate(entries, start=1)]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``{"splits": {split_id: [row, ...]}}``, each split ranked on its own."""
        return {"splits": {split: [row.to_dict() for row in self.rows(split)]
                           for split in self.split_ids()}}
