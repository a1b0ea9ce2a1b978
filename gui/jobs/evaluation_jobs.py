"""Job functions of the Evaluate page: plain ``fn(ctx)`` callables for the JobRunner.

Each opens its own Project on the worker thread (its own catalog connection) and
returns plain, immutable data: the engine's frozen dataclasses, ids, strings, and
QImage for pictures (QPixmap is made on the UI thread). Engine modules that pull in
sklearn or torch are imported inside the functions, never when the window starts.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtGui import QImage

from engine.project import Project
from engine.tasks import TaskContext

if TYPE_CHECKING:
    from engine.evaluation.metrics import EvaluationReport
    from engine.evaluation.scoreboard import ScoreboardRow, Standings


@dataclass(frozen=True)
class RunResults:
    """What the page shows for one run: its report (None: not evaluated yet), the
    scoreboard seen from it (the runs scored on the same test faces, ranked, and the
    others with why they do not compare) and the notes for the reader (an evaluation
    older than the test set, persons the run does not cover)."""
    run_id: str
    report: EvaluationReport | None
    standings: Standings
    messages: tuple[str, ...] = ()
    stale: str = ""

    @property
    def scoreboard(self) -> tuple[ScoreboardRow, ...]:
        return self.standings.rows


@dataclass(frozen=True)
class GradCamImage:
    run_id: str
    face_id: int
    image: QImage            # the overlay, RGB
    predicted_person: str
    confidence: float
    flat: bool = False       # no region stands out (engine.evaluation.gradcam.FLAT_MESSAGE)


def load_run_results(root: Path, run_id: str):
    def job(ctx: TaskContext) -> RunResults:
        with Project.open(root) as project:
            return _results(project, run_id)
    return job


def evaluate(root: Path, run_id: str):
    """Score the run's best model on its test faces and store the report."""
    def job(ctx: TaskContext) -> RunResults:
        from engine.evaluation.runs import evaluate_run

        with Project.open(root) as project:
            evaluate_run(project, run_id, ctx=ctx)
            return _results(project, run_id)
    return job


def _results(project: Project, run_id: str) -> RunResults:
    from engine.evaluation.runs import run_standing

    standing = run_standing(project, run_id)
    return RunResults(run_id, standing.report, standing.standings, standing.messages(),
                      standing.stale)


def gradcam(root: Path, run_id: str, face_id: int):
    """Grad-CAM of the run's best model on one face, for the person it predicts."""
    def job(ctx: TaskContext) -> GradCamImage:
        from engine.evaluation.explain import face_gradcam

        with Project.open(root) as project:
            result, persons = face_gradcam(project, run_id, face_id)
        return GradCamImage(run_id, face_id, rgb_image(result.overlay),
                            persons[result.predicted_index], result.confidence, result.flat)
    return job


def rgb_image(rgb: np.ndarray) -> QImage:
    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    height, width = rgb.shape[:2]
    # .copy(): the QImage must own its pixels once the array is gone.
    return QImage(rgb.data, width, height, 3 * width, QImage.Format.Format_RGB888).copy()


def export_model(root: Path, run_id: str, file_format: str, out_path: str):
    def job(ctx: TaskContext):
        from engine.inference.export_run import export_run

        ctx.report("export", 0, 1, f"exporting to {file_format}")
        with Project.open(root) as project:
            return export_run(project, run_id, file_format, out_path)
    return job


def lab_report(root: Path, run_id: str, out_path: str):
    def job(ctx: TaskContext) -> Path:
        from engine.evaluation.report import write_lab_report

        with Project.open(root) as project:
            return write_lab_report(project, run_id, out_path, ctx=ctx)
    return job


def find_mistakes(root: Path, folds: int = 5, method: str = "quick"):
    """Rank suspicious labels (stored in the catalog); returns how many were found."""
    def job(ctx: TaskContext) -> int:
        from engine.evaluation.mistakes import find_label_mistakes

        with Project.open(root) as project:
            return len(find_label_mistakes(project, folds=folds, method=method, ctx=ctx))
    return job
