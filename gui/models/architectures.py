"""The architectures a student can train, as a checkable list: several checked = a
queue of runs, one after another, that fills the scoreboard.

Rows are plain :class:`ArchitectureInfo` values made on a worker thread (reading the
model zoo imports torch, and looking for weights files touches the disk).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from PySide6.QtCore import (QAbstractListModel, QModelIndex, QObject, QPersistentModelIndex, Qt,
                            Signal)

NAME_ROLE = Qt.ItemDataRole.UserRole + 1
DESCRIPTION_ROLE = Qt.ItemDataRole.UserRole + 2
WEIGHTS_TEXT_ROLE = Qt.ItemDataRole.UserRole + 3
WEIGHTS_STATE_ROLE = Qt.ItemDataRole.UserRole + 4  # one of the WEIGHTS_* below
WEIGHTS_BADGE_ROLE = Qt.ItemDataRole.UserRole + 5

WEIGHTS_AVAILABLE = "available"
WEIGHTS_MISSING = "missing"
WEIGHTS_NONE = "none"  # the architecture has no pretrained weights at all

_Index = QModelIndex | QPersistentModelIndex


@dataclass(frozen=True)
class ArchitectureInfo:
    name: str
    display_name: str
    description: str
    input_size: int
    pretrained_dataset: str | None   # "ImageNet", "VGGFace2"; None: no pretrained weights
    weights_available: bool
    weights_message: str             # where the file was found, or how to get it
    weights_downloadable: bool = False  # a published file "Download weights" can fetch
    # The "auto" row: the engine picks the network and settings when the run starts
    # (`description` says what it will pick on this machine, and why).
    automatic: bool = False

    @property
    def weights_state(self) -> str:
        if self.pretrained_dataset is None or self.automatic:
            return WEIGHTS_NONE
        return WEIGHTS_AVAILABLE if self.weights_available else WEIGHTS_MISSING

    @property
    def weights_text(self) -> str:
        state = self.weights_state
        if self.automatic:
            return "chooses the network and settings for this machine"
        if state == WEIGHTS_NONE:
            return "no pretrained weights: trains from scratch"
        if state == WEIGHTS_AVAILABLE:
            return f"{self.pretrained_dataset} weights on this machine"
        return f"{self.pretrained_dataset} weights not on this machine"

    @property
    def can_download_weights(self) -> bool:
        """Its weights are missing here and "Download weights" can fetch them."""
        return self.weights_state == WEIGHTS_MISSING and self.weights_downloadable

    @property
    def weights_badge(self) -> str:
        """The short form the list shows beside the name."""
        state = self.weights_state
        if self.automatic:
            return "picks for you"
        if state == WEIGHTS_NONE:
            return "from scratch only"
        if state == WEIGHTS_AVAILABLE:
            return f"✓ {self.pretrained_dataset} weights"
        return f"{self.pretrained_dataset} weights missing"


class ArchitectureListModel(QAbstractListModel):
    """Signal: ``checked_changed()`` whenever the set of checked architectures changes."""

    checked_changed = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._rows: list[ArchitectureInfo] = []
        self._checked: list[str] = []  # in the order they were checked: the queue order

    def set_architectures(self, rows: Sequence[ArchitectureInfo]) -> None:
        """New rows (e.g. after importing weights); checked names stay checked."""
        self.beginResetModel()
        self._rows = list(rows)
        known = {r.name for r in self._rows}
        self._checked = [name for name in self._checked if name in known]
        self.endResetModel()
        self.checked_changed.emit()

    def architectures(self) -> list[ArchitectureInfo]:
        return list(self._rows)

    def architecture(self, name: str) -> ArchitectureInfo | None:
        return next((r for r in self._rows if r.name == name), None)

    def checked(self) -> list[ArchitectureInfo]:
        """The checked architectures in queue order (order in the list)."""
        return [r for r in self._rows if r.name in self._checked]

    def set_checked(self, names: Sequence[str]) -> None:
        known = {r.name for r in self._rows}
        wanted = [n for n in names if n in known]
        if wanted == self._checked:
            return
        self._checked = wanted
        if self._rows:
            self.dataChanged.emit(self.index(0), self.index(len(self._rows) - 1),
                                  [Qt.ItemDataRole.CheckStateRole])
        self.checked_changed.emit()

    def toggle(self, row: int) -> None:
        name = self._rows[row].name
        names = [n for n in self._checked if n != name]
        self.set_checked(names if name in self._checked else self._checked + [name])

    # ------------------------------------------------------------------- Qt API
    def rowCount(self, parent: _Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        arch = self._rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return arch.display_name
        if role == Qt.ItemDataRole.CheckStateRole:
            return (Qt.CheckState.Checked if arch.name in self._checked
                    else Qt.CheckState.Unchecked)
        if role == NAME_ROLE:
            return arch.name
        if role == DESCRIPTION_ROLE:
            return arch.description
        if role == WEIGHTS_TEXT_ROLE:
            return arch.weights_text
        if role == WEIGHTS_STATE_ROLE:
            return arch.weights_state
        if role == WEIGHTS_BADGE_ROLE:
            return arch.weights_badge
        if role == Qt.ItemDataRole.ToolTipRole:
            return (f"{arch.display_name} ({arch.name}, {arch.input_size}×{arch.input_size} "
                    f"px faces)\n{arch.description}\n{arch.weights_message}")
        return None

    def setData(self, index: _Index, value, role: int = Qt.ItemDataRole.EditRole) -> bool:
        if role != Qt.ItemDataRole.CheckStateRole or not index.isValid():
            return False
        checked = Qt.CheckState(value) == Qt.CheckState.Checked
        name = self._rows[index.row()].name
        if checked != (name in self._checked):
            self.toggle(index.row())
        return True

    def flags(self, index: _Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return (Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
                | Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemNeverHasChildren)


def missing_weights_message(archs: Sequence[ArchitectureInfo]) -> str:
    """Why these architectures cannot start from pretrained weights ("" if they can):
    never a silent switch to training from scratch."""
    problems = []
    for arch in archs:
        if arch.automatic:  # it picks from what is on this machine, or from scratch
            continue
        if arch.weights_state == WEIGHTS_NONE:
            problems.append(f"{arch.display_name} has no pretrained weights: it can only be "
                            "trained from scratch.")
        elif arch.weights_state == WEIGHTS_MISSING:
            problems.append(arch.weights_message)
    if not problems:
        return ""
    download = "“Download weights” (with internet) or " if any(
        arch.can_download_weights for arch in archs) else ""
    return (" ".join(problems) + f" Use {download}“Import weights…” to add the file, or "
            "choose “From scratch” under Starting weights.")
