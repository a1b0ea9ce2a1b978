"""The library's thumbnail grid: a QListView in icon mode tuned for 20,000 faces
(uniform item sizes, static layout) that turns labelling keys into signals."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QSize, Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QAbstractItemView, QListView

from gui.models.face_grid import FACE_ID_ROLE
from gui.widgets.empty_message import paint_empty_message
from gui.widgets.face_delegate import FaceItemDelegate

_UNLABEL_KEYS = (Qt.Key.Key_0, Qt.Key.Key_Delete, Qt.Key.Key_Backspace)
_OPEN_KEYS = (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Space)


class FaceGridView(QListView):
    """Signals: ``number_key_pressed(n)`` for 1-9, ``unlabel_key_pressed()`` for
    0/Delete/Backspace, ``search_typed(text)`` when a letter starts a person search,
    ``photo_requested(face_id)`` for Enter/Space or a double-click."""

    number_key_pressed = Signal(int)
    unlabel_key_pressed = Signal()
    search_typed = Signal(str)
    photo_requested = Signal(int)

    def __init__(self, thumb_size: int, parent=None) -> None:
        super().__init__(parent)
        self.empty_text = ""
        self.face_delegate = FaceItemDelegate(thumb_size, self)
        self.setItemDelegate(self.face_delegate)
        self.setViewMode(QListView.ViewMode.IconMode)
        # Static movement selects Qt's list layout (no per-item positions stored) and,
        # with uniform sizes, lays out 20,000 items from one size hint.
        self.setMovement(QListView.Movement.Static)
        self.setUniformItemSizes(True)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setWrapping(True)
        self.setFlow(QListView.Flow.LeftToRight)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setSelectionRectVisible(True)
        self.setDragDropMode(QAbstractItemView.DragDropMode.NoDragDrop)
        self.setAcceptDrops(False)  # drops go to the library page (one import path)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setMouseTracking(True)
        self.setSpacing(0)
        self.update_grid_size()
        self.doubleClicked.connect(self._on_double_clicked)

    def update_grid_size(self) -> None:
        """Cells share the width evenly: no ragged empty band on the right."""
        cell = self.face_delegate.cell_size(self.font())
        # Width as if the scroll bar were shown, whether it is or not: otherwise a
        # wider grid could hide the bar, which widens the grid again, and so on.
        width = self.contentsRect().width() - self.verticalScrollBar().sizeHint().width()
        columns = max(1, width // cell.width())
        spread = QSize(max(cell.width(), width // columns), cell.height())
        if spread != self.gridSize():
            self.setGridSize(spread)
        self.verticalScrollBar().setSingleStep(max(8, cell.height() // 3))

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self.update_grid_size()

    def current_face_id(self) -> int | None:
        index = self.currentIndex()
        return index.data(FACE_ID_ROLE) if index.isValid() else None

    def keyPressEvent(self, event: QKeyEvent) -> None:
        modifiers = event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
        plain = modifiers in (Qt.KeyboardModifier.NoModifier, Qt.KeyboardModifier.ShiftModifier)
        key = event.key()
        if modifiers == Qt.KeyboardModifier.NoModifier:
            if Qt.Key.Key_1 <= key <= Qt.Key.Key_9:
                self.number_key_pressed.emit(key - Qt.Key.Key_0)
                return
            if key in _UNLABEL_KEYS:
                self.unlabel_key_pressed.emit()
                return
            if key in _OPEN_KEYS and self.current_face_id() is not None:
                self.photo_requested.emit(self.current_face_id())
                return
        text = event.text()
        if plain and text and text[0].isalpha():
            self.search_typed.emit(text)
            return
        super().keyPressEvent(event)

    def keyboardSearch(self, search: str) -> None:
        pass  # letters search persons (search_typed), not item texts

    def paintEvent(self, event) -> None:
        super().paintEvent(event)
        paint_empty_message(self, self.empty_text, margin=40)

    def _on_double_clicked(self, index: QModelIndex) -> None:
        face_id = index.data(FACE_ID_ROLE)
        if face_id is not None:
            self.photo_requested.emit(face_id)
