"""Small vector icons painted at every device-pixel ratio (crisp on HiDPI screens),
so FaceLab ships no image files for its chrome and icons follow the palette."""

from __future__ import annotations

from typing import Callable

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPainterPath, QPen, QPixmap

_SIZES = (16, 24, 32, 48)
_RATIOS = (1.0, 1.25, 1.5, 2.0, 3.0)

Glyph = Callable[[QPainter, QColor], None]  # paints into a 24 x 24 box


def _library(p: QPainter, c: QColor) -> None:
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(c)
    for x in (3, 13):
        for y in (3, 13):
            p.drawRoundedRect(QRectF(x, y, 8, 8), 1.5, 1.5)


def _train(p: QPainter, c: QColor) -> None:
    p.setPen(QPen(c, 2.2, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap,
                  Qt.PenJoinStyle.RoundJoin))
    p.drawLine(QPointF(3, 21), QPointF(21, 21))
    path = QPainterPath(QPointF(4, 17))
    for x, y in ((9, 11), (13, 14), (20, 5)):
        path.lineTo(x, y)
    p.drawPath(path)


def _evaluate(p: QPainter, c: QColor) -> None:
    p.setPen(QPen(c, 2.0))
    p.drawEllipse(QRectF(3, 3, 18, 18))
    p.drawEllipse(QRectF(8, 8, 8, 8))
    p.setBrush(c)
    p.drawEllipse(QRectF(11, 11, 2, 2))


def _webcam(p: QPainter, c: QColor) -> None:
    p.setPen(QPen(c, 2.0))
    p.drawEllipse(QRectF(5, 2, 14, 14))
    p.setBrush(c)
    p.drawEllipse(QRectF(9.5, 6.5, 5, 5))
    p.setPen(QPen(c, 2.2, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
    p.drawLine(QPointF(12, 16), QPointF(12, 20))
    p.drawLine(QPointF(7, 21), QPointF(17, 21))


def _person(p: QPainter, c: QColor) -> None:
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(c)
    p.drawEllipse(QRectF(7.5, 3, 9, 9))
    path = QPainterPath()
    path.moveTo(3, 22)
    path.cubicTo(3, 13, 21, 13, 21, 22)
    path.closeSubpath()
    p.drawPath(path)


def _import(p: QPainter, c: QColor) -> None:
    p.setPen(QPen(c, 2.2, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap,
                  Qt.PenJoinStyle.RoundJoin))
    p.drawLine(QPointF(12, 3), QPointF(12, 15))
    p.drawPolyline([QPointF(7, 10), QPointF(12, 15), QPointF(17, 10)])
    p.drawPolyline([QPointF(3, 15), QPointF(3, 21), QPointF(21, 21), QPointF(21, 15)])


GLYPHS: dict[str, Glyph] = {"library": _library, "train": _train, "evaluate": _evaluate,
                            "webcam": _webcam, "person": _person, "import": _import}


def painted_pixmap(glyph: Glyph, size: int, ratio: float, colour: QColor) -> QPixmap:
    pixmap = QPixmap(round(size * ratio), round(size * ratio))
    pixmap.fill(Qt.GlobalColor.transparent)
    pixmap.setDevicePixelRatio(ratio)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    try:
        painter.scale(size / 24, size / 24)
        glyph(painter, colour)
    finally:
        painter.end()
    return pixmap


def icon(name: str, colour: QColor) -> QIcon:
    """The named glyph in ``colour``, at every size and ratio the icon may be drawn."""
    result = QIcon()
    for size in _SIZES:
        for ratio in _RATIOS:
            result.addPixmap(painted_pixmap(GLYPHS[name], size, ratio, colour))
    return result
