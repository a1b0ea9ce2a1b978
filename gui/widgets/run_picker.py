"""Choosing a run to evaluate: the project's trained runs (those with a best model),
newest first, each with its architecture, when it was trained and its test accuracy
(or "not evaluated")."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QWidget

from engine.catalog import Catalog
from engine.catalog.runs import RunStatus

BEST_CHECKPOINT = "best.pt"


@dataclass(frozen=True)
class RunChoice:
    run_id: str
    arch: str
    status: str
    created_at: float
    accuracy: float | None  # None: not evaluated yet

    @property
    def evaluated(self) -> bool:
        return self.accuracy is not None

    @property
    def started_text(self) -> str:
        return time.strftime("%d %b %H:%M", time.localtime(self.created_at))

    def text(self) -> str:
        when = self.started_text
        score = f"{self.accuracy:.1%}" if self.accuracy is not None else "not evaluated"
        status = (""  if RunStatus(self.status).trained_to_the_end
                  else f" · {RunStatus(self.status).words}")
        return f"{self.arch} · {when} · {score}{status}"


def run_choices(catalog: Catalog, root: Path) -> list[RunChoice]:
    """Runs that have a best model to evaluate (not while they still train), newest first."""
    choices = []
    for record in catalog.runs.list():
        run_dir = Path(record.run_dir)
        run_dir = run_dir if run_dir.is_absolute() else root / run_dir
        if not record.status.finished or not (run_dir / BEST_CHECKPOINT).is_file():
            continue
        stored = catalog.runs.evaluation(record.id)
        accuracy = float(stored["accuracy"]) if stored else None
        choices.append(RunChoice(record.id, record.arch, record.status, record.created_at,
                                 accuracy))
    return sorted(choices, key=lambda c: -c.created_at)


class RunPicker(QComboBox):
    """Signal: ``run_chosen(run_id)`` (also when the list is refilled and the choice moved)."""

    run_chosen = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._choices: list[RunChoice] = []
        self.setMinimumContentsLength(34)
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.setPlaceholderText("No trained run yet")
        self.currentIndexChanged.connect(self._on_index_changed)

    def set_choices(self, choices: list[RunChoice]) -> None:
        """Refill (``choices`` newest first). A run that appeared since the last fill
        (one just trained) is chosen, the newest of them; else the chosen run is kept;
        else the newest run."""
        keep = self.current_run_id()
        if choices == self._choices:
            return
        known = {c.run_id for c in self._choices}
        appeared = [i for i, c in enumerate(choices) if c.run_id not in known]
        self._choices = list(choices)
        self.blockSignals(True)
        self.clear()
        for choice in choices:
            self.addItem(choice.text(), choice.run_id)
        ids = [c.run_id for c in choices]
        if known and appeared:
            row = appeared[0]
        elif keep in ids:
            row = ids.index(keep)
        else:
            row = 0 if choices else -1
        self.setCurrentIndex(row)
        self.blockSignals(False)
        # The list shows every entry whole, however narrow the box is made.
        self.view().setMinimumWidth(self.view().sizeHintForColumn(0) + 24)
        if self.current_run_id() != keep and self.current_run_id() is not None:
            self.run_chosen.emit(self.current_run_id())

    def choices(self) -> list[RunChoice]:
        return list(self._choices)

    def choice(self, run_id: str | None) -> RunChoice | None:
        return next((c for c in self._choices if c.run_id == run_id), None)

    def current_run_id(self) -> str | None:
        return self.currentData() if self.currentIndex() >= 0 else None

    def select_run(self, run_id: str) -> None:
        index = self.findData(run_id)
        if index >= 0:
            self.setCurrentIndex(index)

    def _on_index_changed(self, index: int) -> None:
        if index >= 0:
            self.run_chosen.emit(self.currentData())
