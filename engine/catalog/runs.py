"""Catalog records of training runs, their epochs and evaluations, and of suspicious
labels. Kept apart from catalog.py, which is about photos, faces and labels."""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass
from enum import StrEnum

from engine.catalog.db import CatalogError, Database
from engine.project_lock import pid_alive

log = logging.getLogger(__name__)

class RunStatus(StrEnum):
    """Where a training run stands. A str, so it is stored and compared as its value;
    what each status means (resumable? a model to evaluate?) is decided here, once."""

    RUNNING = "running"
    COMPLETED = "completed"
    EARLY_STOPPED = "early_stopped"
    CANCELLED = "cancelled"
    FAILED = "failed"
    # Its process died (killed, a crash, a power cut) while it was running.
    INTERRUPTED = "interrupted"

    @property
    def finished(self) -> bool:
        return self is not RunStatus.RUNNING

    @property
    def trained_to_the_end(self) -> bool:
        """It ran its planned course (all epochs, or stopped early by design): its best
        model is the run's result and is evaluated on the test faces."""
        return self in (RunStatus.COMPLETED, RunStatus.EARLY_STOPPED)

    @property
    def resumable(self) -> bool:
        """It stopped before its planned end: `resume_run` continues it from its last
        checkpoint, or from epoch 1 when it stopped before saving one. A failed run is one
        (a full disk, a GPU out of memory: its checkpoint is intact, the cause can be fixed)."""
        return self in (RunStatus.CANCELLED, RunStatus.INTERRUPTED, RunStatus.FAILED)

    @property
    def words(self) -> str:
        """As a person reads it."""
        return {RunStatus.RUNNING: "training…", RunStatus.EARLY_STOPPED: "stopped early"}.get(
            self, self.value)


FINISHED_STATUSES = tuple(status.value for status in RunStatus if status.finished)
RESUMABLE_STATUSES = tuple(status.value for status in RunStatus if status.resumable)


def resume_refusal(run_id: str, status: str) -> str | None:
    """Why the run cannot be resumed, in words; None when it can. The one rule the app,
    the CLI and `resume_run` ask."""
    status = RunStatus(status)
    if status.resumable:
        return None
    if status is RunStatus.RUNNING:
        return f"Run {run_id} is training now; it can be resumed once it stops"
    return f"Run {run_id} already finished ({status.words}); nothing to resume"


@dataclass(frozen=True)
class RunRecord:
    id: str
    arch: str
    split_id: int | None
    config: dict
    persons: tuple[str, ...]
    status: RunStatus
    message: str | None
    run_dir: str
    sweep_id: str | None
    created_at: float
    finished_at: float | None
    best_epoch: int | None
    best_val_loss: float | None
    best_val_acc: float | None
    # Catalog ids of ``persons``, same order; None for runs recorded before they were kept.
    person_ids: tuple[int, ...] | None = None

    @property
    def resumable(self) -> bool:
        return resume_refusal(self.id, self.status) is None


@dataclass(frozen=True)
class EpochRecord:
    epoch: int
    train_loss: float
    train_acc: float
    val_loss: float
    val_acc: float
    lr: float
    seconds: float
    images_per_sec: float


@dataclass(frozen=True)
class LabelIssueRecord:
    face_id: int
    score: float
    given_person_id: int | None
    suggested_person_id: int | None
    status: str


def _run_from_row(row) -> RunRecord:
    """The record of a runs row, or CatalogError naming the run when the row holds values
    FaceLab never writes (a damaged or crafted catalog)."""
    try:
        config, persons = json.loads(row["config"]), json.loads(row["persons"])
        person_ids = json.loads(row["person_ids"]) if row["person_ids"] else None
        known_status = row["status"] in RunStatus.__members__.values()
        record = RunRecord(
            id=row["id"], arch=row["arch"], split_id=row["split_id"], config=config,
            persons=tuple(persons),
            status=RunStatus(row["status"]) if known_status else row["status"],
            message=row["message"],
            run_dir=row["run_dir"], sweep_id=row["sweep_id"], created_at=row["created_at"],
            finished_at=row["finished_at"], best_epoch=row["best_epoch"],
            best_val_loss=row["best_val_loss"], best_val_acc=row["best_val_acc"],
            person_ids=tuple(person_ids) if person_ids is not None else None)
        problems = [name for name, ok in (
            ("id", isinstance(record.id, str)), ("arch", isinstance(record.arch, str)),
            ("config", isinstance(config, dict)),
            ("persons", isinstance(persons, list) and all(isinstance(p, str) for p in persons)),
            ("person_ids", person_ids is None or (
                isinstance(person_ids, list) and len(person_ids) == len(persons)
                and all(isinstance(p, int) for p in person_ids))),
            ("status", known_status),
            ("run_dir", isinstance(record.run_dir, str)),
            ("numbers", all(v is None or isinstance(v, (int, float)) for v in (
                record.best_epoch, record.best_val_loss, record.best_val_acc,
                record.created_at, record.finished_at))),
        ) if not ok]
    except (TypeError, ValueError) as error:
        problems = [str(error)]
    if problems:
        raise CatalogError(f"The record of run {row['id']!r} is damaged ({', '.join(problems)}); "
                           "it cannot be used.")
    return record


class RunStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def create(self, *, run_id: str, arch: str, split_id: int | None, config: dict,
               persons: list[str], run_dir: str, sweep_id: str | None = None,
               person_ids: list[int] | None = None) -> RunRecord:
        if person_ids is not None and len(person_ids) != len(persons):
            raise ValueError(f"{len(person_ids)} person ids for {len(persons)} persons")
        with self.db.write() as conn:
            conn.execute(
                """INSERT INTO runs(id, arch, split_id, config, persons, status, run_dir, sweep_id,
                   pid, created_at, person_ids) VALUES (?, ?, ?, ?, ?, 'running', ?, ?, ?, ?, ?)""",
                (run_id, arch, split_id, json.dumps(config), json.dumps(list(persons)), run_dir,
                 sweep_id, os.getpid(), time.time(),
                 json.dumps(list(person_ids)) if person_ids is not None else None))
        return self.get(run_id)

    def get(self, run_id: str) -> RunRecord:
        row = self.db.conn.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            raise CatalogError(f"No run {run_id!r} in this project (see `facelab runs DIR`)")
        return _run_from_row(row)

    def list(self, split_id: int | None = None) -> list[RunRecord]:
        self.mark_dead_runs_interrupted()
        if split_id is None:
            rows = self.db.conn.execute("SELECT * FROM runs ORDER BY created_at")
        else:
            rows = self.db.conn.execute("SELECT * FROM runs WHERE split_id = ? ORDER BY created_at",
                                        (split_id,))
        records = []
        for row in rows:
            try:
                records.append(_run_from_row(row))
            except CatalogError as error:  # one damaged run must not hide the others
                log.warning("%s", error)
        return records

    def set_running(self, run_id: str) -> None:
        with self.db.write() as conn:
            conn.execute("UPDATE runs SET status = 'running', pid = ?, finished_at = NULL, "
                         "message = NULL WHERE id = ?", (os.getpid(), run_id))

    def record_epoch(self, run_id: str, epoch: EpochRecord) -> None:
        with self.db.write() as conn:
            conn.execute(
                """INSERT OR REPLACE INTO run_epochs(run_id, epoch, train_loss, train_acc, val_loss,
                   val_acc, lr, seconds, images_per_sec) VALUES (?,?,?,?,?,?,?,?,?)""",
                (run_id, epoch.epoch, epoch.train_loss, epoch.train_acc, epoch.val_loss,
                 epoch.val_acc, epoch.lr, epoch.seconds, epoch.images_per_sec))

    def epochs(self, run_id: str) -> list[EpochRecord]:
        rows = self.db.conn.execute(
            """SELECT epoch, train_loss, train_acc, val_loss, val_acc, lr, seconds, images_per_sec
               FROM run_epochs WHERE run_id = ? ORDER BY epoch""", (run_id,))
        return [EpochRecord(*r) for r in rows]

    def finish(self, run_id: str, status: str, *, message: str = "", best_epoch: int | None,
               best_val_loss: float | None, best_val_acc: float | None) -> None:
        if status not in FINISHED_STATUSES:
            raise ValueError(f"unknown run status {status!r}")
        with self.db.write() as conn:
            conn.execute(
                """UPDATE runs SET status = ?, message = ?, finished_at = ?, pid = NULL,
                   best_epoch = ?, best_val_loss = ?, best_val_acc = ? WHERE id = ?""",
                (status, message or None, time.time(), best_epoch, best_val_loss, best_val_acc,
                 run_id))

    def mark_dead_runs_interrupted(self) -> None:
        """Runs whose training process died (killed, power cut) can be resumed."""
        dead = [r[0] for r in self.db.conn.execute(
                    "SELECT id, pid FROM runs WHERE status = 'running'").fetchall()
                if not pid_alive(r[1])]
        if dead and not self.db.readonly:
            with self.db.write() as conn:
                conn.executemany("UPDATE runs SET status = 'interrupted', pid = NULL, message = "
                                 "'the training process stopped; resume to continue' "
                                 "WHERE id = ? AND status = 'running'", [(i,) for i in dead])

    def delete(self, run_id: str) -> None:
        with self.db.write() as conn:
            conn.execute("DELETE FROM runs WHERE id = ?", (run_id,))

    # Evaluations -------------------------------------------------------------
    def store_evaluation(self, run_id: str, subset: str, report: dict) -> None:
        with self.db.write() as conn:
            conn.execute("""INSERT OR REPLACE INTO run_evaluations(run_id, subset, report, created_at)
                            VALUES (?, ?, ?, ?)""", (run_id, subset, json.dumps(report), time.time()))

    def evaluation(self, run_id: str, subset: str = "test") -> dict | None:
        row = self.db.conn.execute(
            "SELECT report FROM run_evaluations WHERE run_id = ? AND subset = ?",
            (run_id, subset)).fetchone()
        return json.loads(row[0]) if row else None

    # Suspicious labels -------------------------------------------------------
    def replace_label_issues(self, issues: list[tuple[int, float, int | None, int | None]]) -> None:
        """Store a new ranking (face_id, score, given, suggested); user verdicts on faces
        that are still suspicious are kept."""
        now = time.time()
        with self.db.write() as conn:
            verdicts = dict(conn.execute(
                "SELECT face_id, status FROM label_issues WHERE status != 'suspicious'").fetchall())
            conn.execute("DELETE FROM label_issues")
            conn.executemany(
                """INSERT INTO label_issues(face_id, score, given_person_id, suggested_person_id,
                   status, found_at) VALUES (?, ?, ?, ?, ?, ?)""",
                [(f, s, g, sug, verdicts.get(f, "suspicious"), now) for f, s, g, sug in issues])

    def label_issues(self, status: str | None = "suspicious") -> list[LabelIssueRecord]:
        sql = "SELECT face_id, score, given_person_id, suggested_person_id, status FROM label_issues"
        args: tuple = ()
        if status is not None:
            sql += " WHERE status = ?"
            args = (status,)
        return [LabelIssueRecord(*r) for r in self.db.conn.execute(sql + " ORDER BY score DESC",
                                                                   args)]

    def set_label_issue_status(self, face_id: int, status: str) -> None:
        with self.db.write() as conn:
            conn.execute("UPDATE label_issues SET status = ? WHERE face_id = ?", (status, face_id))
