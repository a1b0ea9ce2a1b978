"""The error gallery's item model: test samples of one run (its mistakes, its unsure
predictions, or one confusion-matrix cell), each with its thumbnail or Grad-CAM
overlay, true and predicted person, confidence, and the label the face has *now*.

The report is a snapshot of the labels at evaluation time; relabelling a face here
changes the catalog, so the model reads the current labels too and a relabelled face
says so (an undo puts it back). Rows stay where they are when a label changes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable, Sequence

from PySide6.QtCore import QAbstractListModel, QModelIndex, QObject, QPersistentModelIndex, Qt

from engine.catalog import Catalog, Face
from engine.display import confidence_text
from engine.evaluation.heatmap import FLAT_MESSAGE
from gui.models.face_grid import contiguous_runs
from gui.models.gradcam_cache import GradCamCache
from gui.models.thumbnails import ThumbnailCache

if TYPE_CHECKING:
    from engine.evaluation.metrics import SamplePrediction

FACE_ID_ROLE = Qt.ItemDataRole.UserRole + 1
SAMPLE_ROLE = Qt.ItemDataRole.UserRole + 2         # the SamplePrediction
CURRENT_LABEL_ROLE = Qt.ItemDataRole.UserRole + 3  # the person's name now, or None
RELABELLED_ROLE = Qt.ItemDataRole.UserRole + 4     # labelled otherwise than when evaluated
GRADCAM_STATE_ROLE = Qt.ItemDataRole.UserRole + 5  # None | pending | ready | flat | failed

_Index = QModelIndex | QPersistentModelIndex


class ErrorGalleryModel(QAbstractListModel):
    def __init__(self, catalog: Catalog, thumbnails: ThumbnailCache, gradcams: GradCamCache,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._catalog = catalog
        self._root = catalog.path.parent
        self._thumbnails = thumbnails
        self._gradcams = gradcams
        self._samples: list[SamplePrediction] = []
        self._row_of: dict[int, int] = {}
        self._faces: dict[int, Face] = {}
        self._names: dict[int, str] = {}
        self._show_gradcam = False
        self._placeholder = None
        thumbnails.thumbnail_ready.connect(self._on_picture_ready)
        gradcams.overlay_ready.connect(self._on_picture_ready)
        gradcams.overlay_failed.connect(lambda face_id, _message: self._on_picture_ready(face_id))

    # ------------------------------------------------------------- population
    def set_samples(self, samples: Sequence[SamplePrediction]) -> None:
        self.beginResetModel()
        self._samples = list(samples)
        self._row_of = {s.sample_id: row for row, s in enumerate(self._samples)}
        self._faces = {f.id: f for f in self._catalog.faces_by_ids(list(self._row_of))}
        self.endResetModel()

    def set_person_names(self, names: dict[int, str]) -> None:
        if names != self._names:
            self._names = dict(names)
            self._emit_all([Qt.ItemDataRole.DisplayRole, CURRENT_LABEL_ROLE, RELABELLED_ROLE])

    def set_show_gradcam(self, show: bool) -> None:
        if show != self._show_gradcam:
            self._show_gradcam = show
            self._emit_all([Qt.ItemDataRole.DecorationRole, GRADCAM_STATE_ROLE])

    @property
    def show_gradcam(self) -> bool:
        return self._show_gradcam

    def set_placeholder(self, pixmap) -> None:
        self._placeholder = pixmap

    def refresh_faces(self, face_ids: Iterable[int]) -> None:
        """Labels of these faces changed: re-read them, repaint their rows."""
        ids = [i for i in face_ids if i in self._row_of]
        for face in self._catalog.faces_by_ids(ids):
            self._faces[face.id] = face
        for first, last in contiguous_runs(sorted(self._row_of[i] for i in ids)):
            self.dataChanged.emit(self.index(first), self.index(last))

    # -------------------------------------------------------------- accessors
    def samples(self) -> list[SamplePrediction]:
        return list(self._samples)

    def face_ids(self) -> list[int]:
        return [s.sample_id for s in self._samples]

    def sample(self, row: int) -> SamplePrediction:
        return self._samples[row]

    def row_of(self, face_id: int) -> int | None:
        return self._row_of.get(face_id)

    def current_label(self, face_id: int) -> str | None:
        face = self._faces.get(face_id)
        return self._names.get(face.person_id) if face and face.person_id is not None else None

    # --------------------------------------------------------- the Qt model API
    def rowCount(self, parent: _Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._samples)

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or not 0 <= index.row() < len(self._samples):
            return None
        sample = self._samples[index.row()]
        face_id = sample.sample_id
        if role == Qt.ItemDataRole.DisplayRole:
            return f"{sample.true_person} → {sample.predicted_person}"
        if role == Qt.ItemDataRole.DecorationRole:
            return self._picture(face_id)
        if role == FACE_ID_ROLE:
            return face_id
        if role == SAMPLE_ROLE:
            return sample
        if role == CURRENT_LABEL_ROLE:
            return self.current_label(face_id)
        if role == RELABELLED_ROLE:
            return self._relabelled(sample)
        if role == GRADCAM_STATE_ROLE:
            return self._gradcam_state(face_id)
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(sample)
        return None

    def flags(self, index: _Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | \
            Qt.ItemFlag.ItemNeverHasChildren

    # ---------------------------------------------------------------- helpers
    def _picture(self, face_id: int):
        if self._show_gradcam:
            overlay = self._gradcams.pixmap(face_id)
            if overlay is not None:
                return overlay
        face = self._faces.get(face_id)
        if face is None:
            return self._placeholder
        pixmap = self._thumbnails.face_pixmap(face, self._root)
        return pixmap if pixmap is not None else self._placeholder

    def _gradcam_state(self, face_id: int) -> str | None:
        if not self._show_gradcam:
            return None
        if self._gradcams.error(face_id) is not None:
            return "failed"
        result = self._gradcams.result(face_id)
        if result is None:
            return "pending"
        return "flat" if result.flat else "ready"

    def _relabelled(self, sample: SamplePrediction) -> bool:
        face = self._faces.get(sample.sample_id)
        if face is None:
            return False
        return self._names.get(face.person_id) != sample.true_person

    def _tooltip(self, sample: SamplePrediction) -> str:
        lines = [f"True person: {sample.true_person}",
                 f"Predicted: {sample.predicted_person} ({confidence_text(sample.confidence)} sure)"]
        if self._relabelled(sample):
            now = self.current_label(sample.sample_id)
            lines.append(f"Labelled {now} since the evaluation" if now else
                         "Unlabelled since the evaluation")
        error = self._gradcams.error(sample.sample_id) if self._show_gradcam else None
        if error:
            lines.append(f"Grad-CAM failed: {error}")
        result = self._gradcams.result(sample.sample_id) if self._show_gradcam else None
        if result is not None and result.flat:
            lines.append(FLAT_MESSAGE)
        lines.append(f"face #{sample.sample_id}")
        return "\n".join(lines)

    def _emit_all(self, roles: list[int]) -> None:
        if self._samples:
            self.dataChanged.emit(self.index(0), self.index(len(self._samples) - 1), roles)

    def _on_picture_ready(self, face_id: int) -> None:
        row = self._row_of.get(face_id)
        if row is not None:
            index = self.index(row)
            self.dataChanged.emit(index, index, [Qt.ItemDataRole.DecorationRole,
                                                 GRADCAM_STATE_ROLE])
