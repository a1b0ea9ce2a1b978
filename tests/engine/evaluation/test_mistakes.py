"""The label-mistake finder on real faces: att_faces (400 faces, 40 persons, 10 each)
with 10% of the labels deliberately moved to another person."""

from __future__ import annotations

import json

import pytest

from bench.label_mistakes import plant_mistakes, restore
from engine import models
from engine.cli import main as cli_main
from engine.evaluation.mistakes import find_label_mistakes
from engine.ingest import crop_pending, import_paths
from engine.project import Project
from engine.tasks import Cancelled, TaskContext
from tests.engine.training.conftest import TinyNet

FLIP_FRACTION = 0.10
# Measured: 38-40 of the 40 flipped faces rank in the top 40 (flip seeds 0-4; seed 0: 39).
MIN_FLIPPED_IN_TOP = 0.9


@pytest.fixture(scope="module")
def att_project(datasets, tmp_path_factory):
    root = tmp_path_factory.mktemp("att") / "project"
    with Project.create(root) as project:
        import_paths(project, [datasets / "att_faces"], labels_from_folders=True)
        report = crop_pending(project)
        assert not report.cancelled and not report.errors
        yield project


def test_quick_finder_ranks_flipped_faces_first(att_project):
    labelled = len(att_project.catalog.labelled_faces())
    truth = plant_mistakes(att_project, FLIP_FRACTION, seed=0)
    try:
        progress = []
        mistakes = find_label_mistakes(att_project, folds=5, method="quick", seed=0,
                                       ctx=TaskContext(on_progress=progress.append)).mistakes
    finally:
        restore(att_project, truth)
    top = {m.face_id for m in mistakes[:round(FLIP_FRACTION * labelled)]}
    found = len(top & set(truth))
    figure = (f"{found} of {len(truth)} flipped faces ({found / len(truth):.0%}) rank in the "
              f"top {FLIP_FRACTION:.0%} of {labelled} faces")
    print(f"\nlabel-mistake finder (quick, att_faces): {figure}")
    assert found >= MIN_FLIPPED_IN_TOP * len(truth), figure

    scores = [m.score for m in mistakes]
    assert scores == sorted(scores, reverse=True)
    names = {p.id: p.name for p in att_project.catalog.persons()}
    by_face = {m.face_id: m for m in mistakes}
    # A found flip suggests its true person back (the model never saw the wrong label's face).
    recovered = [f for f in top & set(truth) if by_face[f].suggested_person == names[truth[f]]]
    assert len(recovered) >= 0.9 * found
    assert progress and progress[-1].stage == "mistakes"

    stored = {r.face_id: r for r in att_project.catalog.runs.label_issues()}
    assert set(stored) == set(by_face)
    assert all(stored[f].score == pytest.approx(m.score) for f, m in by_face.items())
    assert {r.status for r in stored.values()} == {"suspicious"}


def test_a_new_ranking_keeps_the_users_verdicts(att_project):
    truth = plant_mistakes(att_project, 0.05, seed=1)
    try:
        first = find_label_mistakes(att_project, folds=3, method="quick", seed=0).mistakes
        att_project.catalog.runs.set_label_issue_status(first[0].face_id, "accepted")
        again = find_label_mistakes(att_project, folds=3, method="quick", seed=0).mistakes
    finally:
        restore(att_project, truth)
    assert first[0].face_id in {m.face_id for m in again}
    kept = att_project.catalog.runs.label_issues(status="accepted")
    assert [r.face_id for r in kept] == [first[0].face_id]
    assert first[0].face_id not in {r.face_id for r in att_project.catalog.runs.label_issues()}


def test_cli_prints_json(att_project, capsys):
    truth = plant_mistakes(att_project, 0.05, seed=2)
    try:
        code = cli_main(["mistakes", str(att_project.root), "--folds", "3", "--method", "quick",
                         "--json"])
    finally:
        restore(att_project, truth)
    assert code == 0
    printed = json.loads(capsys.readouterr().out)
    # What the list rests on comes with it: the method and its out-of-fold accuracy.
    assert printed["method"] == "quick" and printed["folds"] == 3
    assert printed["faces"] == 400 and printed["persons"] == 40
    assert 0.5 < printed["oof_accuracy"] <= 1.0
    rows = printed["mistakes"]
    assert rows and set(rows[0]) == {"face_id", "score", "given", "suggested", "crop"}
    assert all(att_project.resolve(r["crop"]).is_file() for r in rows)
    assert set(truth) & {r["face_id"] for r in rows}


@pytest.fixture
def tiny_arch():
    name = "tiny_mistakes_cnn"
    models.register_architecture(models.ArchSpec(
        name=name, display_name="Tiny CNN", description="A test network.", input_size=32,
        mean=(0.5,) * 3, std=(0.5,) * 3, family="cnn", builder=TinyNet, head_path="head"))
    yield name
    models.unregister_architecture(name)


def test_an_architecture_is_trained_per_fold(cropped_5celeb, project_copy, tiny_arch):
    project = project_copy(cropped_5celeb)
    stages = []
    search = find_label_mistakes(project, folds=2, method=tiny_arch, epochs=1,
                                 ctx=TaskContext(on_progress=lambda p: stages.append(p.stage)))
    mistakes = search.mistakes
    assert search.basis.method == tiny_arch and "trained per fold" in search.basis.method_label
    assert {"mistakes", "train"} <= set(stages)
    assert all(0.0 <= m.score <= 1.0 for m in mistakes)
    assert len(project.catalog.runs.label_issues()) == len(mistakes)

    cancelled = TaskContext()
    cancelled.cancel()
    with pytest.raises(Cancelled):
        find_label_mistakes(project, folds=2, method=tiny_arch, epochs=1, ctx=cancelled)
