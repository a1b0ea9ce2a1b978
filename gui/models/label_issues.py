"""The suspicious-label list's item model: the catalog's ranked label issues (most
suspicious first) with the face's crop, the person it is filed under, the person
the cross-validated model suggests, the score, and the user's verdict.

Rows keep their place when a verdict is given (the list does not jump under the
keyboard); a verdict only repaints its row.
"""

from __future__ import annotations


from PySide6.QtCore import (QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, Qt,
                            Signal)
from PySide6.QtGui import QColor, QFont

from engine.catalog import Catalog, Face
from engine.catalog.runs import LabelIssueRecord
from engine.evaluation.mistakes import MistakeBasis
from gui.models.thumbnails import ThumbnailCache

FACE_ID_ROLE = Qt.ItemDataRole.UserRole + 1
STATUS_ROLE = Qt.ItemDataRole.UserRole + 2        # "suspicious" | "accepted" | "rejected"
SUGGESTED_ID_ROLE = Qt.ItemDataRole.UserRole + 3  # person id the model suggests

COLUMNS = ("Face", "Labelled as", "Looks like", "Score", "Verdict")
FACE, GIVEN, SUGGESTED, SCORE, VERDICT = range(len(COLUMNS))
VERDICT_WORDS = {"suspicious": "to review", "accepted": "relabelled", "rejected": "label kept"}

_Index = QModelIndex | QPersistentModelIndex


class LabelIssueModel(QAbstractTableModel):
    verdict_changed = Signal()  # a face's verdict was stored (the Library counts them)

    def __init__(self, catalog: Catalog, thumbnails: ThumbnailCache,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._catalog = catalog
        self._root = catalog.path.parent
        self._thumbnails = thumbnails
        self._issues: list[LabelIssueRecord] = []
        # What the list rests on (method, out-of-fold accuracy); None before a search, or
        # for a list stored before the basis was.
        self.basis: MistakeBasis | None = None
        self._faces: dict[int, Face] = {}
        self._names: dict[int, str] = {}
        self._row_of: dict[int, int] = {}
        self._placeholder = None
        thumbnails.thumbnail_ready.connect(self._on_thumbnail_ready)

    def reload(self) -> None:
        """Read the catalog's ranking again (after a search, or on a new project)."""
        self.beginResetModel()
        self._issues = self._catalog.runs.label_issues(status=None)
        self.basis = MistakeBasis.from_json(self._catalog.runs.label_issue_basis())
        self._row_of = {issue.face_id: row for row, issue in enumerate(self._issues)}
        self._faces = {f.id: f for f in self._catalog.faces_by_ids(list(self._row_of))}
        self._names = {p.id: p.name for p in self._catalog.persons()}
        self.endResetModel()

    def set_person_names(self, names: dict[int, str]) -> None:
        if names != self._names:
            self._names = dict(names)
            if self._issues:
                self.dataChanged.emit(self.index(0, GIVEN), self.index(len(self._issues) - 1,
                                                                       SUGGESTED))

    def set_placeholder(self, pixmap) -> None:
        self._placeholder = pixmap

    def set_status(self, face_id: int, status: str) -> None:
        """Record a verdict in the catalog and repaint its row (nothing if it has it:
        accepting relabels, and the relabel reconciles the verdict before it is set)."""
        row = self._row_of.get(face_id)
        if row is not None and self._issues[row].status == status:
            return
        self._catalog.runs.set_label_issue_status(face_id, status)
        self.verdict_changed.emit()
        if row is not None:
            old = self._issues[row]
            self._issues[row] = LabelIssueRecord(old.face_id, old.score, old.given_person_id,
                                                 old.suggested_person_id, status)
            self.dataChanged.emit(self.index(row, 0), self.index(row, len(COLUMNS) - 1))

    def reconcile_labels(self, face_ids) -> None:
        """After labels changed (an undo, a relabel elsewhere): a verdict follows the
        face's label. An accepted suggestion whose label was undone is open again; a
        face given the suggested person by other means counts as accepted."""
        ids = [face_id for face_id in face_ids if face_id in self._row_of]
        for face in self._catalog.faces_by_ids(ids):
            issue = self._issues[self._row_of[face.id]]
            has_suggestion = face.person_id is not None and face.person_id == issue.suggested_person_id
            if issue.status == "accepted" and not has_suggestion:
                self.set_status(face.id, "suspicious")
            elif issue.status == "suspicious" and has_suggestion:
                self.set_status(face.id, "accepted")

    def issue(self, row: int) -> LabelIssueRecord:
        return self._issues[row]

    def issues(self) -> list[LabelIssueRecord]:
        return list(self._issues)

    def row_of(self, face_id: int) -> int | None:
        return self._row_of.get(face_id)

    def next_undecided_row(self, after: int) -> int | None:
        for row in list(range(after + 1, len(self._issues))) + list(range(0, after + 1)):
            if self._issues[row].status == "suspicious":
                return row
        return None

    def undecided_count(self) -> int:
        return sum(1 for issue in self._issues if issue.status == "suspicious")

    # --------------------------------------------------------- the Qt model API
    def rowCount(self, parent: _Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._issues)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole \
                and 0 <= section < len(COLUMNS):
            return COLUMNS[section]
        return None

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or not 0 <= index.row() < len(self._issues):
            return None
        issue = self._issues[index.row()]
        column = index.column()
        if role == FACE_ID_ROLE:
            return issue.face_id
        if role == STATUS_ROLE:
            return issue.status
        if role == SUGGESTED_ID_ROLE:
            return issue.suggested_person_id
        if role == Qt.ItemDataRole.DisplayRole:
            return self._text(issue, column)
        if role == Qt.ItemDataRole.DecorationRole and column == FACE:
            return self._thumbnail(issue.face_id)
        if role == Qt.ItemDataRole.ForegroundRole and issue.status != "suspicious":
            return QColor(140, 140, 140)
        if role == Qt.ItemDataRole.FontRole and column == SUGGESTED and issue.status == "suspicious":
            font = QFont()
            font.setBold(True)
            return font
        if role == Qt.ItemDataRole.TextAlignmentRole and column == SCORE:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ToolTipRole:
            return (f"Face #{issue.face_id}: filed under {self._name(issue.given_person_id)}, "
                    f"looks like {self._name(issue.suggested_person_id)} (score "
                    f"{issue.score:.2f}). A: relabel it, R: keep the label.")
        return None

    def flags(self, index: _Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | \
            Qt.ItemFlag.ItemNeverHasChildren

    # ---------------------------------------------------------------- helpers
    def _text(self, issue: LabelIssueRecord, column: int) -> str | None:
        if column == FACE:
            return f"#{issue.face_id}"
        if column == GIVEN:
            return self._name(issue.given_person_id)
        if column == SUGGESTED:
            return self._name(issue.suggested_person_id)
        if column == SCORE:
            return f"{issue.score:.2f}"
        return VERDICT_WORDS.get(issue.status, issue.status)

    def _name(self, person_id: int | None) -> str:
        return self._names.get(person_id, "—") if person_id is not None else "—"

    def _thumbnail(self, face_id: int):
        face = self._faces.get(face_id)
        if face is None:
            return self._placeholder
        pixmap = self._thumbnails.face_pixmap(face, self._root)
        return pixmap if pixmap is not None else self._placeholder

    def _on_thumbnail_ready(self, face_id: int) -> None:
        row = self._row_of.get(face_id)
        if row is not None:
            index = self.index(row, FACE)
            self.dataChanged.emit(index, index, [Qt.ItemDataRole.DecorationRole])


