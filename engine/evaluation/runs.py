"""Evaluating a project's runs and comparing them on a scoreboard."""

from __future__ import annotations

import logging
from typing import Sequence

from engine.catalog import CatalogError
from engine.data.cache import load_face_tensors
from engine.evaluation.metrics import EvaluationReport, evaluate_predictions
from engine.evaluation.scoreboard import Scoreboard, ScoreboardEntry
from engine.project import Project
from engine.tasks import TaskContext, null_context

log = logging.getLogger(__name__)


def run_checkpoint(project: Project, run_id: str, which: str = "best"):
    record = project.catalog.runs.get(run_id)
    path = project.resolve(record.run_dir) / f"{which}.pt"
    if not path.exists():
        raise CatalogError(f"Run {run_id} has no {which}.pt yet (status {record.status})")
    return path


def evaluate_run(project: Project, run_id: str, subset: str = "test",
                 ctx: TaskContext | None = None, device: str = "auto") -> EvaluationReport:
    """Predict every face of the run's split subset with its best model; store the report."""
    from engine.data.splits import ensure_split
    from engine.training.config import run_alignment
    from engine.training.device import resolve_device
    from engine.training.inference import load_trained_model, predict_probs

    ctx = ctx or null_context()
    catalog = project.catalog
    record = catalog.runs.get(run_id)
    trained = load_trained_model(run_checkpoint(project, run_id), device=resolve_device(device))
    row = catalog.db.conn.execute("SELECT name FROM splits WHERE id = ?",
                                  (record.split_id,)).fetchone()
    if row is None:
        raise CatalogError(f"Run {run_id}'s split was deleted; it cannot be evaluated")
    split = ensure_split(catalog, row[0])
    ids = {p.name: p.id for p in catalog.persons()}
    index_of = {ids[name]: i for i, name in enumerate(trained.class_names) if name in ids}
    # Faces of persons the model never learned cannot be scored against it.
    pairs = [(f, index_of[p]) for f, p in split.subset(subset) if p in index_of]
    if not pairs:
        raise CatalogError(f"The {subset} subset has no faces of the run's persons")
    # The faces framed as the run was trained on them (crops, or aligned chips).
    x = load_face_tensors(project, [f for f, _ in pairs], trained.spec.input_size, ctx,
                          alignment=run_alignment(trained.config))
    probs = predict_probs(trained.model, x, trained.spec,
                          device=next(trained.model.parameters()).device)
    report = evaluate_predictions([label for _, label in pairs], probs, trained.class_names,
                                  sample_ids=[f for f, _ in pairs])
    catalog.runs.store_evaluation(run_id, subset, report.to_dict())
    return report


def stored_report(project: Project, run_id: str, subset: str = "test") -> EvaluationReport | None:
    data = project.catalog.runs.evaluation(run_id, subset)
    return EvaluationReport.from_dict(data) if data else None


def project_scoreboard(project: Project, split_id: int | None = None,
                       run_ids: Sequence[str] | None = None) -> Scoreboard:
    """Evaluated runs (all, or ``run_ids``), grouped by split: only runs on the same
    split compare."""
    board = Scoreboard()
    for record in project.catalog.runs.list(split_id):
        if run_ids is not None and record.id not in run_ids:
            continue
        report = stored_report(project, record.id)
        if report is None or record.split_id is None:
            continue
        board.add(ScoreboardEntry(record.id, record.arch, record.split_id, report))
    return board
