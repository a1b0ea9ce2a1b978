"""Crash safety: a bulk relabel, an import + crop and a training run are SIGKILLed at
seeded random points. After every kill the catalog passes SQLite's integrity check,
everything the child reported committed is there, and the same command resumes where
it stopped (the import without duplicates, training from its last checkpoint).

Extends tests/engine/ingest/test_real_photos.py::test_killed_crop_resumes_without_duplicates
(one kill of a crop of real photos) to several kills of each kind of write.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine.project import Project
from tests.gui.conftest import add_faces
from tests.imagegen import gradient, save
from tests.reliability.helpers import report
from tests.reliability.processes import Child, count, integrity
from tests.reliability.synthetic import TINY_ARCH, labelled_project

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(os.name != "posix", reason="SIGKILL and a fork server")]


# ------------------------------------------------------------------ bulk relabel
def _labels(project: Project) -> dict[int, int | None]:
    return dict(project.catalog.db.conn.execute(
        "SELECT f.id, l.person_id FROM faces f LEFT JOIN face_labels l ON l.face_id = f.id"))


def _committed(lines: list[str]) -> list[tuple[int, int | None, list[int]]]:
    out = []
    for line in lines:
        if line.startswith("committed "):
            _, action, person, ids = line.split(" ", 3)
            out.append((int(action), None if person == "-" else int(person),
                        [int(i) for i in ids.split(",")]))
    return out


def _replay(state: dict, actions) -> dict:
    state = dict(state)
    for _, person, faces in actions:
        for face in faces:
            state[face] = person
    return state


def test_killed_bulk_relabels_keep_every_committed_label(tmp_path, capsys):
    root = tmp_path / "project"
    with Project.create(root) as project:
        add_faces(project, 2_000, person="Ann", per_photo=2, tag="r")
        for name in ("Bo", "Cy", "Di"):
            project.catalog.ensure_person(name)
    rng = random.Random(20_240_611)
    kills, actions_kept = 4, 0
    for kill in range(kills):
        with Project.open(root) as project:
            before = _labels(project)
            last_action = project.catalog.db.conn.execute(
                "SELECT COALESCE(MAX(id), 0) FROM label_actions WHERE undone = 0").fetchone()[0]
        child = Child(["-m", "tests.reliability.child", "relabel", root, kill, 100_000],
                      tmp_path / f"relabel-{kill}.log")
        child.wait_for("ready", timeout=60)
        time.sleep(rng.uniform(0.05, 0.8))
        assert child.kill(), "the relabel ended before it was killed"
        printed = _committed(child.lines)
        assert printed, "the kill came before any action was committed"

        assert integrity(root / "catalog.sqlite") == ("ok", [])
        with Project.open(root) as project:
            conn = project.catalog.db.conn
            stored = [r[0] for r in conn.execute(
                "SELECT id FROM label_actions WHERE id > ? ORDER BY id", (last_action,))]
            # Every reported action is there, in order; at most the one in flight beyond.
            assert stored[:len(printed)] == [a for a, _, _ in printed]
            assert len(stored) - len(printed) <= 1, (stored, printed)
            actions = list(printed)
            if len(stored) > len(printed):  # committed just before the kill, not reported
                changes = conn.execute("SELECT face_id, new_person_id FROM label_changes "
                                       "WHERE action_id = ?", (stored[-1],)).fetchall()
                person = {p for _, p in changes}.pop()
                actions.append((stored[-1], person, [f for f, _ in changes]))
            assert _labels(project) == _replay(before, actions)
            # The undo history survived too: undoing the last action restores its faces.
            undone = project.catalog.undo()
            assert undone.action_id == actions[-1][0]
            assert _labels(project) == _replay(before, actions[:-1])
        actions_kept += len(actions)
    report(capsys, f"crash safety, bulk relabel: {kills}/{kills} SIGKILLs survived, "
                   f"{actions_kept} committed relabel actions all kept, integrity ok")


# ---------------------------------------------------------------- import + crop
PERSONS, PER_PERSON = 4, 60


def _photo_folder(folder: Path) -> Path:
    for p in range(PERSONS):
        for i in range(PER_PERSON):
            save(folder / f"person{p}" / f"{i:03d}.jpg", gradient(64, 48, seed=p * 1000 + i),
                 "JPEG", quality=90)
    return folder


def _check_consistent(root: Path) -> dict:
    """Invariants that hold at any kill point; returns the counts."""
    assert integrity(root / "catalog.sqlite") == ("ok", [])
    with Project.open(root, readonly=True) as project:
        one = lambda sql: project.catalog.db.conn.execute(sql).fetchone()[0]  # noqa: E731
        counts = {
            "photos": one("SELECT COUNT(*) FROM photos"),
            "distinct": one("SELECT COUNT(DISTINCT sha256) FROM photos"),
            "done": one("SELECT COUNT(*) FROM photos WHERE status != 'pending'"),
            "faces": one("SELECT COUNT(*) FROM faces"),
            "labelled": one("SELECT COUNT(*) FROM face_labels"),
            "faces_of_pending": one("""SELECT COUNT(*) FROM faces f JOIN photos p
                                       ON p.id = f.photo_id WHERE p.status = 'pending'"""),
            "photos_with_two": one("""SELECT COUNT(*) FROM (SELECT photo_id FROM faces
                                      GROUP BY photo_id HAVING COUNT(*) > 1)"""),
        }
    assert counts["photos"] == counts["distinct"] <= PERSONS * PER_PERSON
    # Each cropped photo holds exactly its one sample, labelled once; pending ones none.
    assert counts["faces"] == counts["labelled"] == counts["done"], counts
    assert counts["faces_of_pending"] == counts["photos_with_two"] == 0, counts
    return counts


def test_killed_import_and_crop_resume_without_duplicates(tmp_path, forkserver, capsys):
    photos = _photo_folder(tmp_path / "photos")
    root = tmp_path / "project"
    Project.create(root).close()
    command = ["facelab", "import", root, photos, "--labels-from-folders", "--crop",
               "--detector", "haar", "--workers", "1"]
    catalog = root / "catalog.sqlite"
    rng = random.Random(7)
    total = PERSONS * PER_PERSON
    # (what to watch, the count at which to kill): once while importing, twice cropping.
    plan = [("SELECT COUNT(*) FROM photos", rng.randint(20, 200)),
            ("SELECT COUNT(*) FROM photos WHERE status != 'pending'", rng.randint(10, 100)),
            ("SELECT COUNT(*) FROM photos WHERE status != 'pending'", rng.randint(110, 220))]
    killed_at = []
    for n, (sql, at) in enumerate(plan):
        child = forkserver.start(command, tmp_path / f"import-{n}.log")
        deadline = time.monotonic() + 180
        while count(catalog, sql) < at and child.running:
            assert time.monotonic() < deadline, child.stderr_tail()
            time.sleep(0.005)
        time.sleep(rng.uniform(0, 0.02))
        assert child.kill(), f"the import ended before the kill at {at}\n{child.stderr_tail()}"
        counts = _check_consistent(root)
        assert counts["done"] < total, "the kill should land before the end"
        killed_at.append((counts["photos"], counts["done"]))

    final = forkserver.start(command, tmp_path / "import-final.log")
    assert final.finish() == 0, final.stderr_tail()
    counts = _check_consistent(root)
    assert counts["photos"] == counts["done"] == counts["faces"] == total
    with Project.open(root, readonly=True) as project:
        assert project.catalog.person_counts() == {f"person{p}": PER_PERSON
                                                   for p in range(PERSONS)}
        used = {project.resolve(f.crop_path) for f in project.catalog.faces()}
    crops = {p for p in (root / "crops").rglob("*.jpg") if not p.name.startswith(".")}
    assert crops == used  # no orphan crop from a killed run, none missing
    report(capsys, f"crash safety, import + crop: {len(plan)}/{len(plan)} SIGKILLs survived "
                   f"(killed at photos imported/cropped {killed_at}); resumed to {total} "
                   "photos, no duplicates, integrity ok")


# --------------------------------------------------------------------- training
def _checkpoint_epoch(run_dir: Path) -> int:
    from engine.training.checkpoint import load_checkpoint

    last = run_dir / "last.pt"
    return int(load_checkpoint(last)["epoch"]) if last.exists() else 0


def test_killed_training_resumes_from_its_last_checkpoint(tmp_path, tiny_arch, forkserver,
                                                         capsys):
    from engine.training.events import RunStarted
    from engine.training.runner import resume_run

    root = labelled_project(tmp_path / "project")
    epochs = 12
    train = ["facelab", "train", root, "--arch", TINY_ARCH, "--epochs", epochs,
             "--batch-size", 8, "--augment", "none", "--early-stopping", 0, "--device", "cpu"]
    rng = random.Random(11)
    run_id, kills, resumed_from = None, 3, []
    for n in range(kills):
        run_dir = root / "runs" / (run_id or "none")
        expected_start = _checkpoint_epoch(run_dir)
        args = train if run_id is None else ["facelab", "resume", root, "--run", run_id]
        child = forkserver.start(args, tmp_path / f"train-{n}.log")
        _, run_id, start = child.wait_for("started").split()
        run_dir = root / "runs" / run_id
        assert int(start) == expected_start  # resumed from the last checkpoint on disk
        resumed_from.append(int(start))
        for _ in range(rng.randint(0, 2)):  # a few epochs, then anywhere in the next one
            child.wait_for("saved")
        time.sleep(rng.uniform(0, 0.2))
        assert child.kill(), "training ended before the kill"
        saved = [int(line.split()[1]) for line in child.lines if line.startswith("saved ")]

        assert integrity(root / "catalog.sqlite") == ("ok", [])
        with Project.open(root) as project:
            statuses = {r.id: r.status for r in project.catalog.runs.list()}
            assert statuses == {run_id: "interrupted"}  # a dead process' run, resumable
        # A reported checkpoint is never lost, nor half-written (it loads).
        assert _checkpoint_epoch(run_dir) >= max(saved, default=0)

    expected_start = _checkpoint_epoch(run_dir)
    events = []
    with Project.open(root) as project:
        result = resume_run(project, run_id, callbacks=[events.append])
        assert result.finished.status == "completed", result.finished.message
        assert [e.epoch for e in project.catalog.runs.epochs(run_id)] == list(
            range(1, epochs + 1))
        assert result.report is not None  # evaluated on the test split
    started = next(e for e in events if isinstance(e, RunStarted))
    assert started.start_epoch == expected_start
    assert _checkpoint_epoch(run_dir) == epochs
    assert not [p.name for p in run_dir.iterdir() if p.name.endswith((".tmp", ".part"))]
    resumed_from.append(expected_start)
    report(capsys, f"crash safety, training: {kills}/{kills} SIGKILLs survived; each "
                   f"resume started from the last checkpoint (epochs {resumed_from}); "
                   f"completed {epochs}/{epochs} epochs")


def test_run_killed_before_its_first_checkpoint_starts_again(tmp_path, tiny_arch, capsys):
    """Killed in its first epoch, a run has no checkpoint: resuming starts it over."""
    from engine.tasks import TaskContext
    from engine.training.config import TrainConfig
    from engine.training.events import BatchEnded, RunStarted
    from engine.training.runner import resume_run, train_run

    ctx = TaskContext()
    with Project.open(labelled_project(tmp_path / "project")) as project:
        first = train_run(project, TrainConfig(arch=TINY_ARCH, epochs=2, batch_size=8,
                                               augment="none", device="cpu"),
                          callbacks=[lambda e: isinstance(e, BatchEnded) and ctx.cancel()],
                          ctx=ctx)
        dead = subprocess.Popen([sys.executable, "-c", "pass"])
        dead.wait()
        with project.catalog.db.write() as conn:  # as if its process had been killed
            conn.execute("UPDATE runs SET status = 'running', pid = ? WHERE id = ?",
                         (dead.pid, first.run_id))
        assert [r.status for r in project.catalog.runs.list()] == ["interrupted"]
        events = []
        resumed = resume_run(project, first.run_id, callbacks=[events.append], evaluate=False)
    assert resumed.finished.status == "completed"
    assert next(e for e in events if isinstance(e, RunStarted)).start_epoch == 0
    report(capsys, "crash safety, training: a run killed before its first checkpoint "
                   "resumed from epoch 0 instead of failing")
