"""Evaluating a project's runs and comparing them on a scoreboard.

A project changes after a run was trained: faces are imported (the stored split
takes them in), persons are added, renamed, merged or deleted, faces relabelled.
Every run must still evaluate, report and show on the scoreboard. :func:`run_scope`
says what evaluating a run scores today and what it leaves out (persons it never
learned, persons gone since), and whether its stored evaluation still matches the
test set; the scoreboard ranks only what compares (engine.evaluation.scoreboard).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Sequence

from engine.catalog import CatalogError, RunRecord
from engine.data.cache import load_face_tensors
from engine.data.splits import SplitData, run_split
from engine.evaluation.metrics import EvaluationReport, evaluate_predictions
from engine.evaluation.scoreboard import Scoreboard, ScoreboardEntry, Standings
from engine.project import Project
from engine.tasks import TaskContext, null_context
from engine.training.run_persons import RunPersons, match_run_persons

log = logging.getLogger(__name__)


def run_checkpoint(project: Project, run_id: str, which: str = "best"):
    record = project.catalog.runs.get(run_id)
    path = project.resolve_inside(record.run_dir) / f"{which}.pt"
    if not path.exists():
        raise CatalogError(f"Run {run_id} has no {which}.pt yet (status {record.status})")
    return path


def _listing(names: Sequence[str]) -> str:
    names = list(names)
    if len(names) <= 1:
        return "".join(names)
    if len(names) > 4:
        return ", ".join(names[:3]) + f" and {len(names) - 3} others"
    return ", ".join(names[:-1]) + " and " + names[-1]


@dataclass(frozen=True)
class RunScope:
    """What evaluating a run on one subset of its split scores today."""
    run_id: str
    subset: str
    persons: RunPersons                    # the model's outputs, matched to the project now
    project_persons: tuple[str, ...]       # persons with labelled faces in the split now
    unknown: tuple[str, ...]               # of those, the ones the run never learned
    unscored_faces: int                    # the subset's faces of the unknown persons
    pairs: tuple[tuple[int, int], ...]     # (face id, output index) that would be scored

    def notes(self) -> tuple[str, ...]:
        """Sentences for the reader: persons the run does not cover, persons gone."""
        notes = []
        if self.unknown:
            known = len(self.project_persons) - len(self.unknown)
            whose = "faces" if self.unscored_faces != 1 else "face"
            notes.append(f"Trained on {known} of the project's {len(self.project_persons)} "
                         f"persons: the {self.unscored_faces} {self.subset} {whose} of "
                         f"{_listing(self.unknown)} are not scored. Train a new run to "
                         "include them.")
        gone = self.persons.gone()
        if gone:
            notes.append(f"{_listing(gone)} {'is' if len(gone) == 1 else 'are'} no longer in "
                         "the project (deleted or merged) but the model still knows "
                         f"{'that person' if len(gone) == 1 else 'them'}: its predictions "
                         "of them count as mistakes.")
        return tuple(notes)

    def changes_since(self, report: EvaluationReport) -> str:
        """"" when ``report`` scored exactly the faces and labels evaluating would score
        now; else what changed since, e.g. "test faces changed since: 7 added"."""
        if not report.samples:  # a summary-only report: nothing to compare against
            return ""
        before = {s.sample_id: s.true_index for s in report.samples}
        now = dict(self.pairs)
        added = sum(1 for f in now if f not in before)
        removed = sum(1 for f in before if f not in now)
        relabelled = sum(1 for f, k in now.items() if f in before and before[f] != k)
        parts = [f"{count} {what}" for count, what in ((added, "added"),
                                                        (relabelled, "relabelled"),
                                                        (removed, "removed")) if count]
        return f"{self.subset} faces changed since: {', '.join(parts)}" if parts else ""


def run_scope(project: Project, record: RunRecord, subset: str = "test", *,
              store: bool = False, split: SplitData | None = None) -> RunScope:
    """What evaluating ``record`` on ``subset`` of its split scores today. ``store``:
    save the split's new members (evaluating does; views only read). ``split`` may be
    passed when the caller already read it (the scoreboard, for many runs)."""
    catalog = project.catalog
    if split is None:
        split = run_split(catalog, record.split_id, store=store)
    if split is None:
        raise CatalogError(f"Run {record.id}'s split was deleted; it cannot be evaluated")
    persons = match_run_persons(catalog, record)
    index_of = persons.index_of()
    names = {p.id: p.name for p in catalog.persons()}
    in_split = {pid for s in ("train", "val", "test") for _, pid in split.subset(s)}
    unknown_ids = sorted((pid for pid in in_split if pid not in index_of),
                         key=lambda pid: names[pid].casefold())
    faces = split.subset(subset)
    return RunScope(
        record.id, subset, persons,
        tuple(sorted((names[pid] for pid in in_split), key=str.casefold)),
        tuple(names[pid] for pid in unknown_ids),
        sum(1 for _, pid in faces if pid not in index_of),
        tuple((f, index_of[pid]) for f, pid in faces if pid in index_of))


def evaluate_run(project: Project, run_id: str, subset: str = "test",
                 ctx: TaskContext | None = None, device: str = "auto") -> EvaluationReport:
    """Predict every face of the run's split subset with its best model; store the report.

    Faces are scored against the persons the run learned, matched to the project as it
    is now (renamed persons keep their faces and show their new name); faces of persons
    the run never learned cannot be scored against it and are left out (see
    :meth:`RunScope.notes`). They are framed as the run was trained on them (crops, or
    aligned chips).
    """
    from engine.training.config import run_alignment
    from engine.training.device import resolve_device
    from engine.training.inference import load_trained_model, predict_probs

    ctx = ctx or null_context()
    catalog = project.catalog
    record = catalog.runs.get(run_id)
    trained = load_trained_model(run_checkpoint(project, run_id), device=resolve_device(device))
    scope = run_scope(project, record, subset, store=True)
    if tuple(trained.class_names) != scope.persons.trained_names:
        raise CatalogError(f"Run {run_id}'s model names other persons than its record "
                           f"({', '.join(trained.class_names)}); it cannot be evaluated")
    if not scope.pairs:
        raise CatalogError(f"The {subset} faces include none of the persons run {run_id} "
                           f"learned ({_listing(scope.persons.names)}), so there is nothing "
                           "to score it on.")
    x = load_face_tensors(project, [f for f, _ in scope.pairs], trained.spec.input_size, ctx,
                          alignment=run_alignment(trained.config))
    probs = predict_probs(trained.model, x, trained.spec,
                          device=next(trained.model.parameters()).device)
    report = evaluate_predictions([k for _, k in scope.pairs], probs, scope.persons.names,
                                  sample_ids=[f for f, _ in scope.pairs])
    catalog.runs.store_evaluation(run_id, subset, report.to_dict())
    return report


def stored_report(project: Project, run_id: str, subset: str = "test") -> EvaluationReport | None:
    data = project.catalog.runs.evaluation(run_id, subset)
    return EvaluationReport.from_dict(data) if data else None


def current_report(project: Project, run_id: str, ctx: TaskContext | None = None
                   ) -> EvaluationReport:
    """The run's test report for the test set as it is now: the stored one while it still
    matches, else a new evaluation (stored in turn)."""
    report = stored_report(project, run_id)
    if report is not None:
        record = project.catalog.runs.get(run_id)
        if not run_scope(project, record).changes_since(report):
            return report
    return evaluate_run(project, run_id, ctx=ctx)


@dataclass(frozen=True)
class RunStanding:
    """One run as the Evaluate page, `facelab evaluate` and the report show it: its
    stored report (None: not evaluated), notes on what it covers, whether that report
    is older than the test set, and the scoreboard seen from it."""
    run_id: str
    report: EvaluationReport | None
    notes: tuple[str, ...]
    stale: str
    standings: Standings

    def messages(self) -> tuple[str, ...]:
        """Every note for the reader, the stale evaluation first."""
        stale = (f"This evaluation is older than the test set ({self.stale}); re-evaluate "
                 "to score the current test faces and rank it with the newer runs.",) \
            if self.stale else ()
        return stale + self.notes


def run_standing(project: Project, run_id: str) -> RunStanding:
    """Reads only: safe on a read-only project and beside a training job."""
    record = project.catalog.runs.get(run_id)
    report = stored_report(project, run_id)
    board = project_scoreboard(project)
    try:
        scope = run_scope(project, record)
    except CatalogError as exc:  # the split is gone: the stored report is all there is
        return RunStanding(run_id, report, (str(exc),), "", board.standings(run_id))
    stale = scope.changes_since(report) if report is not None else ""
    return RunStanding(run_id, report, scope.notes(), stale, board.standings(run_id))


def project_scoreboard(project: Project, run_ids: Sequence[str] | None = None) -> Scoreboard:
    """Evaluated runs (all, or ``run_ids``), oldest first, each flagged when its stored
    evaluation is older than the test set. Reads only."""
    board = Scoreboard()
    splits: dict[int, SplitData | None] = {}
    for record in project.catalog.runs.list():
        if run_ids is not None and record.id not in run_ids:
            continue
        report = stored_report(project, record.id)
        if report is None or record.split_id is None:
            continue
        if record.split_id not in splits:
            splits[record.split_id] = run_split(project.catalog, record.split_id, store=False)
        split = splits[record.split_id]
        stale = "" if split is None else \
            run_scope(project, record, split=split).changes_since(report)
        board.add(ScoreboardEntry(record.id, record.arch, record.split_id, report, stale))
    return board
