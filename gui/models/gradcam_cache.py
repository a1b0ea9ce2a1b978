"""Grad-CAM overlays of one run's faces, computed in jobs and kept as pixmaps.

One job at a time, newest request first (the faces the user looks at now), like the
thumbnail loader: Grad-CAM hooks the model and writes its gradients, so two faces
must never be explained on the same model at once. Results arrive as QImage and
become QPixmap here, on the UI thread.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QPixmap

from gui.jobs import JobHandle, JobRunner
from gui.jobs.evaluation_jobs import GradCamImage, gradcam

MAX_PENDING = 200


class GradCamCache(QObject):
    """Signals: ``overlay_ready(face_id)``, ``overlay_failed(face_id, message)``."""

    overlay_ready = Signal(int)
    overlay_failed = Signal(int, str)

    def __init__(self, runner: JobRunner, root: Path, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._runner = runner
        self._root = root
        self._run_id: str | None = None
        self._pixmaps: dict[int, QPixmap] = {}
        self._results: dict[int, GradCamImage] = {}
        self._failed: dict[int, str] = {}
        self._pending: OrderedDict[int, None] = OrderedDict()  # newest at the end
        self._job: JobHandle | None = None

    @property
    def run_id(self) -> str | None:
        return self._run_id

    def set_run(self, run_id: str | None) -> None:
        """Another run: forget every overlay and stop asking for the old run's."""
        if run_id == self._run_id:
            return
        self._run_id = run_id
        self._pixmaps.clear()
        self._results.clear()
        self._failed.clear()
        self._pending.clear()
        if self._job is not None:
            self._job.cancel()

    def pixmap(self, face_id: int) -> QPixmap | None:
        """The overlay when computed; otherwise None after queueing it."""
        found = self._pixmaps.get(face_id)
        if found is None and self._run_id is not None and face_id not in self._failed:
            self._pending.pop(face_id, None)
            self._pending[face_id] = None
            while len(self._pending) > MAX_PENDING:
                self._pending.popitem(last=False)
            self._start_next()
        return found

    def result(self, face_id: int) -> GradCamImage | None:
        return self._results.get(face_id)

    def error(self, face_id: int) -> str | None:
        return self._failed.get(face_id)

    def is_busy(self) -> bool:
        return self._job is not None or bool(self._pending)

    def cancel_pending(self) -> None:
        self._pending.clear()

    def _start_next(self) -> None:
        if self._job is not None or self._run_id is None:
            return
        face_id = None
        while self._pending and face_id is None:
            newest, _ = self._pending.popitem(last=True)
            face_id = None if newest in self._pixmaps else newest
        if face_id is None:
            return
        job = self._runner.submit(gradcam(self._root, self._run_id, face_id),
                                  title=f"Grad-CAM of face {face_id}", quiet=True)
        run_id = self._run_id
        job.succeeded.connect(self._on_succeeded)
        job.failed.connect(lambda message, _details: self._on_failed(run_id, face_id, message))
        job.finished.connect(self._on_finished)
        self._job = job

    def _on_succeeded(self, result: GradCamImage) -> None:
        if result.run_id != self._run_id:
            return
        self._pixmaps[result.face_id] = QPixmap.fromImage(result.image)
        self._results[result.face_id] = result
        self.overlay_ready.emit(result.face_id)

    def _on_failed(self, run_id: str, face_id: int, message: str) -> None:
        if run_id == self._run_id:
            self._failed[face_id] = message
            self.overlay_failed.emit(face_id, message)

    def _on_finished(self) -> None:
        self._job = None
        self._start_next()
