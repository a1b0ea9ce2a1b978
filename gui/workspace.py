"""An open project's window content: a sidebar of pages and the pages themselves,
built from gui/pages/registry.py. Destroyed with the project, so a page never sees
a closed catalog."""

from __future__ import annotations

from PySide6.QtCore import QByteArray, QEvent, QSize, Qt, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QHBoxLayout, QListWidget, QListWidgetItem, QStackedWidget, QWidget

from gui.icons import icon
from gui.pages.page_context import PageContext
from gui.pages.registry import PAGES, PageSpec


class ProjectWorkspace(QWidget):
    """Signal: ``page_changed(key)``."""

    page_changed = Signal(str)

    def __init__(self, context: PageContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.sidebar = QListWidget()
        self.sidebar.setObjectName("sidebar")
        self.sidebar.setIconSize(QSize(24, 24))
        self.sidebar.setFixedWidth(128)
        self.sidebar.setFrameShape(QListWidget.Shape.NoFrame)
        self.sidebar.setSpacing(2)
        self.stack = QStackedWidget()
        self.pages: dict[str, QWidget] = {}
        self._specs: list[PageSpec] = list(PAGES)
        for spec in self._specs:
            page = spec.factory(context)
            self.pages[spec.key] = page
            self.stack.addWidget(page)
            item = QListWidgetItem(spec.title)
            item.setData(Qt.ItemDataRole.UserRole, spec.key)
            item.setSizeHint(QSize(120, 44))
            self.sidebar.addItem(item)
        self.refresh_icons()
        self.sidebar.currentRowChanged.connect(self._on_row_changed)
        self.sidebar.setCurrentRow(0)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.sidebar)
        layout.addWidget(self.stack, 1)

    def page_keys(self) -> list[str]:
        return [spec.key for spec in self._specs]

    def page(self, key: str) -> QWidget:
        return self.pages[key]

    def current_key(self) -> str:
        return self._specs[self.stack.currentIndex()].key

    def show_page(self, key: str) -> None:
        self.sidebar.setCurrentRow(self.page_keys().index(key))

    def refresh_icons(self) -> None:
        """Icons follow the palette (the dark theme was switched on or off)."""
        colour = self.palette().color(QPalette.ColorRole.WindowText)
        for row, spec in enumerate(self._specs):
            self.sidebar.item(row).setIcon(icon(spec.icon, colour))

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.PaletteChange:
            self.refresh_icons()
        super().changeEvent(event)

    def shutdown(self) -> None:
        """Before the project closes: pages with a ``shutdown()`` stop their own work
        (thumbnail decoding, a camera…). Jobs were already cancelled by the window."""
        for page in self.pages.values():
            if hasattr(page, "shutdown"):
                page.shutdown()

    def save_state(self) -> dict[str, QByteArray]:
        """Pages with a ``save_state()`` (splitter sizes…) keep it across sessions."""
        return {key: page.save_state() for key, page in self.pages.items()
                if hasattr(page, "save_state")}

    def restore_state(self, states: dict[str, QByteArray]) -> None:
        for key, state in states.items():
            page = self.pages.get(key)
            if page is not None and hasattr(page, "restore_state"):
                page.restore_state(state)

    def _on_row_changed(self, row: int) -> None:
        if 0 <= row < len(self._specs):
            self.stack.setCurrentIndex(row)
            self.page_changed.emit(self._specs[row].key)
