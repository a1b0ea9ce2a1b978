"""Top-level windows never larger than the screen's free area, nor partly off it: a
default size, or one saved on a larger screen (or at a smaller scale factor, e.g.
QT_SCALE_FACTOR=1.5 on a laptop), would open with its edges and buttons out of reach."""

from __future__ import annotations

from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QWidget

# The title bar and borders, before a window shows (its frame is known only then).
FRAME_ALLOWANCE = (16, 40)


def fit_to_screen(window: QWidget) -> None:
    """Shrink ``window`` to the available area of its screen and move it inside."""
    if window.isMaximized() or window.isFullScreen():
        return
    screen = window.screen() or QGuiApplication.primaryScreen()
    if screen is None:
        return
    available = screen.availableGeometry()
    frame, inner = window.frameGeometry(), window.geometry()
    if window.isVisible():
        extra_w, extra_h = frame.width() - inner.width(), frame.height() - inner.height()
    else:
        extra_w, extra_h = FRAME_ALLOWANCE
    width = min(inner.width(), available.width() - extra_w)
    height = min(inner.height(), available.height() - extra_h)
    if (width, height) != (inner.width(), inner.height()):
        window.resize(width, height)
    frame = window.frameGeometry()
    left = min(max(frame.left(), available.left()), available.right() - frame.width() + 1)
    top = min(max(frame.top(), available.top()), available.bottom() - frame.height() + 1)
    if (left, top) != (frame.left(), frame.top()):
        window.move(left, top)
