"""A project folder from someone else is untrusted: a crafted catalog gets a clear
message, never a crash, SQL of its own running, or a file touched outside the folder."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from engine.catalog import CatalogError
from engine.project import Project
from engine.training.config import TrainConfig
from engine.training.runner import resume_run, train_run
from tests.reliability.synthetic import TINY_ARCH, labelled_project, register_tiny_arch


@pytest.fixture(scope="module", autouse=True)
def tiny_arch():
    """Registered for these tests; left registered if the reliability suite's own
    fixture (tests/reliability/conftest.py) registered it first."""
    import engine.models as models

    known = {spec.name for spec in models.list_architectures()}
    register_tiny_arch()
    yield
    if TINY_ARCH not in known:
        models.unregister_architecture(TINY_ARCH)


def _tamper(root: Path, *statements: str) -> None:
    conn = sqlite3.connect(root / "catalog.sqlite", isolation_level=None)
    try:
        # A crafted file need not keep FaceLab's CHECK constraints.
        conn.execute("PRAGMA ignore_check_constraints = ON")
        for statement in statements:
            conn.execute(statement)
    finally:
        conn.close()


def _photo_count(root: Path) -> int:
    conn = sqlite3.connect(root / "catalog.sqlite")
    try:
        return conn.execute("SELECT COUNT(*) FROM photos").fetchone()[0]
    finally:
        conn.close()


@pytest.mark.parametrize("statement", [
    "CREATE TRIGGER wipe AFTER INSERT ON face_labels BEGIN DELETE FROM photos; END",
    "CREATE TRIGGER wipe_on_read AFTER UPDATE ON settings BEGIN DELETE FROM photos; END",
    "CREATE VIEW everything AS SELECT * FROM photos",
])
@pytest.mark.parametrize("readonly", [False, True])
def test_stored_sql_is_refused_and_the_file_left_alone(tmp_path, statement, readonly):
    root = labelled_project(tmp_path / "p", persons=2, per_person=3)
    _tamper(root, statement)
    before = (root / "catalog.sqlite").read_bytes()

    with pytest.raises(CatalogError, match="SQL that FaceLab did not write"):
        Project.open(root, readonly=readonly)
    assert (root / "catalog.sqlite").read_bytes() == before
    assert _photo_count(root) == 6


def test_connections_do_not_trust_the_schema(tmp_path):
    root = labelled_project(tmp_path / "p", persons=2, per_person=3)
    with Project.open(root) as project:
        assert project.catalog.db.conn.execute("PRAGMA trusted_schema").fetchone()[0] == 0


@pytest.mark.parametrize("version", [-1, 10_000])
def test_a_catalog_version_facelab_never_wrote_is_refused(tmp_path, version):
    root = labelled_project(tmp_path / "p", persons=2, per_person=3)
    _tamper(root, f"PRAGMA user_version = {version}")
    with pytest.raises(CatalogError, match="not a FaceLab catalog|newer FaceLab"):
        Project.open(root)


@pytest.fixture
def trained(tmp_path):
    root = labelled_project(tmp_path / "p", persons=2, per_person=8)
    config = TrainConfig(arch=TINY_ARCH, epochs=1, batch_size=4, augment="none",
                         early_stopping_patience=None)
    with Project.open(root) as project:
        run_id = train_run(project, config, evaluate=False).run_id
    return root, run_id


@pytest.mark.parametrize("escape", ["../outside", "/tmp/facelab-crafted-run", "runs/../../outside"])
def test_a_run_folder_outside_the_project_is_never_written(trained, escape):
    from engine.evaluation.runs import evaluate_run

    root, run_id = trained
    _tamper(root, f"UPDATE runs SET run_dir = '{escape}', status = 'cancelled'")
    outside = (root / escape) if not escape.startswith("/") else Path(escape)
    with Project.open(root) as project:
        with pytest.raises(CatalogError, match="outside the project folder"):
            resume_run(project, run_id)
        with pytest.raises(CatalogError, match="outside the project folder"):
            evaluate_run(project, run_id)
    assert not outside.exists()


def test_a_face_crop_outside_the_project_is_never_read(trained, tmp_path):
    from engine.data.cache import load_face_tensors

    root, _ = trained
    secret = tmp_path / "secret.jpg"
    secret.write_bytes((root / "crops" / "p0-0.jpg").read_bytes())
    _tamper(root, "UPDATE faces SET crop_path = '../secret.jpg' WHERE id = 1")
    with Project.open(root) as project:
        with pytest.raises(CatalogError, match="outside the project folder"):
            load_face_tensors(project, [1], 40)


@pytest.mark.parametrize("column, value", [
    ("config", "'not json'"), ("config", "'[1, 2]'"), ("persons", "'{\"a\": 1}'"),
    ("status", "'rm -rf'"), ("best_val_acc", "'lots'"),
])
def test_a_damaged_run_record_is_named_and_the_others_still_list(trained, column, value):
    root, run_id = trained
    with Project.open(root) as project:
        second = train_run(project, TrainConfig(arch=TINY_ARCH, epochs=1, batch_size=4,
                                                augment="none", seed=1), evaluate=False).run_id
    _tamper(root, f"UPDATE runs SET {column} = {value} WHERE id = '{run_id}'")
    with Project.open(root) as project:
        assert [record.id for record in project.catalog.runs.list()] == [second]
        with pytest.raises(CatalogError, match=f"run {run_id!r} is damaged"):
            project.catalog.runs.get(run_id)
