"""Fusion style with a light or dark palette (the same look on every platform)."""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

# Colours that carry meaning in the library, readable on both palettes.
UNLABELLED_COLOUR = QColor("#d08a1e")
NO_FACE_COLOUR = QColor("#7a7f87")
ACCENT_COLOUR = QColor("#3d8ee6")
ERROR_COLOUR = QColor("#c0392b")


def dark_palette() -> QPalette:
    p = QPalette()
    window, base, text = QColor(45, 47, 51), QColor(32, 34, 37), QColor(225, 227, 230)
    disabled_text = QColor(120, 124, 130)
    roles = {
        QPalette.ColorRole.Window: window,
        QPalette.ColorRole.WindowText: text,
        QPalette.ColorRole.Base: base,
        QPalette.ColorRole.AlternateBase: QColor(40, 42, 46),
        QPalette.ColorRole.ToolTipBase: QColor(60, 63, 68),
        QPalette.ColorRole.ToolTipText: text,
        QPalette.ColorRole.PlaceholderText: disabled_text,
        QPalette.ColorRole.Text: text,
        QPalette.ColorRole.Button: QColor(55, 58, 63),
        QPalette.ColorRole.ButtonText: text,
        QPalette.ColorRole.BrightText: QColor(255, 90, 90),
        QPalette.ColorRole.Light: QColor(75, 78, 84),
        QPalette.ColorRole.Midlight: QColor(62, 65, 70),
        QPalette.ColorRole.Mid: QColor(38, 40, 43),
        QPalette.ColorRole.Dark: QColor(25, 26, 28),
        QPalette.ColorRole.Shadow: QColor(15, 15, 16),
        QPalette.ColorRole.Highlight: ACCENT_COLOUR,
        QPalette.ColorRole.HighlightedText: QColor(255, 255, 255),
        QPalette.ColorRole.Link: QColor(110, 170, 240),
        QPalette.ColorRole.LinkVisited: QColor(170, 140, 230),
    }
    for role, colour in roles.items():
        p.setColor(role, colour)
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.WindowText,
                 QPalette.ColorRole.ButtonText):
        p.setColor(QPalette.ColorGroup.Disabled, role, disabled_text)
    p.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Highlight, QColor(70, 74, 80))
    return p


def apply_theme(app: QApplication, dark: bool) -> None:
    app.setStyle("Fusion")
    palette = dark_palette() if dark else app.style().standardPalette()
    if not dark:
        palette.setColor(QPalette.ColorRole.Highlight, ACCENT_COLOUR)
    app.setPalette(palette)


def is_dark(palette: QPalette) -> bool:
    return palette.color(QPalette.ColorRole.Window).lightness() < 128


def set_muted(widget) -> None:
    """Secondary text (hints, counts): the palette's placeholder colour, which follows
    the theme; a disabled widget would be too faint to read on the light palette."""
    widget.setForegroundRole(QPalette.ColorRole.PlaceholderText)
