"""The live video of the Webcam page: the newest frame, scaled to fit, with a box, a
name and a confidence bar per face, the frame rate and latency, and the Grad-CAM of
one face as an inset.

Painted with one QPainter pass from the frame's QImage (made off the UI thread):
no widget per face or per frame. A new frame only stores it and calls update(), so
several frames between two paints cost one paint.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QImage, QPainter, QPalette, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from gui.theme import ACCENT_COLOUR, UNLABELLED_COLOUR

if TYPE_CHECKING:
    from engine.inference.live_pipeline import LiveFace

UNKNOWN_COLOUR = UNLABELLED_COLOUR      # the library's "needs a person" colour
BACKGROUND = QColor(16, 17, 19)         # a video is framed in black on both themes
TEXT_ON_VIDEO = QColor(240, 240, 240)
INSET_SHARE = 0.32                      # the Grad-CAM inset's side, of the video height
BAR_HEIGHT = 5


class LiveVideoView(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self._image: QImage | None = None
        self._faces: tuple[LiveFace, ...] = ()
        self._frame_index: int | None = None
        self._threshold = 0.5
        self._stats = ""
        self._gradcam: _Inset | None = None
        self._placeholder = ""
        self._dimmed = False
        # What the last paint showed (tests and screenshots check what a user saw).
        self.painted_index: int | None = None
        self.painted_captions: tuple[str, ...] = ()
        self.painted_gradcam: str | None = None  # the person the inset explains
        self.painted_gradcam_caption: str | None = None

    def sizeHint(self) -> QSize:
        return QSize(640, 480)

    def minimumSizeHint(self) -> QSize:
        return QSize(320, 240)

    # ------------------------------------------------------------------ public
    def show_frame(self, index: int, image: QImage, faces: tuple[LiveFace, ...],
                   stats: str) -> None:
        self._frame_index, self._image, self._faces, self._stats = index, image, faces, stats
        self._dimmed = False
        if self._gradcam is not None and self._explained_face() is None:
            self._gradcam = None  # its face left, or the model now names it otherwise
        self.update()

    def show_gradcam(self, image: QImage | None, person: str = "", track_id: int | None = None,
                     caption: str = "") -> None:
        """The Grad-CAM of one face (``track_id``; None: whichever face is in view), shown
        while that face stays in view and the model names it ``person``; None clears it."""
        self._gradcam = None if image is None else _Inset(image, person, track_id,
                                                          caption or f"Grad-CAM: {person}")
        self.update()

    @property
    def gradcam_shown(self) -> bool:
        return self._gradcam is not None

    def set_threshold(self, threshold: float) -> None:
        """Where the confidence bars mark the threshold."""
        self._threshold = threshold
        self.update()

    def set_dimmed(self, dimmed: bool) -> None:
        """The last frame stays, greyed, while the camera is away."""
        self._dimmed = dimmed
        self.update()

    def clear(self, placeholder: str) -> None:
        self._image, self._faces, self._frame_index, self._stats = None, (), None, ""
        self._gradcam = None
        self._placeholder = placeholder
        self.update()

    def set_placeholder(self, text: str) -> None:
        self._placeholder = text
        if self._image is None:
            self.update()

    @property
    def has_frame(self) -> bool:
        return self._image is not None

    # ---------------------------------------------------------------- painting
    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), BACKGROUND)
        if self._image is None:
            self._paint_placeholder(painter)
            self.painted_index, self.painted_captions, self.painted_gradcam = None, (), None
            self.painted_gradcam_caption = None
            return
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        target = self._fit(self._image.size(), QRectF(self.rect()))
        painter.drawImage(target, self._image)
        scale = target.width() / self._image.width()
        captions = []
        for face in self._faces:
            captions.append(self._paint_face(painter, face, target, scale))
        if self._gradcam is not None:
            self._paint_gradcam(painter, target, scale)
        if self._stats:
            self._paint_tag(painter, QPointF(target.left() + 8, target.top() + 8), self._stats,
                            QColor(0, 0, 0, 160))
        if self._dimmed:
            painter.fillRect(target, QColor(0, 0, 0, 150))
        self.painted_index = self._frame_index
        self.painted_captions = tuple(captions)
        self.painted_gradcam = self._gradcam.person if self._gradcam else None
        self.painted_gradcam_caption = self._gradcam.caption if self._gradcam else None

    @staticmethod
    def _fit(size: QSize, area: QRectF) -> QRectF:
        factor = min(area.width() / size.width(), area.height() / size.height())
        width, height = size.width() * factor, size.height() * factor
        return QRectF(area.left() + (area.width() - width) / 2,
                      area.top() + (area.height() - height) / 2, width, height)

    def _paint_placeholder(self, painter: QPainter) -> None:
        painter.setPen(self.palette().color(QPalette.ColorGroup.Disabled,
                                            QPalette.ColorRole.WindowText).lighter(130))
        area = self.rect().adjusted(40, 40, -40, -40)
        painter.drawText(area, Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                         self._placeholder)

    def _paint_face(self, painter: QPainter, face: LiveFace, target: QRectF,
                    scale: float) -> str:
        x1, y1, x2, y2 = face.box
        box = QRectF(target.left() + x1 * scale, target.top() + y1 * scale,
                     (x2 - x1) * scale, (y2 - y1) * scale).intersected(target)
        colour = UNKNOWN_COLOUR if face.is_unknown else ACCENT_COLOUR
        painter.setPen(QPen(colour, 2.5))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRect(box)
        caption = face.caption()
        tag = self._paint_tag(painter, box.bottomLeft() + QPointF(0, 4), caption, colour,
                              within=target)
        # The confidence bar, with a mark where the threshold is: how far from the line.
        bar = QRectF(tag.left(), tag.bottom() + 2, max(tag.width(), box.width()), BAR_HEIGHT)
        painter.fillRect(bar, QColor(0, 0, 0, 170))
        painter.fillRect(QRectF(bar.left(), bar.top(), bar.width() * face.confidence,
                                bar.height()), colour)
        mark = bar.left() + bar.width() * min(1.0, self._threshold)
        painter.setPen(QPen(TEXT_ON_VIDEO, 1.5))
        painter.drawLine(QPointF(mark, bar.top() - 2), QPointF(mark, bar.bottom() + 2))
        return caption

    def _paint_tag(self, painter: QPainter, at: QPointF, text: str, colour: QColor,
                   within: QRectF | None = None) -> QRectF:
        font = QFont(self.font())
        font.setBold(True)
        painter.setFont(font)
        metrics = QFontMetricsF(font)
        rect = QRectF(at, QSize(0, 0)).adjusted(0, 0, metrics.horizontalAdvance(text) + 12,
                                                metrics.height() + 4)
        if within is not None:  # a face at the bottom edge: its tag goes inside the box
            if rect.bottom() + BAR_HEIGHT + 4 > within.bottom():
                rect.moveBottom(within.bottom() - BAR_HEIGHT - 4)
            if rect.right() > within.right():
                rect.moveRight(within.right())
            rect.moveLeft(max(rect.left(), within.left()))
        painter.fillRect(rect, colour)
        painter.setPen(TEXT_ON_VIDEO)
        painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, text)
        return rect

    def _explained_face(self) -> LiveFace | None:
        """The face of this frame the inset explains, if the model still names it as
        the map did."""
        cam = self._gradcam
        for face in self._faces:
            if cam.track_id is not None and face.track_id != cam.track_id:
                continue
            named = face.top[0][0] if face.top else face.person
            if named == cam.person:
                return face
        return None

    def _paint_gradcam(self, painter: QPainter, target: QRectF, scale: float) -> None:
        cam = self._gradcam
        side = target.height() * INSET_SHARE
        inset = QRectF(target.right() - side - 8, target.top() + 8, side, side)
        painter.drawImage(inset, cam.image)
        painter.setPen(QPen(TEXT_ON_VIDEO, 1.5))
        painter.drawRect(inset)
        face = self._explained_face()
        if face is not None:  # which face the map is of: the same dashed frame on both
            x1, y1, x2, y2 = face.box
            box = QRectF(target.left() + x1 * scale, target.top() + y1 * scale,
                         (x2 - x1) * scale, (y2 - y1) * scale).adjusted(-5, -5, 5, 5)
            pen = QPen(TEXT_ON_VIDEO, 1.5, Qt.PenStyle.DashLine)
            painter.setPen(pen)
            painter.drawRect(box.intersected(target))
            painter.drawRect(inset.adjusted(-4, -4, 4, 4))
        self._paint_tag(painter, inset.bottomLeft() + QPointF(0, 4), cam.caption,
                        QColor(0, 0, 0, 170), within=target)


@dataclass(frozen=True)
class _Inset:
    image: QImage
    person: str
    track_id: int | None
    caption: str
