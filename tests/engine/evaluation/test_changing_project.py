"""Issue 18: a project that changes never breaks evaluation.

The lab loop on real photos: 5 persons (5celeb), a tiny run, a folder adding a 6th
person (LFW), a second run. Then persons are renamed, merged and deleted and faces
relabelled. Every run must still evaluate, write its HTML report (engine and CLI) and
show on the scoreboard: ranked with the runs scored on the same test faces, or listed
with the reason it does not compare.
"""

from __future__ import annotations

import json

import pytest

from engine.cli import main as cli_main
from engine.data.splits import ensure_split
from engine.evaluation.report import write_lab_report
from engine.evaluation.runs import (current_report, evaluate_run, project_scoreboard,
                                    run_standing, stored_report)
from tests.trained_runs import NEW_PERSON, tiny_arch_registered

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def loop(changed_5celeb):
    with tiny_arch_registered():
        yield changed_5celeb


@pytest.fixture
def project(loop, project_copy):
    return project_copy(loop[0])


def _newcomer_test_faces(project) -> int:
    person = project.catalog.person_by_name(NEW_PERSON).id
    return sum(1 for _, p in ensure_split(project.catalog).test if p == person)


def test_after_a_sixth_person_every_run_evaluates_reports_and_shows(loop, project, tmp_path,
                                                                    capsys):
    _, old_run, new_run = loop
    root = str(project.root)
    board = project_scoreboard(project)  # raised "cannot be ranked together" before
    standings = board.standings(new_run)
    assert [r.run_id for r in standings.rows] == [new_run]
    assert standings.reason(old_run) == (f"trained on 5 persons, not 6 (without {NEW_PERSON}): "
                                         "scored on other test faces")
    assert board.default_reference() == new_run

    old = run_standing(project, old_run)
    unscored = _newcomer_test_faces(project)
    assert unscored > 0
    assert old.notes == (f"Trained on 5 of the project's 6 persons: the {unscored} test faces "
                         f"of {NEW_PERSON} are not scored. Train a new run to include them.",)
    assert old.stale == "" and run_standing(project, new_run).notes == ()
    assert [r.run_id for r in old.standings.rows] == [old_run]
    assert "with Andre_Agassi" in old.standings.reason(new_run)

    # Re-evaluating either run works and changes nothing about what compares.
    assert evaluate_run(project, old_run).persons == stored_report(project, old_run).persons
    assert len(evaluate_run(project, new_run).persons) == 6

    # The lab report of each run, from the CLI as a student would write it.
    for run_id in (new_run, old_run):
        out = tmp_path / f"{run_id}.html"
        assert cli_main(["report", root, "--run", run_id, str(out)]) == 0
        html = out.read_text(encoding="utf-8")
        assert "Runs not ranked with this one" in html
        assert (old_run if run_id == new_run else new_run) in html
    assert "Trained on 5 of the project&#x27;s 6 persons" in \
        (tmp_path / f"{old_run}.html").read_text(encoding="utf-8")
    capsys.readouterr()

    assert cli_main(["evaluate", root, "--run", old_run]) == 0
    out = capsys.readouterr().out
    assert "note: Trained on 5 of the project's 6 persons" in out
    assert f"{new_run}" in out and "not ranked with these" in out
    assert cli_main(["evaluate", root, "--run", new_run, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["notes"] == [] and len(data["persons"]) == 6
    assert [r["run_id"] for r in data["scoreboard"]["ranked"]] == [new_run]
    assert data["scoreboard"]["not_comparable"][0]["run_id"] == old_run


def test_a_renamed_person_keeps_their_faces_in_every_runs_evaluation(loop, project):
    _, old_run, new_run = loop
    catalog = project.catalog
    madonna = catalog.person_by_name("madonna")
    catalog.rename_person(madonna.id, "Madonna Ciccone")
    for run_id in (old_run, new_run):
        report = evaluate_run(project, run_id)
        # Matched by id: before, the renamed person's faces were dropped (support 0).
        assert "madonna" not in report.persons
        assert report.per_person["Madonna Ciccone"].support == sum(
            1 for _, p in ensure_split(catalog).test if p == madonna.id)
        assert report.per_person["Madonna Ciccone"].support > 0
        assert run_standing(project, run_id).stale == ""


def test_relabel_merge_and_delete_after_training_keep_every_run_working(loop, project,
                                                                         tmp_path):
    _, old_run, new_run = loop
    catalog = project.catalog
    split = ensure_split(catalog)
    ben, elton = catalog.person_by_name("ben_afflek"), catalog.person_by_name("elton_john")

    # Relabel two of ben's test faces: both stored evaluations are now older than the
    # test set, so they are flagged, and a report scores the run again.
    moved = [f for f, p in split.test if p == ben.id][:2]
    catalog.set_labels(moved, elton.id)
    stale = run_standing(project, new_run)
    assert stale.stale == "test faces changed since: 2 relabelled"
    assert stale.messages()[0].startswith("This evaluation is older than the test set")
    assert project_scoreboard(project).default_reference() == new_run
    fresh = current_report(project, new_run)
    assert {s.sample_id: s.true_person for s in fresh.samples}[moved[0]] == "elton_john"
    standing = run_standing(project, new_run)
    assert standing.stale == ""
    assert [r.run_id for r in standing.standings.rows] == [new_run]
    assert standing.standings.reason(old_run).startswith("trained on 5 persons, not 6")

    # Merge one person into another, delete a third.
    jerry = catalog.person_by_name("jerry_seinfeld")
    catalog.merge_persons(jerry.id, ben.id)
    catalog.delete_person(catalog.person_by_name("mindy_kaling").id)
    for run_id in (old_run, new_run):
        report = evaluate_run(project, run_id)
        assert report.per_person["jerry_seinfeld"].support == 0  # its faces are ben's now
        assert report.per_person["mindy_kaling"].support == 0    # unlabelled: not scored
        notes = run_standing(project, run_id).notes
        assert any("jerry_seinfeld and mindy_kaling are no longer in the project" in n
                   for n in notes), notes
        path = write_lab_report(project, run_id, tmp_path / f"{run_id}.html")
        assert "no longer in the project" in path.read_text(encoding="utf-8")
    board = project_scoreboard(project)
    shown = {r.run_id for r in board.rows(new_run)} | \
        {n.run_id for n in board.standings(new_run).not_comparable}
    assert shown == {old_run, new_run}
