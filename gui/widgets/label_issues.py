"""The label-mistake finder's panel: a "Find suspicious labels" button and the ranked
list of faces that look filed under the wrong person, reviewed with one key each:
A accepts the suggestion (relabel), R rejects it (keep the label).

The panel says what the user decided (``verdicts_given``); the page applies it to
the catalog, then the panel moves on to the next face still to review.
"""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (QAbstractItemView, QHBoxLayout, QHeaderView, QLabel,
                               QPushButton, QTableView, QVBoxLayout, QWidget)

from engine.evaluation.mistakes import reliability_text
from gui.models.label_issues import (FACE, FACE_ID_ROLE, GIVEN, SCORE, STATUS_ROLE, SUGGESTED,
                                     VERDICT, LabelIssueModel)
from gui.theme import set_muted
from gui.widgets.empty_message import paint_empty_message

THUMB = 64
ACCEPT, REJECT = "accepted", "rejected"


class LabelIssueTable(QTableView):
    """Signal: ``verdict_key_pressed(status)`` for A (accepted) and R (rejected)."""

    verdict_key_pressed = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.empty_text = ""
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setIconSize(QSize(THUMB, THUMB))
        self.setAlternatingRowColors(True)
        self.setWordWrap(False)
        self.verticalHeader().setDefaultSectionSize(THUMB + 8)
        self.verticalHeader().hide()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.modifiers() == Qt.KeyboardModifier.NoModifier:
            if event.key() == Qt.Key.Key_A:
                self.verdict_key_pressed.emit(ACCEPT)
                return
            if event.key() == Qt.Key.Key_R:
                self.verdict_key_pressed.emit(REJECT)
                return
        super().keyPressEvent(event)

    def keyboardSearch(self, search: str) -> None:
        pass  # letters are verdict keys here

    def paintEvent(self, event) -> None:
        super().paintEvent(event)
        paint_empty_message(self, self.empty_text)


class LabelIssuePanel(QWidget):
    """Signals: ``find_requested()``; ``verdicts_given(face_ids, status)`` with status
    "accepted" (relabel to the suggestion) or "rejected" (keep the label)."""

    find_requested = Signal()
    verdicts_given = Signal(list, str)

    def __init__(self, model: LabelIssueModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.find_button = QPushButton("Find suspicious labels")
        self.find_button.setToolTip(
            "Cross-validate the strongest model this machine has (the pretrained face network "
            "where its weights are present, else a quick classical model) on every labelled "
            "face and rank the faces whose label it doubts most (confident learning). Takes "
            "seconds once the faces are embedded.")
        self.accept_button = QPushButton("Relabel (A)")
        self.reject_button = QPushButton("Keep label (R)")
        self.status_label = QLabel()
        set_muted(self.status_label)
        # What the list rests on and how far to trust it. Below the table, with room for
        # two lines kept, so the table never moves when the text comes or goes.
        self.basis_label = QLabel()
        self.basis_label.setWordWrap(True)
        self.basis_label.setMinimumHeight(2 * self.basis_label.fontMetrics().lineSpacing() + 4)
        self.basis_label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        set_muted(self.basis_label)
        self.table = LabelIssueTable()
        self.table.setModel(model)
        self.table.empty_text = ("No suspicious labels found yet. “Find suspicious labels” "
                                 "looks for faces filed under the wrong person.")
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        for column, width in ((FACE, THUMB + 70), (GIVEN, 170), (SUGGESTED, 170), (SCORE, 70),
                              (VERDICT, 110)):
            self.table.setColumnWidth(column, width)
        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.find_button)
        top.addWidget(self.status_label, 1)
        top.addWidget(self.accept_button)
        top.addWidget(self.reject_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.basis_label)
        self.find_button.clicked.connect(self.find_requested)
        self.accept_button.clicked.connect(lambda: self.give_verdict(ACCEPT))
        self.reject_button.clicked.connect(lambda: self.give_verdict(REJECT))
        self.table.verdict_key_pressed.connect(self.give_verdict)
        model.modelReset.connect(self._on_reset)
        # A verdict can also change from outside (an undo reopens an accepted one).
        model.dataChanged.connect(lambda *_: self.update_status())
        self._on_reset()

    def give_verdict(self, status: str) -> None:
        """Accept or reject the selected faces' suggestions, then go to the next face."""
        rows = sorted({index.row() for index in self.table.selectionModel().selectedRows()})
        if not rows and self.table.currentIndex().isValid():
            rows = [self.table.currentIndex().row()]
        rows = [r for r in rows if self.model.index(r, 0).data(STATUS_ROLE) == "suspicious"]
        if not rows:
            return
        face_ids = [self.model.index(r, 0).data(FACE_ID_ROLE) for r in rows]
        self.verdicts_given.emit(face_ids, status)
        self.select_row(self.model.next_undecided_row(rows[-1]))
        self.update_status()

    def select_row(self, row: int | None) -> None:
        if row is None:
            self.table.clearSelection()
            return
        self.table.selectRow(row)
        self.table.scrollTo(self.model.index(row, 0))

    def set_busy(self, busy: bool, text: str = "") -> None:
        self.find_button.setEnabled(not busy)
        if text:
            self.status_label.setText(text)

    def update_status(self) -> None:
        total, left = self.model.rowCount(), self.model.undecided_count()
        self.status_label.setText(
            f"{left} of {total} to review · A: relabel to the suggestion · R: keep the label"
            if total else "")
        has_rows = total > 0
        self.accept_button.setEnabled(has_rows)
        self.reject_button.setEnabled(has_rows)

    def update_basis(self) -> None:
        basis = self.model.basis
        if basis is not None:
            self.basis_label.setText(reliability_text(basis))
            self.basis_label.setToolTip(
                f"Method: {basis.method_label}. {basis.flagged} of {basis.faces} faces flagged; "
                f"searched in {basis.seconds:.0f} s." + (
                    f" {basis.left_out_persons} person(s) with a single labelled face were "
                    "not judged." if basis.left_out_persons else ""))
        elif self.model.rowCount():
            self.basis_label.setText("This list was made by an older FaceLab, which did not "
                                     "record how reliable it is: search again to see.")
            self.basis_label.setToolTip("")
        else:
            self.basis_label.setText("")
            self.basis_label.setToolTip("")

    def _on_reset(self) -> None:
        self.update_basis()
        self.update_status()
        self.select_row(self.model.next_undecided_row(-1))
