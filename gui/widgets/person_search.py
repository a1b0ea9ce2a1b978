"""Type-to-search a person: a small bar above the grid. Typing a letter in the grid
opens it; Enter labels the selected faces with the highlighted person, or creates a
person when the name is new; Escape closes it."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtWidgets import (QFrame, QHBoxLayout, QLabel, QLineEdit, QListWidget,
                               QListWidgetItem, QVBoxLayout)

from gui.models.persons import PersonListModel
from gui.theme import set_muted

_VISIBLE_MATCHES = 6
_NEW_PERSON = -1  # the item data of the "create" row


class PersonSearchBar(QFrame):
    """Signals: ``person_chosen(person_id)``, ``new_person_named(name)``, ``closed()``."""

    person_chosen = Signal(int)
    new_person_named = Signal(str)
    closed = Signal()

    def __init__(self, persons: PersonListModel, parent=None) -> None:
        super().__init__(parent)
        self._persons = persons
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setAutoFillBackground(True)
        self.line_edit = QLineEdit()
        self.line_edit.setPlaceholderText("Label the selected faces as… (type a name)")
        self.line_edit.setClearButtonEnabled(True)
        self.matches = QListWidget()
        self.matches.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.matches.itemClicked.connect(self._accept_item)
        hint = QLabel("Enter: label   ↑↓: choose   Esc: close")
        set_muted(hint)
        top = QHBoxLayout()
        top.addWidget(self.line_edit, 1)
        top.addWidget(hint)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 6)
        layout.setSpacing(4)
        layout.addLayout(top)
        layout.addWidget(self.matches)
        self.line_edit.textChanged.connect(self._refilter)
        self.line_edit.installEventFilter(self)
        self.hide()

    def start(self, text: str = "") -> None:
        self.show()
        self.line_edit.setText(text)
        self._refilter(text)
        # OtherFocusReason: a shortcut/tab focus would select the text, and the next
        # key typed would replace the letter that opened the bar.
        self.line_edit.setFocus(Qt.FocusReason.OtherFocusReason)
        self.line_edit.deselect()
        self.line_edit.end(False)

    def close_bar(self) -> None:
        if self.isVisible():
            self.hide()
            self.line_edit.clear()
            self.closed.emit()

    def accept(self) -> None:
        item = self.matches.currentItem()
        if item is not None:
            self._accept_item(item)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.line_edit and event.type() == QEvent.Type.KeyPress:
            key = event.key()
            if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
                self.accept()
                return True
            if key == Qt.Key.Key_Escape:
                self.close_bar()
                return True
            if key in (Qt.Key.Key_Up, Qt.Key.Key_Down):
                step = -1 if key == Qt.Key.Key_Up else 1
                row = max(0, min(self.matches.count() - 1, self.matches.currentRow() + step))
                self.matches.setCurrentRow(row)
                return True
        return super().eventFilter(watched, event)

    def _refilter(self, text: str) -> None:
        needle = text.strip().casefold()
        persons = self._persons.persons()
        starts = [p for p in persons if p.name.casefold().startswith(needle)]
        contains = [p for p in persons if needle in p.name.casefold() and p not in starts]
        self.matches.clear()
        for person in starts + contains:
            item = QListWidgetItem(f"{self._persons.display_name(person)}   ({person.count})")
            item.setData(Qt.ItemDataRole.UserRole, person.id)
            self.matches.addItem(item)
        if needle and not any(p.name.casefold() == needle for p in persons):
            item = QListWidgetItem(f"New person “{text.strip()}”")
            item.setData(Qt.ItemDataRole.UserRole, _NEW_PERSON)
            self.matches.addItem(item)
        self.matches.setCurrentRow(0)
        if self.matches.count():
            rows = min(self.matches.count(), _VISIBLE_MATCHES)
            self.matches.setFixedHeight(rows * self.matches.sizeHintForRow(0) + 6)
        self.matches.setVisible(self.matches.count() > 0)

    def _accept_item(self, item: QListWidgetItem) -> None:
        person_id = item.data(Qt.ItemDataRole.UserRole)
        name = self.line_edit.text().strip()
        self.close_bar()
        if person_id == _NEW_PERSON:
            self.new_person_named.emit(name)
        else:
            self.person_chosen.emit(int(person_id))
