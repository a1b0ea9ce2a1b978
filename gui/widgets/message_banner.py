"""A banner for errors and results in words, never a console traceback. The
traceback, when there is one, is one click away.

It floats over the bottom-right corner of its host (:meth:`MessageBanner.float_over`)
instead of taking a row of the layout: a message that comes or goes, often while the
user is about to click, moves no button or panel."""

from __future__ import annotations

from typing import Callable

from PySide6.QtCore import QEvent, QObject, QRect, Qt, QTimer, QUrl
from PySide6.QtGui import QColor, QDesktopServices, QPalette
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QMessageBox, QToolButton, QWidget

from gui.theme import ACCENT_COLOUR, ERROR_COLOUR

INFO_SECONDS = 12
MAX_WIDTH = 560  # a floating banner's widest; text wraps below it
MARGIN = 12      # from the host's edges


class MessageBanner(QFrame):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setAutoFillBackground(True)
        self.kind = ""
        self.details = ""
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details_button = QToolButton()
        self.details_button.setText("Details…")
        self.details_button.setAutoRaise(True)
        self.details_button.clicked.connect(self.show_details)
        # What the message is about, one click away (e.g. "Open" a report just written).
        self.action: tuple[str, Callable[[], object]] | None = None
        self.action_button = QToolButton()
        self.action_button.clicked.connect(self._run_action)
        close = QToolButton()
        close.setText("✕")
        close.setAutoRaise(True)
        close.setToolTip("Dismiss")
        close.clicked.connect(self.dismiss)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(12, 6, 6, 6)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.action_button)
        layout.addWidget(self.details_button)
        layout.addWidget(close)
        self._timer = QTimer(self, singleShot=True, timeout=self.dismiss)
        self._host: QWidget | None = None
        self.hide()

    def float_over(self, host: QWidget) -> None:
        """Show over ``host``'s bottom-right corner, outside its layout; follows its size."""
        self._host = host
        self.setParent(host)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        host.installEventFilter(self)
        self.hide()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self._host and event.type() == QEvent.Type.Resize and self.isVisible():
            self._place()
        return super().eventFilter(watched, event)

    def _place(self) -> None:
        host = self._host
        if host is None:
            return
        width = max(120, min(MAX_WIDTH, host.width() - 2 * MARGIN))
        layout = self.layout()
        height = layout.heightForWidth(width) if layout.hasHeightForWidth() else -1
        height = max(height, self.minimumSizeHint().height())
        self.setGeometry(QRect(host.width() - width - MARGIN, host.height() - height - MARGIN,
                               width, height))
        self.raise_()

    def text(self) -> str:
        return self.label.text()

    def show_error(self, text: str, details: str = "") -> None:
        self._show("error", text, details, ERROR_COLOUR, None)

    def show_info(self, text: str, details: str = "",
                  action: tuple[str, Callable[[], object]] | None = None) -> None:
        """An information; with an ``action`` (button text, what it does) it stays until
        dismissed, so the button does not vanish before the user reaches it."""
        self._show("info", text, details, ACCENT_COLOUR, action)
        if action is None:
            self._timer.start(INFO_SECONDS * 1000)

    def dismiss(self) -> None:
        self._timer.stop()
        self.hide()

    def show_details(self) -> None:
        box = QMessageBox(QMessageBox.Icon.Critical if self.kind == "error"
                          else QMessageBox.Icon.Information, "FaceLab", self.text(),
                          QMessageBox.StandardButton.Close, self)
        box.setDetailedText(self.details)
        box.open()

    def _run_action(self) -> None:
        if self.action is not None:
            self.action[1]()

    def _show(self, kind: str, text: str, details: str, colour: QColor,
              action: tuple[str, Callable[[], object]] | None) -> None:
        self._timer.stop()
        self.kind, self.details, self.action = kind, details, action
        self.label.setText(text)
        self.details_button.setVisible(bool(details))
        self.action_button.setVisible(action is not None)
        self.action_button.setText(action[0] if action else "")
        palette = self.palette()
        base = self.parentWidget().palette().color(QPalette.ColorRole.Window) \
            if self.parentWidget() else QColor("white")
        palette.setColor(QPalette.ColorRole.Window, _blend(base, colour, 0.22))
        self.setPalette(palette)
        self.show()
        self._place()


def open_file(path) -> bool:
    """Open a file the app wrote (a report) with the system's program for it."""
    return QDesktopServices.openUrl(QUrl.fromLocalFile(str(path)))


def _blend(base: QColor, tint: QColor, amount: float) -> QColor:
    return QColor(round(base.red() + (tint.red() - base.red()) * amount),
                  round(base.green() + (tint.green() - base.green()) * amount),
                  round(base.blue() + (tint.blue() - base.blue()) * amount))
