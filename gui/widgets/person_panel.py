"""The library's left panel: what to show (filters with counts) and the persons,
with new / rename / merge / delete. Person changes go through the session; the
dialogs only collect names and confirmations."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPoint, QRect, QSize, Qt, Signal
from PySide6.QtGui import QAction, QFont, QFontMetrics, QKeySequence, QPainter, QPalette
from PySide6.QtWidgets import (QAbstractItemView, QHBoxLayout, QInputDialog, QLabel, QListView,
                               QListWidget, QListWidgetItem, QMenu, QMessageBox, QStyle,
                               QStyledItemDelegate, QToolButton, QVBoxLayout, QWidget)

from engine.catalog import NUMBER_KEYS
from gui.models import face_filter as ff
from gui.models.face_filter import FaceFilter
from gui.models.persons import COUNT_ROLE, NAME_ROLE, SHORTCUT_ROLE, PersonListModel
from gui.project_session import PersonRow, ProjectSession
from gui.shortcuts import keys_for
from gui.theme import set_muted

def _undo_keys() -> str:
    return keys_for("undo")[0].toString(QKeySequence.SequenceFormat.NativeText)


_FIXED_FILTERS = (FaceFilter(ff.ALL, "All faces"),
                  FaceFilter(ff.UNLABELLED, "Unlabelled"),
                  FaceFilter(ff.NO_FACE, "No face found"),
                  FaceFilter(ff.SUSPICIOUS, "Suspicious labels"))


class _CountDelegate(QStyledItemDelegate):
    """A row of the panel: number-key hint (persons), name, count right-aligned."""

    def __init__(self, show_keys: bool, parent=None) -> None:
        super().__init__(parent)
        self._show_keys = show_keys

    def sizeHint(self, option, index) -> QSize:
        return QSize(120, QFontMetrics(option.font).height() + 12)

    def paint(self, painter: QPainter, option, index: QModelIndex) -> None:
        self.initStyleOption(option, index)
        option.text = ""
        style = option.widget.style() if option.widget else None
        if style is not None:
            style.drawControl(QStyle.ControlElement.CE_ItemViewItem, option, painter,
                              option.widget)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        role = QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text
        text_colour = option.palette.color(role)
        dim = option.palette.color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text)
        rect = option.rect.adjusted(6, 0, -8, 0)
        metrics = QFontMetrics(option.font)
        painter.save()
        key_width = metrics.horizontalAdvance("9") + 10 if self._show_keys else 0
        key_rect = QRect(rect.x(), rect.y(), key_width, rect.height())
        shortcut = index.data(SHORTCUT_ROLE)
        if shortcut:
            small = QFont(option.font)
            small.setPointSizeF(option.font.pointSizeF() * 0.85)
            painter.setFont(small)
            painter.setPen(text_colour if selected else dim)
            painter.drawText(key_rect, Qt.AlignmentFlag.AlignCenter, shortcut)
        painter.setFont(option.font)
        count_value = index.data(COUNT_ROLE)
        count = "" if count_value is None else f"{count_value:,}"
        count_width = metrics.horizontalAdvance(count) + 4
        painter.setPen(text_colour if selected else dim)
        painter.drawText(rect, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, count)
        name_rect = QRect(key_rect.right() + (4 if key_width else 1), rect.y(),
                          rect.width() - key_rect.width() - count_width - 8, rect.height())
        painter.setPen(text_colour)
        name = metrics.elidedText(str(index.data(NAME_ROLE)), Qt.TextElideMode.ElideRight,
                                  name_rect.width())
        painter.drawText(name_rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                         name)
        painter.restore()


def _heading(text: str) -> QLabel:
    label = QLabel(text.upper())
    font = label.font()
    font.setBold(True)
    font.setPointSizeF(font.pointSizeF() * 0.85)
    label.setFont(font)
    set_muted(label)
    return label


class PersonPanel(QWidget):
    """Signal: ``filter_chosen(FaceFilter)`` when the user picks what to show."""

    filter_chosen = Signal(object)

    def __init__(self, session: ProjectSession, persons: PersonListModel, parent=None) -> None:
        super().__init__(parent)
        self._session = session
        self.persons_model = persons
        self._face_set: FaceFilter | None = None
        self._counts: dict[str, int] = {}

        self.filter_list = QListWidget()
        self.filter_list.setFrameShape(QListWidget.Shape.NoFrame)
        self.filter_list.setItemDelegate(_CountDelegate(False, self.filter_list))
        self.filter_list.itemSelectionChanged.connect(self._on_filter_selected)

        self.person_list = QListView()
        self.person_list.setFrameShape(QListView.Shape.NoFrame)
        self.person_list.setModel(persons)
        self.person_list.setItemDelegate(_CountDelegate(True, self.person_list))
        self.person_list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.person_list.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.person_list.selectionModel().selectionChanged.connect(self._on_person_selected)
        self.person_list.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.person_list.customContextMenuRequested.connect(self._show_person_menu)
        self.person_list.doubleClicked.connect(lambda _: self.rename_dialog())
        persons.modelReset.connect(self._update_buttons)
        self.empty_hint = QLabel("No persons yet. Click New, type a name over selected "
                                 "faces, or import a folder with one sub-folder per person.")
        self.empty_hint.setWordWrap(True)
        set_muted(self.empty_hint)

        self.new_action = QAction("New…", self, triggered=self.new_person_dialog)
        self.new_action.setToolTip("Create a person")
        self.rename_action = QAction("Rename…", self, triggered=self.rename_dialog)
        self.merge_action = QAction("Merge…", self, triggered=self.merge_dialog)
        self.merge_action.setToolTip("Move every face of this person to another one")
        self.delete_action = QAction("Delete…", self, triggered=self.delete_dialog)
        buttons = QHBoxLayout()
        buttons.setSpacing(2)
        for action in (self.new_action, self.rename_action, self.merge_action,
                       self.delete_action):
            button = QToolButton()
            button.setDefaultAction(action)
            button.setAutoRaise(True)
            buttons.addWidget(button)
        buttons.addStretch(1)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 4, 8)
        layout.setSpacing(4)
        layout.addWidget(_heading("Show"))
        layout.addWidget(self.filter_list)
        layout.addSpacing(8)
        layout.addWidget(_heading("Persons"))
        layout.addWidget(self.empty_hint)
        layout.addWidget(self.person_list, 1)
        layout.addLayout(buttons)
        self.set_filter_counts({})
        self._update_buttons()

    # ------------------------------------------------------------------ filters
    def set_filter_counts(self, counts: dict[str, int]) -> None:
        """Rebuild the filter rows with their counts, keeping the selected one."""
        self._counts.update(counts)
        current = self.current_filter()
        self.filter_list.blockSignals(True)
        self.filter_list.clear()
        filters = list(_FIXED_FILTERS) + ([self._face_set] if self._face_set else [])
        for face_filter in filters:
            item = QListWidgetItem(face_filter.title)
            item.setData(Qt.ItemDataRole.UserRole, face_filter)
            item.setData(NAME_ROLE, face_filter.title)
            item.setData(COUNT_ROLE, self._counts.get(face_filter.kind))
            self.filter_list.addItem(item)
            if current is not None and current.kind == face_filter.kind:
                item.setSelected(True)
        # Room for the outside face set's row from the start: the persons below do not
        # move when "Show in Library" adds it.
        rows = len(_FIXED_FILTERS) + 1
        self.filter_list.setFixedHeight(rows * max(1, self.filter_list.sizeHintForRow(0)) + 4)
        self.filter_list.blockSignals(False)

    def add_face_set(self, face_filter: FaceFilter) -> None:
        """Show an outside list of faces (the Evaluate page's misclassified ones)."""
        self._face_set = face_filter
        self.set_filter_counts({face_filter.kind: len(face_filter.face_ids)})
        self.select_filter(face_filter)
        # A second set replaces the first in the same row: no selection change says so.
        self.filter_chosen.emit(face_filter)

    def current_filter(self) -> FaceFilter | None:
        items = self.filter_list.selectedItems()
        if items:
            return items[0].data(Qt.ItemDataRole.UserRole)
        person = self.current_person()
        return ff.person_filter(person.id, person.name) if person else None

    def select_filter(self, face_filter: FaceFilter) -> None:
        if face_filter.kind == ff.PERSON:
            row = self.persons_model.row_of(face_filter.person_id)
            if row is not None:
                self.person_list.setCurrentIndex(self.persons_model.index(row))
            return
        for row in range(self.filter_list.count()):
            item = self.filter_list.item(row)
            if item.data(Qt.ItemDataRole.UserRole).kind == face_filter.kind:
                self.filter_list.setCurrentItem(item)
                return

    def _on_filter_selected(self) -> None:
        items = self.filter_list.selectedItems()
        if not items:
            return
        self.person_list.clearSelection()
        self.filter_chosen.emit(items[0].data(Qt.ItemDataRole.UserRole))

    def _on_person_selected(self, *_) -> None:
        self._update_buttons()
        person = self.current_person()
        if person is None:
            return
        self.filter_list.blockSignals(True)
        self.filter_list.clearSelection()
        self.filter_list.blockSignals(False)
        self.filter_chosen.emit(ff.person_filter(person.id, person.name))

    # ------------------------------------------------------------------ persons
    def current_person(self) -> PersonRow | None:
        rows = self.person_list.selectionModel().selectedRows()
        return self.persons_model.person(rows[0].row()) if rows else None

    def _update_buttons(self, *_) -> None:
        self.empty_hint.setVisible(self.persons_model.rowCount() == 0)
        has_person = self.current_person() is not None
        for action in (self.rename_action, self.merge_action, self.delete_action):
            action.setEnabled(has_person)

    def new_person_dialog(self) -> None:
        name, ok = QInputDialog.getText(self, "New person", "Name:")
        if ok:  # the engine says what a name may be (an empty one: a message, no person)
            self._session.create_person(name)

    def rename_dialog(self) -> None:
        person = self.current_person()
        if person is None:
            return
        name, ok = QInputDialog.getText(self, "Rename person", f"New name for {person.name}:",
                                        text=person.name)
        if ok:
            self._session.rename_person(person.id, name)

    def merge_dialog(self) -> None:
        person = self.current_person()
        others = [p for p in self.persons_model.persons() if person and p.id != person.id]
        if person is None or not others:
            return
        names = [p.name for p in others]
        name, ok = QInputDialog.getItem(
            self, "Merge persons", f"Move all {person.count} face(s) of {person.name} to:",
            names, 0, False)
        if not ok:
            return
        target = others[names.index(name)]
        answer = QMessageBox.question(
            self, "Merge persons",
            f"Give every face of {person.name} to {target.name} and remove {person.name}?\n"
            f"Edit → Undo ({_undo_keys()}) brings {person.name} back with their faces.")
        if answer == QMessageBox.StandardButton.Yes:
            self._session.merge_persons(person.id, target.id)

    def delete_dialog(self) -> None:
        person = self.current_person()
        if person is None:
            return
        answer = QMessageBox.question(
            self, "Delete person",
            f"Delete {person.name}? Their {person.count} face(s) become unlabelled.\n"
            f"Edit → Undo ({_undo_keys()}) brings {person.name} back with their faces.")
        if answer == QMessageBox.StandardButton.Yes:
            self._session.delete_person(person.id)

    def key_menu(self, person: PersonRow) -> QMenu:
        """Pin the person to a number key; a person who had it gets this one's old key."""
        menu = QMenu("Number key", self)
        holders = {p.number_key: p.name for p in self.persons_model.persons() if p.number_key}
        for key in range(1, NUMBER_KEYS + 1):
            holder = holders.get(key)
            text = f"{key}" + (f"  (now {holder})" if holder and key != person.number_key
                               else "")
            action = menu.addAction(text)
            action.setCheckable(True)
            action.setChecked(key == person.number_key)
            action.triggered.connect(
                lambda _=False, k=key: self._session.set_number_key(person.id, k))
        menu.addSeparator()
        none = menu.addAction("No key")
        none.triggered.connect(lambda: self._session.set_number_key(person.id, None))
        return menu

    def _show_person_menu(self, pos: QPoint) -> None:
        if not self.person_list.indexAt(pos).isValid():
            return
        menu = QMenu(self)
        for action in (self.rename_action, self.merge_action, self.delete_action):
            menu.addAction(action)
        person = self.current_person()
        if person is not None:
            menu.addMenu(self.key_menu(person))
        menu.exec(self.person_list.viewport().mapToGlobal(pos))
