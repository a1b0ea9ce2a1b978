"""The library grid's item model: a list of face ids over the catalog.

Only the ids are held for every face (20,000 ints); the rows the view actually
paints are fetched a page at a time into a small LRU cache, and thumbnails come from
a :class:`ThumbnailCache` that decodes off the UI thread. A label change refreshes
exactly the rows of ``LabelChange.face_ids``.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Iterable, Sequence

from PySide6.QtCore import QAbstractListModel, QModelIndex, QObject, QPersistentModelIndex, Qt

from engine.catalog import Catalog, Face
from gui.models.thumbnails import ThumbnailCache

FACE_ID_ROLE = Qt.ItemDataRole.UserRole + 1
PERSON_ID_ROLE = Qt.ItemDataRole.UserRole + 2
STATUS_ROLE = Qt.ItemDataRole.UserRole + 3       # one of the STATUS_* strings below
LABEL_SOURCE_ROLE = Qt.ItemDataRole.UserRole + 4  # "import" | "user" | "model" | None

STATUS_LABELLED, STATUS_UNLABELLED, STATUS_NO_FACE, STATUS_REJECTED = (
    "labelled", "unlabelled", "no face found", "not a face")

_PAGE = 256          # rows fetched per catalog query
_ROW_CACHE = 4096    # rows kept

_Index = QModelIndex | QPersistentModelIndex


def face_status(face: Face) -> str:
    if face.rejected:
        return STATUS_REJECTED
    if face.person_id is not None:
        return STATUS_LABELLED
    return STATUS_NO_FACE if face.whole_image else STATUS_UNLABELLED


class FaceGridModel(QAbstractListModel):
    def __init__(self, catalog: Catalog, thumbnails: ThumbnailCache,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._catalog = catalog
        self._root = catalog.path.parent
        self._thumbnails = thumbnails
        self._ids: list[int] = []
        self._row_of: dict[int, int] = {}
        self._rows: OrderedDict[int, Face | None] = OrderedDict()  # None: deleted since
        self._names: dict[int, str] = {}
        self._placeholder = None
        thumbnails.thumbnail_ready.connect(self._on_thumbnail_ready)

    # ------------------------------------------------------------- population
    def set_face_ids(self, face_ids: Sequence[int]) -> None:
        """Show these faces. When they only add to the end of what is shown (an import
        under way: new faces have higher ids), rows are inserted, so the scroll position
        and the selection stay; otherwise the model resets."""
        new = list(face_ids)
        old_count = len(self._ids)
        if old_count and len(new) > old_count and new[:old_count] == self._ids:
            self.beginInsertRows(QModelIndex(), old_count, len(new) - 1)
            for row in range(old_count, len(new)):
                self._row_of[new[row]] = row
            self._ids = new
            self.endInsertRows()
            return
        if new == self._ids:
            return
        self.beginResetModel()
        self._ids = new
        self._row_of = {face_id: row for row, face_id in enumerate(self._ids)}
        self._rows.clear()
        self.endResetModel()

    def set_person_names(self, names: dict[int, str]) -> None:
        """Persons were renamed, merged or deleted: repaint the text of every row.
        Called after every label change too (counts moved), when nothing is repainted."""
        if names == self._names:
            return
        self._names = dict(names)
        if self._ids:
            self.dataChanged.emit(self.index(0), self.index(len(self._ids) - 1),
                                  [Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole])

    def set_placeholder(self, pixmap) -> None:
        self._placeholder = pixmap

    def refresh_faces(self, face_ids: Iterable[int]) -> None:
        """Re-read these faces (a label changed) and repaint only their rows."""
        rows = []
        for face_id in face_ids:
            self._rows.pop(face_id, None)
            row = self._row_of.get(face_id)
            if row is not None:
                rows.append(row)
        for first, last in contiguous_runs(sorted(rows)):
            self.dataChanged.emit(self.index(first), self.index(last))

    # -------------------------------------------------------------- accessors
    def face_id(self, row: int) -> int:
        return self._ids[row]

    def face_ids(self) -> list[int]:
        return list(self._ids)

    def row_of(self, face_id: int) -> int | None:
        return self._row_of.get(face_id)

    def face(self, row: int) -> Face | None:
        face_id = self._ids[row]
        if face_id not in self._rows:
            self._fetch_page(row)
        else:
            self._rows.move_to_end(face_id)
        return self._rows.get(face_id)

    def person_name(self, person_id: int | None) -> str | None:
        return self._names.get(person_id) if person_id is not None else None

    # --------------------------------------------------------- the Qt model API
    def rowCount(self, parent: _Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._ids)

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or not 0 <= index.row() < len(self._ids):
            return None
        row = index.row()
        if role == FACE_ID_ROLE:
            return self._ids[row]
        face = self.face(row)
        if face is None:  # deleted since the ids were read; shown until the next refresh
            return "(removed)" if role == Qt.ItemDataRole.DisplayRole else None
        if role == Qt.ItemDataRole.DisplayRole:
            return self.person_name(face.person_id) or face_status(face)
        if role == Qt.ItemDataRole.DecorationRole:
            pixmap = self._thumbnails.face_pixmap(face, self._root)
            return pixmap if pixmap is not None else self._placeholder
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(face)
        if role == PERSON_ID_ROLE:
            return face.person_id
        if role == STATUS_ROLE:
            return face_status(face)
        if role == LABEL_SOURCE_ROLE:
            return face.label_source
        return None

    def flags(self, index: _Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | \
            Qt.ItemFlag.ItemNeverHasChildren

    # ---------------------------------------------------------------- helpers
    def _fetch_page(self, row: int) -> None:
        # A page around the row: the view asks for its neighbours next.
        start = max(0, row - _PAGE // 4)
        page = self._ids[start:start + _PAGE]
        found = {face.id: face for face in self._catalog.faces_by_ids(page)}
        for face_id in page:
            self._rows[face_id] = found.get(face_id)
        while len(self._rows) > _ROW_CACHE:
            self._rows.popitem(last=False)

    def _tooltip(self, face: Face) -> str:
        name = self.person_name(face.person_id)
        lines = [name or face_status(face).capitalize()]
        if name and face.label_source:
            lines.append(f"label from {face.label_source}")
        if face.score is not None:
            lines.append(f"detector confidence {face.score:.2f}")
        lines.append(f"face #{face.id}, photo #{face.photo_id}")
        return "\n".join(lines)

    def _on_thumbnail_ready(self, face_id: int) -> None:
        row = self._row_of.get(face_id)
        if row is not None:
            index = self.index(row)
            self.dataChanged.emit(index, index, [Qt.ItemDataRole.DecorationRole])


def contiguous_runs(rows: list[int]) -> list[tuple[int, int]]:
    """Contiguous runs of sorted row numbers, one dataChanged each."""
    runs: list[tuple[int, int]] = []
    for row in rows:
        if runs and row == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], row)
        elif not runs or row != runs[-1][1]:
            runs.append((row, row))
    return runs
