"""Issue 18 on the Evaluate page: the lab loop (5 persons, a run, a folder adding a 6th
person, a second run) driven as a student drives it. The page opens the newest run,
shows no traceback, says what the older run does not cover, ranks only the runs that
compare (listing the others with why), re-evaluates and writes reports, and never shows
one run's metrics under another run's name, even when reading a run fails."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from engine.evaluation.runs import stored_report
from gui.jobs import JobState
from gui.pages.evaluate import SCOREBOARD_TAB, EvaluatePage
from gui.pages.page_context import PageContext
from gui.project_session import ProjectSession
from tests.trained_runs import NEW_PERSON, tiny_arch_registered

pytestmark = pytest.mark.slow

JOB_TIMEOUT_MS = 120_000


@pytest.fixture(scope="module")
def loop(changed_5celeb):
    with tiny_arch_registered():
        yield changed_5celeb


@pytest.fixture
def session(loop, project_copy, qapp):
    return ProjectSession(project_copy(loop[0]))


@pytest.fixture
def page(qtbot, session, runner, settings):
    page = EvaluatePage(PageContext(session, runner, settings))
    qtbot.addWidget(page)
    page.resize(1300, 820)
    with qtbot.waitSignal(page.results_shown, timeout=JOB_TIMEOUT_MS):
        page.show()
    yield page
    page.shutdown()


def _wait(qtbot, job):
    if not job.state.finished:
        with qtbot.waitSignal(job.finished, timeout=JOB_TIMEOUT_MS):
            pass
    assert job.state is JobState.SUCCEEDED, job.error_details


def _show(qtbot, page, run_id):
    with qtbot.waitSignal(page.results_shown, timeout=JOB_TIMEOUT_MS,
                          check_params_cb=lambda shown: shown == run_id):
        page.select_run(run_id)


def _no_error(page) -> bool:
    return not (page.banner.isVisible() and page.banner.kind == "error")


def test_the_loop_evaluates_ranks_and_reports_every_run(qtbot, page, session, loop, tmp_path):
    _, old_run, new_run = loop
    new = stored_report(session.project, new_run)
    assert page.current_run_id == new_run  # the newest run, not an older one
    assert _no_error(page), page.banner.text()
    assert page.accuracy_label.text() == f"Accuracy {new.accuracy:.1%}"
    assert page.scope_note.isHidden()

    page.show_tab(SCOREBOARD_TAB)
    chart = page.scoreboard_chart
    assert chart.run_ids() == [new_run]
    assert chart.score_ticks()[-1] == "100%"
    assert not page.not_comparable_label.isHidden()
    left_out = page.not_comparable_label.text()
    assert old_run in left_out and f"without {NEW_PERSON}" in left_out

    # The older run: its own metrics, and what they do not cover.
    _show(qtbot, page, old_run)
    old = stored_report(session.project, old_run)
    assert page.current_run_id == old_run and page.report == old
    assert page.accuracy_label.text() == f"Accuracy {old.accuracy:.1%}"
    assert not page.scope_note.isHidden()
    assert "Trained on 5 of the project's 6 persons" in page.scope_note.text()
    assert f"of {NEW_PERSON} are not scored" in page.scope_note.text()
    assert chart.run_ids() == [old_run]
    assert new_run in page.not_comparable_label.text()
    assert _no_error(page), page.banner.text()

    # Re-evaluate and Lab report, both failed before.
    with qtbot.waitSignal(page._runner.job_submitted) as submitted:
        QTest.mouseClick(page.evaluate_button, Qt.MouseButton.LeftButton)
    _wait(qtbot, submitted.args[0])
    assert page.current_run_id == old_run and page.report.persons == old.persons
    for run_id in (old_run, new_run):
        if page.current_run_id != run_id:
            _show(qtbot, page, run_id)
        out = tmp_path / f"{run_id}.html"
        _wait(qtbot, page.write_lab_report(str(out)))
        assert "Runs not ranked with this one" in out.read_text(encoding="utf-8")
    assert _no_error(page), page.banner.text()


def test_a_run_that_cannot_be_read_never_shows_another_runs_metrics(qtbot, page, session,
                                                                    loop):
    _, old_run, new_run = loop
    assert page.current_run_id == new_run and page.report is not None
    with session.catalog.db.write() as conn:  # a damaged stored evaluation
        conn.execute("UPDATE run_evaluations SET report = '{\"accuracy\": 0.5}' "
                     "WHERE run_id = ?", (old_run,))
    page.refresh_runs()
    page.select_run(old_run)
    # At once, before the reading job ends: nothing of the other run stays on screen.
    assert page.report is None and page.metrics_model.rowCount() == 0
    assert page.confusion_model.rowCount() == 0 and page.gallery_model.rowCount() == 0
    qtbot.waitUntil(lambda: not _no_error(page), timeout=JOB_TIMEOUT_MS)
    assert page.current_run_id == old_run
    assert page.report is None and page.metrics_model.rowCount() == 0
    assert page.accuracy_label.text() == "Could not read this run's results"
    assert old_run in page.banner.text()
    assert not page.results_loaded


def test_persons_renamed_merged_and_deleted_after_training(qtbot, page, session, loop):
    _, old_run, new_run = loop
    catalog = session.catalog
    assert session.rename_person(catalog.person_by_name("madonna").id, "Madonna C.")
    assert session.merge_persons(catalog.person_by_name("jerry_seinfeld").id,
                                 catalog.person_by_name("ben_afflek").id)
    assert session.delete_person(catalog.person_by_name(NEW_PERSON).id)
    page.hide()
    with qtbot.waitSignal(page.results_shown, timeout=JOB_TIMEOUT_MS):
        page.show()  # read again: the project changed while another page showed
    assert _no_error(page), page.banner.text()
    assert not page.scope_note.isHidden()
    assert "older than the test set" in page.scope_note.text()  # the 6th person's faces left
    for run_id in (new_run, old_run):
        if page.current_run_id != run_id:
            _show(qtbot, page, run_id)
        with qtbot.waitSignal(page.results_shown, timeout=JOB_TIMEOUT_MS):
            _wait(qtbot, page.evaluate_current())
        assert "Madonna C." in page.report.persons
        assert page.report.per_person["Madonna C."].support > 0
        assert "older than the test set" not in page.scope_note.text()
        assert "jerry_seinfeld" in page.scope_note.text()  # merged away, still an output
        assert _no_error(page), page.banner.text()
    # Both runs show on the scoreboard: the new one ranked, the old one listed, since
    # the new model still tells 6 persons apart (the deleted one among them).
    page.show_tab(SCOREBOARD_TAB)
    assert page.scoreboard_chart.run_ids() == [old_run]
    assert new_run in page.not_comparable_label.text()
    assert "trained on 6 persons, not 5" in page.not_comparable_label.text()


def test_the_runs_table_marks_the_run_that_does_not_compare(loop):
    """The Train page's runs table sorted by test accuracy is the scoreboard too: the run
    trained on 5 persons is marked, with the engine's reason, and sorts after."""
    from engine.tasks import TaskContext
    from gui.jobs.training_jobs import list_runs

    root, old_run, new_run = loop
    rows = {row.id: row for row in list_runs(root)(TaskContext())}
    assert rows[new_run].test_note == "" and rows[new_run].test_acc is not None
    assert rows[old_run].test_note.startswith("trained on 5 persons, not 6")
    assert rows[old_run].best_val_acc is not None
