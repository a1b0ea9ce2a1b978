"""The original photo with every detected box: pick the right face of a group photo
and label it, or mark a detection as "not a face".

The photo is decoded by a quiet job (12-megapixel JPEGs take a while); the boxes and
the face list show at once and the photo appears when it is ready.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QKeyEvent, QPainter, QPen, QPixmap, QResizeEvent
from PySide6.QtWidgets import (QComboBox, QDialog, QDialogButtonBox, QGraphicsRectItem,
                               QGraphicsScene, QGraphicsSimpleTextItem, QGraphicsView,
                               QHBoxLayout, QLabel, QListWidget, QListWidgetItem, QPushButton,
                               QSplitter, QVBoxLayout, QWidget)

from engine.catalog import CatalogError, Face
from gui.jobs import JobRunner
from gui.jobs.project_jobs import DecodedPhoto, decode_photo
from gui.models.face_grid import STATUS_LABELLED, STATUS_REJECTED, face_status
from gui.models.persons import PersonListModel
from gui.project_session import ProjectSession
from gui.screen_fit import fit_to_screen
from gui.theme import ACCENT_COLOUR, NO_FACE_COLOUR, UNLABELLED_COLOUR, set_muted

_STATUS_COLOURS = {STATUS_LABELLED: QColor("#3cb371"), STATUS_REJECTED: NO_FACE_COLOUR}


class _FaceBox(QGraphicsRectItem):
    def __init__(self, face_id: int, rect: QRectF, on_click) -> None:
        super().__init__(rect)
        self.face_id = face_id
        self._on_click = on_click
        self.setAcceptHoverEvents(True)
        self.setCursor(Qt.CursorShape.PointingHandCursor)

    def mousePressEvent(self, event) -> None:
        self._on_click(self.face_id)
        event.accept()


class PhotoViewerDialog(QDialog):
    def __init__(self, session: ProjectSession, runner: JobRunner, persons: PersonListModel,
                 face_id: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self._session = session
        self._persons = persons
        face = session.catalog.face(face_id)
        self.photo = session.catalog.photo(face.photo_id)
        self.current_face_id = face_id
        self._faces: list[Face] = []
        self._scale = 1.0  # scene pixels per photo pixel, once the photo is decoded
        self._photo_size = (self.photo.width, self.photo.height)
        self.setWindowTitle(f"Photo — {Path(self.photo.path).name}")
        self.resize(1000, 680)
        self._fitted = False  # to the screen, when first shown

        self.scene = QGraphicsScene(self)
        self.view = QGraphicsView(self.scene)
        self.view.setRenderHints(QPainter.RenderHint.Antialiasing
                                 | QPainter.RenderHint.SmoothPixmapTransform)
        self.view.setBackgroundBrush(QBrush(QColor(24, 24, 26)))
        self.status_label = QLabel("Loading the photo…")
        self.status_label.setWordWrap(True)
        self.face_list = QListWidget()
        self.face_list.currentRowChanged.connect(self._on_face_row_changed)
        self.person_combo = QComboBox()
        self.label_button = QPushButton("Label this face")
        self.label_button.clicked.connect(
            lambda: self.label_current(self.person_combo.currentData()))
        self.unlabel_button = QPushButton("Unlabel")
        self.unlabel_button.clicked.connect(lambda: self.label_current(None))
        self.reject_button = QPushButton("Not a face")
        self.reject_button.setCheckable(True)
        self.reject_button.setToolTip("This detection is not a face: hide it from the library "
                                      "and from training (X)")
        self.reject_button.clicked.connect(self.set_current_rejected)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)

        side = QWidget()
        side.setMinimumWidth(240)
        side.setMaximumWidth(360)
        column = QVBoxLayout(side)
        name = QLabel(f"<b>{Path(self.photo.path).name}</b><br>{self.photo.width} × "
                      f"{self.photo.height} pixels")
        name.setWordWrap(True)
        name.setToolTip(self.photo.path)
        column.addWidget(name)
        column.addWidget(self.status_label)
        column.addWidget(QLabel("Faces in this photo (click a box or a row):"))
        column.addWidget(self.face_list, 1)
        column.addWidget(self.person_combo)
        row = QHBoxLayout()
        row.addWidget(self.label_button)
        row.addWidget(self.unlabel_button)
        column.addLayout(row)
        column.addWidget(self.reject_button)
        self.face_state_label = QLabel()
        self.face_state_label.setWordWrap(True)
        set_muted(self.face_state_label)
        column.addWidget(self.face_state_label)
        keys = QLabel("Keys: 1-9 label, 0 unlabel, X not a face")
        set_muted(keys)
        column.addWidget(keys)
        splitter = QSplitter()
        splitter.addWidget(self.view)
        splitter.addWidget(side)
        splitter.setStretchFactor(0, 1)
        splitter.setSizes([700, 300])
        splitter.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.addWidget(splitter, 1)
        layout.addWidget(buttons)

        session.labels_changed.connect(self._reload_faces)
        session.faces_changed.connect(self._reload_faces)
        session.persons_changed.connect(self._reload_persons)
        self._reload_persons()
        self._reload_faces()
        self._decode = runner.submit(decode_photo(session.project.resolve(self.photo.path)),
                                     title="Open photo", quiet=True)
        self._decode.succeeded.connect(self._show_photo)
        self._decode.failed.connect(self._on_decode_failed)

    # ------------------------------------------------------------------ actions
    def select_face(self, face_id: int) -> None:
        self.current_face_id = face_id
        row = next((i for i, f in enumerate(self._faces) if f.id == face_id), -1)
        if row >= 0 and self.face_list.currentRow() != row:
            self.face_list.setCurrentRow(row)
        self._draw_boxes()
        self._sync_controls()

    def label_current(self, person_id: int | None) -> None:
        self._session.label_faces([self.current_face_id], person_id)

    def set_current_rejected(self, rejected: bool) -> None:
        self._session.set_rejected([self.current_face_id], bool(rejected))

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        if Qt.Key.Key_1 <= key <= Qt.Key.Key_9:
            person = self._persons.person_for_number_key(key - Qt.Key.Key_0)
            if person is not None:
                self.label_current(person.id)
            return
        if key == Qt.Key.Key_0:
            self.label_current(None)
            return
        if key == Qt.Key.Key_X:
            face = self._current_face()
            self.set_current_rejected(not (face and face.rejected))
            return
        super().keyPressEvent(event)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if not self._fitted:
            self._fitted = True
            fit_to_screen(self)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._fit()

    # ---------------------------------------------------------------- internals
    def _current_face(self) -> Face | None:
        return next((f for f in self._faces if f.id == self.current_face_id), None)

    def _reload_persons(self) -> None:
        current = self.person_combo.currentData()
        self.person_combo.clear()
        for person in self._persons.persons():  # with their keys: 1-9 label here too
            self.person_combo.addItem(self._persons.display_name(person), person.id)
        index = self.person_combo.findData(current)
        self.person_combo.setCurrentIndex(max(0, index))
        self._reload_faces()

    def _reload_faces(self, *_) -> None:
        try:
            self._faces = self._session.catalog.faces(photo_id=self.photo.id,
                                                      include_rejected=True)
        except CatalogError as exc:
            self.status_label.setText(str(exc))
            return
        names = self._persons.names()
        self.face_list.blockSignals(True)
        self.face_list.clear()
        for number, face in enumerate(self._faces, start=1):
            status = face_status(face)
            text = names.get(face.person_id, status) if status == STATUS_LABELLED else status
            kind = "whole photo" if face.whole_image else f"face {number}"
            item = QListWidgetItem(f"{kind}: {text}")
            self.face_list.addItem(item)
            if face.id == self.current_face_id:
                self.face_list.setCurrentItem(item)
        self.face_list.blockSignals(False)
        self._draw_boxes()
        self._sync_controls()

    def _on_face_row_changed(self, row: int) -> None:
        if 0 <= row < len(self._faces):
            self.select_face(self._faces[row].id)

    def _sync_controls(self) -> None:
        face = self._current_face()
        has_face = face is not None
        for widget in (self.label_button, self.unlabel_button, self.reject_button):
            widget.setEnabled(has_face)
        if face is None:
            self.face_state_label.setText("")
            return
        self.reject_button.setChecked(face.rejected)
        self.reject_button.setText("Not a face ✓" if face.rejected else "Not a face")
        self.reject_button.setEnabled(not face.whole_image)
        # Buttons that would do nothing are off, and the box's state is said in words.
        self.unlabel_button.setEnabled(face.person_id is not None)
        self.label_button.setEnabled(not face.rejected)
        self.face_state_label.setText(
            "Marked “not a face”: hidden from the library and from training. Click "
            "“Not a face” again (X) to make it a face again." if face.rejected else "")
        if face.person_id is not None:
            index = self.person_combo.findData(face.person_id)
            if index >= 0:
                self.person_combo.setCurrentIndex(index)

    def _show_photo(self, decoded: DecodedPhoto) -> None:
        self._scale = decoded.scale
        pixmap = QPixmap.fromImage(decoded.image)
        self.scene.addPixmap(pixmap).setZValue(-1)
        self.status_label.setText("")
        self._draw_boxes()
        self._fit()

    def _on_decode_failed(self, message: str, details: str) -> None:
        self.status_label.setText(f"The original photo cannot be shown: {message}")

    def _draw_boxes(self) -> None:
        for item in list(self.scene.items()):
            if isinstance(item, (_FaceBox, QGraphicsSimpleTextItem)):
                self.scene.removeItem(item)
        width, height = (v * self._scale for v in self._photo_size)
        self.scene.setSceneRect(QRectF(0, 0, width, height))
        line = max(2.0, max(width, height) / 400)
        names = self._persons.names()
        for number, face in enumerate(self._faces, start=1):
            if face.whole_image:
                continue
            x1, y1, x2, y2 = (v * self._scale for v in face.box)
            box = _FaceBox(face.id, QRectF(x1, y1, x2 - x1, y2 - y1), self.select_face)
            status = face_status(face)
            colour = ACCENT_COLOUR if face.id == self.current_face_id else \
                _STATUS_COLOURS.get(status, UNLABELLED_COLOUR)
            pen = QPen(colour, line * (1.6 if face.id == self.current_face_id else 1.0))
            if face.rejected:
                pen.setStyle(Qt.PenStyle.DashLine)
            box.setPen(pen)
            self.scene.addItem(box)
            caption = names.get(face.person_id) if face.person_id else status
            label = QGraphicsSimpleTextItem(f"{number}: {caption}")
            label.setBrush(colour)
            font = label.font()
            font.setPixelSize(max(10, round(line * 7)))
            label.setFont(font)
            # Inside the photo: a face at the right edge keeps its name in view.
            left = min(x1, width - label.boundingRect().width())
            label.setPos(max(0.0, left), max(0.0, y1 - font.pixelSize() - 4))
            self.scene.addItem(label)

    def _fit(self) -> None:
        if not self.scene.sceneRect().isEmpty():
            self.view.fitInView(self.scene.sceneRect(), Qt.AspectRatioMode.KeepAspectRatio)
