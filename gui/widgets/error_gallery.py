"""The error gallery: a run's mistakes, unsure predictions or one confusion cell, as
face tiles (thumbnail or Grad-CAM overlay, true → predicted, confidence), with
relabel-in-place and "show in Library".

The panel knows the report and which samples to show; labelling goes out as a
signal (the page owns the session), and so does "show in Library".
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

from PySide6.QtCore import QRect, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontMetrics, QKeyEvent, QPainter, QPalette, QPen, QPixmap
from PySide6.QtWidgets import (QAbstractItemView, QCheckBox, QComboBox, QDoubleSpinBox,
                               QHBoxLayout, QLabel, QListView, QMenu, QPushButton, QStyle,
                               QStyledItemDelegate, QVBoxLayout, QWidget)

from engine.display import confidence_text
from gui.models.error_gallery import (CURRENT_LABEL_ROLE, FACE_ID_ROLE, GRADCAM_STATE_ROLE,
                                      RELABELLED_ROLE, SAMPLE_ROLE, ErrorGalleryModel)
from gui.theme import set_muted
from gui.widgets.empty_message import paint_empty_message
from gui.widgets.heat_legend import HeatLegend

if TYPE_CHECKING:
    from engine.evaluation.metrics import EvaluationReport

TILE = 112
PADDING = 6
RIGHT_COLOUR = QColor("#3a9a5b")
WRONG_COLOUR = QColor("#c8463c")
MISCLASSIFIED, LOW_CONFIDENCE, ALL_SAMPLES, CELL = "misclassified", "low", "all", "cell"
GRADCAM_BADGES = {"pending": "Grad-CAM…", "failed": "no Grad-CAM", "flat": "flat map"}
DEFAULT_THRESHOLD = 0.6


class ErrorGalleryDelegate(QStyledItemDelegate):
    def cell_size(self, font: QFont) -> QSize:
        line = QFontMetrics(font).height()
        return QSize(TILE + 2 * PADDING + 24, TILE + 2 * PADDING + 3 * line + 8)

    def sizeHint(self, option, index) -> QSize:
        return self.cell_size(option.font)

    def paint(self, painter: QPainter, option, index) -> None:
        sample = index.data(SAMPLE_ROLE)
        if sample is None:
            return
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        palette: QPalette = option.palette
        cell = option.rect.adjusted(2, 2, -2, -2)
        if option.state & (QStyle.StateFlag.State_Selected | QStyle.StateFlag.State_MouseOver):
            fill = QColor(palette.color(QPalette.ColorRole.Highlight))
            fill.setAlpha(90 if option.state & QStyle.StateFlag.State_Selected else 30)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(fill)
            painter.drawRoundedRect(QRectF(cell), 6, 6)
        thumb = QRect(cell.x() + (cell.width() - TILE) // 2, cell.y() + PADDING, TILE, TILE)
        pixmap = index.data(Qt.ItemDataRole.DecorationRole)
        if isinstance(pixmap, QPixmap) and not pixmap.isNull():
            painter.drawPixmap(thumb, pixmap)
        painter.setPen(QPen(RIGHT_COLOUR if sample.correct else WRONG_COLOUR, 3))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRoundedRect(QRectF(thumb).adjusted(-1, -1, 1, 1), 4, 4)
        self._draw_confidence(painter, thumb, sample.confidence, option.font)
        state = index.data(GRADCAM_STATE_ROLE)
        if state in GRADCAM_BADGES:
            self._draw_badge(painter, thumb, GRADCAM_BADGES[state], option.font)
        self._draw_text(painter, option, cell, thumb, sample, index)
        painter.restore()

    @staticmethod
    def _draw_confidence(painter: QPainter, thumb: QRect, confidence: float,
                         base: QFont) -> None:
        """A bar along the bottom edge and the percentage in a pill above its end."""
        bar = QRectF(thumb.x() + 1, thumb.bottom() - 5, (thumb.width() - 2) * confidence, 5)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(255, 255, 255, 220))
        painter.drawRect(bar)
        font = QFont(base)
        font.setPointSizeF(max(6.5, base.pointSizeF() * 0.8))
        font.setBold(True)
        text = confidence_text(confidence)
        metrics = QFontMetrics(font)
        pill = QRectF(thumb.right() - metrics.horizontalAdvance(text) - 12,
                      thumb.bottom() - metrics.height() - 10, metrics.horizontalAdvance(text) + 8,
                      metrics.height() + 2)
        painter.setBrush(QColor(0, 0, 0, 160))
        painter.drawRoundedRect(pill, 4, 4)
        painter.setFont(font)
        painter.setPen(QColor("white"))
        painter.drawText(pill, Qt.AlignmentFlag.AlignCenter, text)

    @staticmethod
    def _draw_badge(painter: QPainter, thumb: QRect, text: str, base: QFont) -> None:
        font = QFont(base)
        font.setPointSizeF(max(6.5, base.pointSizeF() * 0.8))
        metrics = QFontMetrics(font)
        box = QRectF(thumb.x() + 4, thumb.y() + 4, metrics.horizontalAdvance(text) + 10,
                     metrics.height() + 2)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(0, 0, 0, 150))
        painter.drawRoundedRect(box, 4, 4)
        painter.setFont(font)
        painter.setPen(QColor("white"))
        painter.drawText(box, Qt.AlignmentFlag.AlignCenter, text)

    @staticmethod
    def _draw_text(painter, option, cell: QRect, thumb: QRect, sample, index) -> None:
        font = QFont(option.font)
        metrics = QFontMetrics(font)
        line = metrics.height()
        width = cell.width() - 6
        text = option.palette.color(QPalette.ColorRole.Text)
        muted = option.palette.color(QPalette.ColorRole.PlaceholderText)
        y = thumb.bottom() + 5
        relabelled = index.data(RELABELLED_ROLE)
        current = index.data(CURRENT_LABEL_ROLE)
        lines = [(f"true: {sample.true_person}", muted if relabelled else text, relabelled),
                 (f"pred: {sample.predicted_person}",
                  RIGHT_COLOUR if sample.correct else WRONG_COLOUR, False)]
        if relabelled:
            lines.append((f"now: {current or 'unlabelled'}", text, False))
        for words, colour, struck in lines:
            item_font = QFont(font)
            item_font.setStrikeOut(bool(struck))
            painter.setFont(item_font)
            painter.setPen(colour)
            painter.drawText(QRect(cell.x() + 3, y, width, line), Qt.AlignmentFlag.AlignHCenter,
                             metrics.elidedText(words, Qt.TextElideMode.ElideRight, width))
            y += line


class ErrorGalleryView(QListView):
    """Signal: ``relabel_key_pressed()`` for L (opens the "Label as" menu)."""

    relabel_key_pressed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tile_delegate = ErrorGalleryDelegate(self)
        self.setItemDelegate(self.tile_delegate)
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setMovement(QListView.Movement.Static)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setUniformItemSizes(True)
        self.setWrapping(True)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setMouseTracking(True)
        self.setGridSize(self.tile_delegate.cell_size(self.font()))
        self.empty_text = ""

    def selected_face_ids(self) -> list[int]:
        rows = sorted(index.row() for index in self.selectionModel().selectedIndexes())
        return [self.model().index(row, 0).data(FACE_ID_ROLE) for row in rows]

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_L and event.modifiers() == Qt.KeyboardModifier.NoModifier:
            self.relabel_key_pressed.emit()
            return
        super().keyPressEvent(event)

    def keyboardSearch(self, search: str) -> None:
        pass

    def paintEvent(self, event) -> None:
        super().paintEvent(event)
        paint_empty_message(self, self.empty_text)


class ErrorGalleryPanel(QWidget):
    """Signals: ``relabel_requested(face_ids, person_id)``, ``gradcam_toggled(bool)``,
    ``library_requested(title, face_ids)``, ``mode_changed(mode)``."""

    relabel_requested = Signal(list, int)
    gradcam_toggled = Signal(bool)
    library_requested = Signal(str, list)
    mode_changed = Signal(str)

    def __init__(self, model: ErrorGalleryModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self._report: EvaluationReport | None = None
        self._cell: tuple[str, str] | None = None
        self._persons: list[tuple[int, str]] = []
        self.view = ErrorGalleryView()
        self.view.setModel(model)
        self.title_label = QLabel()
        self._shown_title = ""  # what the faces shown are (the label adds their count)
        font = self.title_label.font()
        font.setBold(True)
        self.title_label.setFont(font)
        self.mode_combo = QComboBox()
        self.mode_combo.addItem("Misclassified", MISCLASSIFIED)
        self.mode_combo.addItem("Low confidence", LOW_CONFIDENCE)
        self.mode_combo.addItem("All test faces", ALL_SAMPLES)
        self.threshold_spin = QDoubleSpinBox(prefix="below ", decimals=2, minimum=0.05,
                                             maximum=1.0, singleStep=0.05,
                                             value=DEFAULT_THRESHOLD)
        self.threshold_spin.setToolTip("Show predictions the model was less sure of than this")
        self.gradcam_check = QCheckBox("Grad-CAM")
        self.gradcam_check.setToolTip("Show where the model looks (computed face by face)")
        self.relabel_button = QPushButton("Label as…")
        self.relabel_button.setToolTip("Give the selected faces another person (L); "
                                       "Ctrl+Z undoes it")
        self.relabel_menu = QMenu(self.relabel_button)
        self.relabel_button.setMenu(self.relabel_menu)
        self.library_button = QPushButton("Show in Library")
        self.library_button.setToolTip("Review the selected faces in the Library (all the "
                                       "faces shown when none is selected)")
        self.hint_label = QLabel()
        self.hint_label.setWordWrap(True)  # never wider than the panel
        set_muted(self.hint_label)
        self.legend = HeatLegend("Grad-CAM: low", "high")
        self.legend.setVisible(False)
        self._build_layout()
        self.mode_combo.currentIndexChanged.connect(lambda _: self._on_mode_chosen())
        self.threshold_spin.valueChanged.connect(lambda _: self._on_mode_chosen())
        self.gradcam_check.toggled.connect(self._on_gradcam_toggled)
        self.library_button.clicked.connect(self._request_library)
        self.relabel_menu.aboutToShow.connect(self._fill_relabel_menu)
        self.view.relabel_key_pressed.connect(self.show_relabel_menu)
        self.view.selectionModel().selectionChanged.connect(lambda *_: self._update_buttons())
        self.set_report(None)

    # ------------------------------------------------------------ public API
    def set_report(self, report: EvaluationReport | None) -> None:
        self._report = report
        self._remove_cell_mode()
        self.mode_combo.blockSignals(True)
        self.mode_combo.setCurrentIndex(0)
        self.mode_combo.blockSignals(False)
        self._show_mode()

    @property
    def mode(self) -> str:
        return self.mode_combo.currentData()

    def show_cell(self, true_person: str, predicted_person: str) -> None:
        """Exactly the samples of one confusion-matrix cell."""
        if self._report is None:
            return
        self._cell = (true_person, predicted_person)
        if self.mode_combo.findData(CELL) < 0:
            self.mode_combo.addItem("Confusion cell", CELL)
        self.mode_combo.blockSignals(True)
        self.mode_combo.setCurrentIndex(self.mode_combo.findData(CELL))
        self.mode_combo.blockSignals(False)
        self._show_mode()

    def set_persons(self, persons: Sequence[tuple[int, str]]) -> None:
        self._persons = list(persons)

    def show_relabel_menu(self) -> None:
        if self.view.selected_face_ids():
            rect = self.view.visualRect(self.view.currentIndex())
            self.relabel_menu.popup(self.view.viewport().mapToGlobal(rect.center()))

    def relabel_selected(self, person_id: int) -> None:
        ids = self.view.selected_face_ids()
        if ids:
            self.relabel_requested.emit(ids, person_id)

    def title(self) -> str:
        return self.title_label.text()

    # ------------------------------------------------------------- internals
    def _build_layout(self) -> None:
        # The title has its own line (it wraps): beside the controls, a long one
        # ("Ada Moreno predicted as Farah Haddad · 12") made the panel too wide for a
        # small window and squeezed the metrics beside it.
        self.title_label.setWordWrap(True)
        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.mode_combo)
        top.addWidget(self.threshold_spin)
        top.addWidget(self.gradcam_check)
        top.addStretch(1)
        top.addWidget(self.relabel_button)
        top.addWidget(self.library_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addWidget(self.title_label)
        layout.addLayout(top)
        hints = QHBoxLayout()
        hints.addWidget(self.hint_label, 1)
        hints.addWidget(self.legend)
        layout.addLayout(hints)
        layout.addWidget(self.view, 1)

    def _remove_cell_mode(self) -> None:
        self._cell = None
        index = self.mode_combo.findData(CELL)
        if index >= 0:
            self.mode_combo.blockSignals(True)
            self.mode_combo.removeItem(index)
            self.mode_combo.blockSignals(False)

    def _on_mode_chosen(self) -> None:
        self._show_mode()
        self.mode_changed.emit(self.mode)

    def _show_mode(self) -> None:
        report, mode = self._report, self.mode
        self.threshold_spin.setVisible(mode == LOW_CONFIDENCE)
        if report is None:
            samples, title = [], "Error gallery"
            self.view.empty_text = "Choose an evaluated run to see its mistakes."
        elif mode == CELL and self._cell is not None:
            samples = report.samples_in_cell(*self._cell)
            title = f"{self._cell[0]} predicted as {self._cell[1]}"
            self.view.empty_text = "No test face in this cell."
        elif mode == LOW_CONFIDENCE:
            threshold = self.threshold_spin.value()
            samples = report.low_confidence(threshold)
            title = f"Less than {threshold:.0%} sure"
            self.view.empty_text = "The model was at least this sure of every test face."
        elif mode == ALL_SAMPLES:
            samples = sorted(report.samples, key=lambda s: (s.correct, -s.confidence))
            title = "All test faces"
            self.view.empty_text = "This run has no test faces."
        else:
            samples = report.misclassified()
            title = "Misclassified"
            self.view.empty_text = "No mistakes: every test face was named correctly."
        self.model.set_samples(samples)
        self._shown_title = title
        self.title_label.setText(f"{title} · {len(samples)}")
        self.hint_label.setText("Red frame: wrong, green: right; the white bar is the "
                                "model's confidence. Select faces, then “Label as…” (L) to "
                                "fix a label." if samples else "")
        self._update_buttons()
        self.view.viewport().update()

    def _update_buttons(self) -> None:
        self.relabel_button.setEnabled(bool(self.view.selected_face_ids()))
        self.library_button.setEnabled(self.model.rowCount() > 0)

    def _fill_relabel_menu(self) -> None:
        self.relabel_menu.clear()
        ids = self.view.selected_face_ids()
        predicted = {self.model.sample(self.model.row_of(i)).predicted_person for i in ids
                     if self.model.row_of(i) is not None}
        by_name = {name: pid for pid, name in self._persons}
        if len(predicted) == 1 and next(iter(predicted)) in by_name:
            name = next(iter(predicted))
            action = self.relabel_menu.addAction(f"As predicted: {name}")
            action.triggered.connect(lambda _=False, pid=by_name[name]: self.relabel_selected(pid))
            self.relabel_menu.addSeparator()
        for person_id, name in self._persons:
            action = self.relabel_menu.addAction(name)
            action.triggered.connect(lambda _=False, pid=person_id: self.relabel_selected(pid))

    def _on_gradcam_toggled(self, on: bool) -> None:
        self.legend.setVisible(on)
        self.model.set_show_gradcam(on)
        self.gradcam_toggled.emit(on)

    def _request_library(self) -> None:
        """The selected faces, or every face shown when none is selected."""
        title = self._shown_title
        selected = self.view.selected_face_ids()
        if selected:
            noun = "face" if len(selected) == 1 else "faces"
            self.library_requested.emit(f"{len(selected)} selected {noun} of {title}",
                                        selected)
        elif self.model.rowCount():
            self.library_requested.emit(title, self.model.face_ids())
