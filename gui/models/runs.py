"""The training runs of a project as a table (the Train page's past runs and scoreboard).

Rows are plain :class:`RunRow` values read from the catalog on a worker thread
(``gui.jobs.training_jobs.list_runs``): a run's stored evaluation is a large JSON
document, too slow to parse on the UI thread for every run.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Mapping, Sequence

from engine.catalog.runs import RunStatus, resume_refusal
from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, Qt

RUN_ID_ROLE = Qt.ItemDataRole.UserRole + 1
SORT_ROLE = Qt.ItemDataRole.UserRole + 2

STATUS_WORDS = {status.value: status.words for status in RunStatus}
COLUMNS = ("Architecture", "Status", "Val. acc. (lowest loss)", "Test acc.", "Epochs",
           "Started")
ARCH, STATUS, VAL_ACC, TEST_ACC, EPOCHS, STARTED = range(len(COLUMNS))
COLUMN_TIPS = (
    "The network that was trained",
    "How the run ended. Cancelled, interrupted and failed runs can be resumed.",
    "Accuracy on the validation faces of the kept epoch: the one with the lowest validation "
    "loss, saved as best.pt and scored on the test faces. It can fall while a run trains, "
    "when a later epoch has a lower loss but a lower accuracy.",
    "Accuracy of the kept epoch on the test faces, which training never saw: the fair "
    "score to compare runs. Marked * when it was measured on other test faces than the "
    "newest run's (other persons, or an older test set): hover for why; such runs sort "
    "after the comparable ones.",
    "Epochs trained / epochs planned",
    "When the run started",
)

_Index = QModelIndex | QPersistentModelIndex


@dataclass(frozen=True)
class RunRow:
    id: str
    arch: str
    status: str
    message: str
    best_val_acc: float | None
    test_acc: float | None
    epochs_done: int
    epochs_planned: int
    pretrained: bool
    created_at: float
    # Why test_acc does not compare with the newest evaluated run's ("" when it does).
    test_note: str = ""

    @property
    def resumable(self) -> bool:
        return resume_refusal(self.id, self.status) is None  # the engine's rule


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f} %"


class RunListModel(QAbstractTableModel):
    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._rows: list[RunRow] = []
        self._arch_labels: dict[str, str] = {}

    def set_runs(self, rows: Sequence[RunRow]) -> None:
        """Same runs in the same order (a status or score moved): update in place, so
        the selection survives; otherwise reset."""
        rows = list(rows)
        if [r.id for r in rows] == [r.id for r in self._rows]:
            changed = [i for i, (old, new) in enumerate(zip(self._rows, rows)) if old != new]
            self._rows = rows
            for i in changed:
                self.dataChanged.emit(self.index(i, 0), self.index(i, len(COLUMNS) - 1))
            return
        self.beginResetModel()
        self._rows = rows
        self.endResetModel()

    def set_arch_labels(self, labels: Mapping[str, str]) -> None:
        """Architecture names as people read them ("ResNet-18" for resnet18)."""
        self._arch_labels = dict(labels)
        if self._rows:
            self.dataChanged.emit(self.index(0, ARCH), self.index(len(self._rows) - 1, ARCH))

    def runs(self) -> list[RunRow]:
        return list(self._rows)

    def run(self, row: int) -> RunRow:
        return self._rows[row]

    def row_of(self, run_id: str) -> int | None:
        return next((i for i, r in enumerate(self._rows) if r.id == run_id), None)

    def arch_label(self, arch: str) -> str:
        return self._arch_labels.get(arch, arch)

    # ------------------------------------------------------------------- Qt API
    def rowCount(self, parent: _Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole):
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(COLUMNS):
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        if role == Qt.ItemDataRole.ToolTipRole:
            return COLUMN_TIPS[section]
        return None

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        run, column = self._rows[index.row()], index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._text(run, column)
        if role == SORT_ROLE:
            return self._sort_key(run, column)
        if role == RUN_ID_ROLE:
            return run.id
        if role == Qt.ItemDataRole.ToolTipRole and column == TEST_ACC and run.test_note:
            return f"Not comparable with the newest run: {run.test_note}."
        if role == Qt.ItemDataRole.ToolTipRole:
            lines = [f"Run {run.id}", "Pretrained weights, fine-tuned" if run.pretrained
                     else "Trained from scratch"]
            if run.message:
                lines.append(run.message)
            if run.resumable:
                lines.append("Select it and press Resume to continue from its last epoch.")
            return "\n".join(lines)
        if role == Qt.ItemDataRole.TextAlignmentRole and column in (VAL_ACC, TEST_ACC, EPOCHS):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def flags(self, index: _Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return (Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
                | Qt.ItemFlag.ItemNeverHasChildren)

    def _text(self, run: RunRow, column: int) -> str:
        if column == ARCH:
            return self.arch_label(run.arch) + (" (pretrained)" if run.pretrained else "")
        if column == STATUS:
            return STATUS_WORDS.get(run.status, run.status)
        if column == VAL_ACC:
            return _percent(run.best_val_acc)
        if column == TEST_ACC:
            return _percent(run.test_acc) + (" *" if run.test_note and run.test_acc is not None
                                             else "")
        if column == EPOCHS:
            return f"{run.epochs_done} / {run.epochs_planned}"
        return time.strftime("%Y-%m-%d %H:%M", time.localtime(run.created_at))

    def _sort_key(self, run: RunRow, column: int):
        if column == VAL_ACC:
            return -1.0 if run.best_val_acc is None else run.best_val_acc
        if column == TEST_ACC:
            # Comparable scores (0..1) first, then the ones that do not compare (-2..-1),
            # then the runs without a score.
            if run.test_acc is None:
                return -3.0
            return run.test_acc - 2.0 if run.test_note else run.test_acc
        if column == EPOCHS:
            return run.epochs_done
        if column == STARTED:
            return run.created_at
        return self._text(run, column).lower()
