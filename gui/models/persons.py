"""The person list's item model: persons with their face counts and number keys.

A person's number key (1-9: the labelling keys of the library grid and the photo
viewer) is the catalog's and stays with the person; the rows come keyed persons first.
"""

from __future__ import annotations

from typing import Sequence

from PySide6.QtCore import QAbstractListModel, QModelIndex, QObject, QPersistentModelIndex, Qt

from engine.catalog import NUMBER_KEYS
from gui.project_session import PersonRow

PERSON_ID_ROLE = Qt.ItemDataRole.UserRole + 1
COUNT_ROLE = Qt.ItemDataRole.UserRole + 2
SHORTCUT_ROLE = Qt.ItemDataRole.UserRole + 3  # "1".."9" or None
NAME_ROLE = Qt.ItemDataRole.UserRole + 4

_Index = QModelIndex | QPersistentModelIndex


class PersonListModel(QAbstractListModel):
    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._rows: list[PersonRow] = []

    def set_persons(self, rows: Sequence[PersonRow]) -> None:
        """Same persons in the same order (only counts or names moved): repaint in
        place, so selection and scroll position survive; otherwise reset."""
        rows = list(rows)
        if [r.id for r in rows] == [r.id for r in self._rows]:
            changed = [i for i, (old, new) in enumerate(zip(self._rows, rows)) if old != new]
            self._rows = rows
            for i in changed:
                self.dataChanged.emit(self.index(i), self.index(i))
            return
        self.beginResetModel()
        self._rows = rows
        self.endResetModel()

    def persons(self) -> list[PersonRow]:
        return list(self._rows)

    def person(self, row: int) -> PersonRow:
        return self._rows[row]

    def row_of(self, person_id: int) -> int | None:
        return next((i for i, r in enumerate(self._rows) if r.id == person_id), None)

    def person_for_number_key(self, number: int) -> PersonRow | None:
        """The person that number key ``number`` (1-9) labels with."""
        if not 1 <= number <= NUMBER_KEYS:
            return None
        return next((r for r in self._rows if r.number_key == number), None)

    def display_name(self, person: PersonRow) -> str:
        """The name with its key where keys apply (menus, the photo viewer)."""
        return f"{person.number_key}  {person.name}" if person.number_key else person.name

    def names(self) -> dict[int, str]:
        return {r.id: r.name for r in self._rows}

    def rowCount(self, parent: _Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        person = self._rows[index.row()]
        shortcut = str(person.number_key) if person.number_key else None
        if role == Qt.ItemDataRole.DisplayRole:
            return f"{person.name} ({person.count})"
        if role == NAME_ROLE:
            return person.name
        if role == Qt.ItemDataRole.ToolTipRole:
            hint = f"\nPress {shortcut} in the grid to label the selected faces" \
                if shortcut else ""
            return f"{person.name}: {person.count} labelled face(s){hint}"
        if role == PERSON_ID_ROLE:
            return person.id
        if role == COUNT_ROLE:
            return person.count
        if role == SHORTCUT_ROLE:
            return shortcut
        return None

    def flags(self, index: _Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | \
            Qt.ItemFlag.ItemNeverHasChildren
