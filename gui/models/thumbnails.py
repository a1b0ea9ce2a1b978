"""Face thumbnails: decoded off the UI thread, kept in an LRU cache of pixmaps.

:class:`ThumbnailLoader` decodes files into QImage on worker threads, newest request
first (the PySide "mandelbrot" idea: what the user scrolled to now matters, what
scrolled away does not), and drops the oldest requests beyond a bound.
:class:`ThumbnailCache` lives on the UI thread, turns each QImage into a QPixmap
(QPixmap must be made there) at the screen's device-pixel ratio, and says when one
is ready.

These tiny decodes do not go through the JobRunner on purpose: they are not user
jobs (no progress, no cancel button, thousands of them) and must run newest first.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path

from PySide6.QtCore import QObject, QRectF, QRunnable, QSize, Qt, QThreadPool, Signal, Slot
from PySide6.QtGui import QColor, QImage, QImageReader, QPainter, QPainterPath, QPixmap

from engine.catalog import Face

THUMB_FILE_SIZE = 112  # pixels of the thumbnails the engine writes (CropSettings.thumb_size)


class _LoaderSignals(QObject):
    loaded = Signal(int, QImage)  # key, image (null when the file could not be read)


class _DrainWorker(QRunnable):
    """Decodes requests until the stack is empty; a few run at once."""

    def __init__(self, loader: "ThumbnailLoader") -> None:
        super().__init__()
        self._loader = loader

    def run(self) -> None:
        while (request := self._loader._pop()) is not None:
            key, path, size_px = request
            reader = QImageReader(str(path))
            reader.setAutoTransform(True)
            original = reader.size()
            if original.isValid() and max(original.width(), original.height()) > size_px:
                reader.setScaledSize(original.scaled(size_px, size_px,
                                                     Qt.AspectRatioMode.KeepAspectRatio))
            image = reader.read()
            if not image.isNull() and max(image.width(), image.height()) < size_px:
                image = image.scaled(size_px, size_px, Qt.AspectRatioMode.KeepAspectRatio,
                                     Qt.TransformationMode.SmoothTransformation)
            self._loader._signals.loaded.emit(key, image)


class ThumbnailLoader(QObject):
    """Signal: ``loaded(key, QImage)`` on the UI thread."""

    loaded = Signal(int, QImage)

    def __init__(self, threads: int = 2, max_pending: int = 400,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(threads)
        self._threads = threads
        self._max_pending = max_pending
        self._lock = threading.Lock()
        self._stack: OrderedDict[int, tuple[int, Path, int]] = OrderedDict()
        self._draining = 0
        self._signals = _LoaderSignals()
        self._signals.setParent(self)
        self._signals.loaded.connect(self.loaded)

    def request(self, key: int, path: Path, size_px: int) -> None:
        with self._lock:
            self._stack.pop(key, None)
            self._stack[key] = (key, path, size_px)  # newest at the end
            while len(self._stack) > self._max_pending:
                self._stack.popitem(last=False)  # long scrolled away
            start = self._draining < self._threads
            if start:
                self._draining += 1
        if start:
            self._pool.start(_DrainWorker(self))

    def clear_pending(self) -> None:
        with self._lock:
            self._stack.clear()

    def wait_for_done(self, timeout_ms: int = -1) -> bool:
        self.clear_pending()
        return self._pool.waitForDone(timeout_ms)

    def _pop(self) -> tuple[int, Path, int] | None:
        with self._lock:
            if not self._stack:
                self._draining -= 1
                return None
            return self._stack.popitem(last=True)[1]


class ThumbnailCache(QObject):
    """Pixmaps by key (face id), made on the UI thread. Signal: ``thumbnail_ready(key)``.

    ``pixmap()`` answers at once: the cached pixmap, or None after queueing a load
    (the view paints a placeholder meanwhile and is told when to repaint).
    """

    thumbnail_ready = Signal(int)

    def __init__(self, logical_size: int, capacity: int = 1500,
                 loader: ThumbnailLoader | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.logical_size = logical_size
        self.capacity = capacity
        self._ratio = 1.0
        self._pixmaps: OrderedDict[int, QPixmap] = OrderedDict()
        self._pending: set[int] = set()
        self._broken: set[int] = set()
        self.loader = loader or ThumbnailLoader(parent=self)
        self.loader.loaded.connect(self._on_loaded)

    @property
    def device_pixel_ratio(self) -> float:
        return self._ratio

    def set_device_pixel_ratio(self, ratio: float) -> None:
        """A window moved to a screen with another scale: reload at the new size."""
        if ratio > 0 and abs(ratio - self._ratio) > 1e-3:
            self._ratio = ratio
            self.clear()

    @property
    def physical_size(self) -> int:
        return round(self.logical_size * self._ratio)

    def source_for(self, thumb: Path, crop: Path) -> Path:
        """The small thumbnail file, or the 224 px crop where the screen needs more."""
        return thumb if self.physical_size <= THUMB_FILE_SIZE * 1.1 else crop

    def pixmap(self, key: int, thumb: Path, crop: Path) -> QPixmap | None:
        found = self._pixmaps.get(key)
        if found is not None:
            self._pixmaps.move_to_end(key)
            return found
        if key not in self._pending and key not in self._broken:
            self._pending.add(key)
            self.loader.request(key, self.source_for(thumb, crop), self.physical_size)
        return None

    def face_pixmap(self, face: Face, root: Path) -> QPixmap | None:
        """`pixmap` for a catalog face of the project at ``root``."""
        return self.pixmap(face.id, root / face.thumb_path, root / face.crop_path)

    def is_broken(self, key: int) -> bool:
        return key in self._broken

    def invalidate(self, key: int) -> None:
        self._pixmaps.pop(key, None)
        self._broken.discard(key)

    def clear(self) -> None:
        self._pixmaps.clear()
        self._pending.clear()
        self._broken.clear()
        self.loader.clear_pending()

    def __len__(self) -> int:
        return len(self._pixmaps)

    @Slot(int, QImage)
    def _on_loaded(self, key: int, image: QImage) -> None:
        if key not in self._pending:  # cleared meanwhile (new ratio, new project)
            return
        self._pending.discard(key)
        if image.isNull():
            self._broken.add(key)
        else:
            pixmap = QPixmap.fromImage(image)
            pixmap.setDevicePixelRatio(self._ratio)
            self._pixmaps[key] = pixmap
            while len(self._pixmaps) > self.capacity:
                self._pixmaps.popitem(last=False)
        self.thumbnail_ready.emit(key)


def placeholder_pixmap(logical_size: int, ratio: float, colour: QColor) -> QPixmap:
    """A soft head-and-shoulders silhouette shown while a thumbnail loads."""
    side = round(logical_size * ratio)
    pixmap = QPixmap(QSize(side, side))
    pixmap.fill(Qt.GlobalColor.transparent)
    pixmap.setDevicePixelRatio(ratio)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    s = logical_size
    painter.setPen(Qt.PenStyle.NoPen)
    background = QColor(colour)
    background.setAlpha(40)
    painter.setBrush(background)
    painter.drawRoundedRect(QRectF(0, 0, s, s), 6, 6)
    figure = QColor(colour)
    figure.setAlpha(70)
    painter.setBrush(figure)
    painter.drawEllipse(QRectF(s * 0.34, s * 0.18, s * 0.32, s * 0.36))
    body = QPainterPath()
    body.moveTo(s * 0.18, s)
    body.cubicTo(s * 0.18, s * 0.58, s * 0.82, s * 0.58, s * 0.82, s)
    body.closeSubpath()
    painter.drawPath(body)
    painter.end()
    return pixmap
