"""The Evaluate page on a real project (5celeb crops) with two tiny trained runs:
metrics, the confusion matrix and its cells, the error gallery (Grad-CAM, relabel +
undo, show in Library), the scoreboard, the label-mistake finder's keys, export,
the lab report, and evaluating a run that has no report yet."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PySide6.QtCore import QItemSelectionModel, Qt
from PySide6.QtTest import QTest

from engine.evaluation.runs import stored_report
from engine.storage import sha256_file
from gui.jobs import JobState
from gui.models.error_gallery import CURRENT_LABEL_ROLE, RELABELLED_ROLE
from gui.models.evaluation import VALUE_ROLE
from gui.models.label_issues import STATUS_ROLE
from gui.pages.evaluate import SCOREBOARD_TAB, EvaluatePage
from gui.pages.page_context import PageContext
from gui.project_session import ProjectSession
from tests.trained_runs import tiny_arch_registered, trained_copy

pytestmark = pytest.mark.slow

JOB_TIMEOUT_MS = 120_000


@pytest.fixture(scope="module")
def trained(cropped_5celeb, tmp_path_factory):
    """The 5celeb project with two evaluated tiny runs (built once for this module)."""
    with tiny_arch_registered():
        root = tmp_path_factory.mktemp("evaluate-page") / "project"
        run_ids = trained_copy(cropped_5celeb, root)
        yield root, run_ids


@pytest.fixture
def session(trained, project_copy, qapp):
    root, _ = trained
    return ProjectSession(project_copy(root))


@pytest.fixture
def page(qtbot, session, runner, settings):
    page = EvaluatePage(PageContext(session, runner, settings))
    qtbot.addWidget(page)
    page.resize(1300, 820)
    with qtbot.waitSignal(page.results_shown, timeout=JOB_TIMEOUT_MS):
        page.show()
    yield page
    page.shutdown()


def _wait(qtbot, job, timeout=JOB_TIMEOUT_MS):
    if not job.state.finished:
        with qtbot.waitSignal(job.finished, timeout=timeout):
            pass
    assert job.state is JobState.SUCCEEDED, job.error_details


def _person_id(session, name):
    return session.catalog.person_by_name(name).id


def _select_rows(view, rows):
    model = view.model()
    view.selectionModel().clearSelection()
    for row in rows:
        view.selectionModel().select(model.index(row, 0), QItemSelectionModel.SelectionFlag.Select)


# ------------------------------------------------------------------ metrics
def test_the_newest_run_is_shown_with_its_reports_accuracy(page, session, trained):
    _, run_ids = trained
    assert page.current_run_id == run_ids[-1]
    assert [c.run_id for c in page.run_picker.choices()] == run_ids[::-1]
    report = stored_report(session.project, run_ids[-1])
    model = page.metrics_model
    row = model.accuracy_row()
    assert model.index(row, 1).data(VALUE_ROLE) == report.accuracy
    low, high = report.accuracy_ci
    shown = model.index(row, 1).data()
    assert f"{report.accuracy:.1%}" in shown and f"{low:.1%}" in shown and f"{high:.1%}" in shown
    assert page.metrics_table.columnSpan(row, 1) == 3
    assert page.accuracy_label.text() == f"Accuracy {report.accuracy:.1%}"
    for r, name in enumerate(report.per_person):
        metrics = report.per_person[name]
        assert [model.index(r, c).data(VALUE_ROLE) for c in range(5)] == \
            [name, metrics.precision, metrics.recall, metrics.f1, metrics.support]
    macro = [model.index(row + 1, c).data(VALUE_ROLE) for c in range(1, 4)]
    assert macro == [report.macro_precision, report.macro_recall, report.macro_f1]


def test_item_models_pass_the_qt_model_tester(request, page, session):
    from pytestqt.modeltest import ModelTester

    faces = session.catalog.face_ids()[:3]
    persons = [p.id for p in session.catalog.persons()]
    session.catalog.runs.replace_label_issues([(f, 0.9 - i / 10, persons[0], persons[1])
                                               for i, f in enumerate(faces)])
    page.issues_model.reload()
    for model in (page.metrics_model, page.confusion_model, page.gallery_model,
                  page.issues_model):
        assert model.rowCount() > 0
        # One tester per model: a shared one keeps listening to the models checked before
        # and judges their later signals (thumbnails arriving) against the last model.
        ModelTester(request.config).check(model, force_py=True)


# ---------------------------------------------------------- confusion matrix
def test_clicking_a_confusion_cell_lists_exactly_its_samples(qtbot, page):
    report = page.report
    persons = report.persons
    matrix = np.array(report.confusion_matrix)
    wrong = np.argwhere((matrix > 0) & ~np.eye(len(persons), dtype=bool))
    true_row, predicted_column = wrong[0] if len(wrong) else (0, 0)
    index = page.confusion_model.index(int(true_row), int(predicted_column))
    assert index.data(VALUE_ROLE) == matrix[true_row, predicted_column]
    assert index.data() == str(matrix[true_row, predicted_column])

    table = page.heatmap.table
    with qtbot.waitSignal(page.heatmap.cell_clicked) as clicked:
        QTest.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=table.visualRect(
            index).center())
    true, predicted = persons[true_row], persons[predicted_column]
    assert clicked.args == [true, predicted]
    expected = [s.sample_id for s in report.samples_in_cell(true, predicted)]
    assert page.gallery_model.face_ids() == expected
    assert page.gallery.title() == f"{true} predicted as {predicted} · {len(expected)}"

    # Every cell: the gallery holds exactly the samples counted in it.
    for r, true in enumerate(persons):
        for c, predicted in enumerate(persons):
            page.heatmap.activate_cell(page.confusion_model.index(r, c))
            assert page.gallery_model.face_ids() == \
                [s.sample_id for s in report.samples_in_cell(true, predicted)]
            assert page.gallery_model.rowCount() == matrix[r, c]


# ------------------------------------------------------------- error gallery
def test_gallery_lists_mistakes_then_unsure_predictions(page):
    report = page.report
    assert page.gallery_model.samples() == report.misclassified()
    page.gallery.mode_combo.setCurrentIndex(page.gallery.mode_combo.findData("low"))
    page.gallery.threshold_spin.setValue(0.5)
    assert page.gallery_model.samples() == report.low_confidence(0.5)


def test_relabel_from_the_gallery_changes_the_catalog_and_undo_reverts(qtbot, page, session):
    gallery = page.gallery
    assert gallery.model.rowCount() > 0, "the tiny run should make mistakes"
    sample = gallery.model.sample(0)
    face_id = sample.sample_id
    before = session.catalog.face(face_id).person_id
    _select_rows(gallery.view, [0])
    gallery.relabel_menu.aboutToShow.emit()  # what opening the "Label as…" menu does
    action = gallery.relabel_menu.actions()[0]
    assert action.text() == f"As predicted: {sample.predicted_person}"
    with qtbot.waitSignal(session.labels_changed):
        action.trigger()

    predicted_id = _person_id(session, sample.predicted_person)
    assert session.catalog.face(face_id).person_id == predicted_id
    row = gallery.model.row_of(face_id)
    assert row == 0  # stays in place
    index = gallery.model.index(row)
    assert index.data(CURRENT_LABEL_ROLE) == sample.predicted_person
    assert index.data(RELABELLED_ROLE) is True

    session.undo()
    assert session.catalog.face(face_id).person_id == before
    assert gallery.model.index(row).data(CURRENT_LABEL_ROLE) == sample.true_person
    assert gallery.model.index(row).data(RELABELLED_ROLE) is False


def test_grad_cam_overlays_are_computed_in_jobs_and_shown_when_ready(qtbot, page):
    gallery = page.gallery
    face_id = gallery.model.sample(0).sample_id
    gallery.gradcam_check.setChecked(True)
    gallery.view.viewport().repaint()
    qtbot.waitUntil(lambda: page.gradcams.result(face_id) is not None
                    or page.gradcams.error(face_id) is not None, timeout=JOB_TIMEOUT_MS)
    assert page.gradcams.error(face_id) is None
    result = page.gradcams.result(face_id)
    assert result.run_id == page.current_run_id and not result.image.isNull()
    shown = gallery.model.index(0).data(Qt.ItemDataRole.DecorationRole)
    assert shown.cacheKey() == page.gradcams.pixmap(face_id).cacheKey()
    gallery.gradcam_check.setChecked(False)
    shown = gallery.model.index(0).data(Qt.ItemDataRole.DecorationRole)
    assert shown is None or shown.cacheKey() != page.gradcams.pixmap(face_id).cacheKey()


def test_show_in_library_drives_the_librarys_face_set(qtbot, page, session, runner, settings):
    from gui.pages.library import LibraryPage

    assert not page.gallery.library_button.isVisible()  # nobody listens yet
    library = LibraryPage(PageContext(session, runner, settings))
    qtbot.addWidget(library)
    page.library_review_requested.connect(library.show_face_set)
    page.hide()
    page.show()
    assert page.gallery.library_button.isVisible()
    with qtbot.waitSignal(page.library_review_requested) as requested:
        QTest.mouseClick(page.gallery.library_button, Qt.MouseButton.LeftButton)
    expected = [s.sample_id for s in page.report.misclassified()]
    assert requested.args[1] == expected
    assert library.grid_model.face_ids() == expected
    assert library.title_label.text().startswith("Misclassified (")
    # With faces selected, exactly those go to the Library.
    _select_rows(page.gallery.view, [1])
    chosen = page.gallery.view.selected_face_ids()
    assert len(chosen) == 1
    with qtbot.waitSignal(page.library_review_requested) as requested:
        QTest.mouseClick(page.gallery.library_button, Qt.MouseButton.LeftButton)
    assert requested.args[1] == chosen
    assert library.grid_model.face_ids() == chosen
    assert library.title_label.text().startswith("1 selected face of Misclassified (")
    library.shutdown()


# ---------------------------------------------------------------- scoreboard
def test_scoreboard_shows_one_bar_group_per_run_with_value_labels(page, trained):
    _, run_ids = trained
    page.show_tab(SCOREBOARD_TAB)
    chart = page.scoreboard_chart
    assert chart is not None and chart.group_count() == len(run_ids) == 2
    assert sorted(chart.run_ids()) == sorted(run_ids)
    rows = page.scoreboard_rows
    heights = chart.bar_heights()
    assert heights == {"Accuracy": [r.accuracy for r in rows],
                       "Precision": [r.macro_precision for r in rows],
                       "Recall": [r.macro_recall for r in rows],
                       "F1": [r.macro_f1 for r in rows]}
    expected = [f"{v:.2f}" for values in heights.values() for v in values]
    assert chart.value_labels() == expected and len(expected) == 4 * len(run_ids)


# --------------------------------------------------------------- label issues
def test_accept_and_reject_keys_on_the_suspicious_label_list(qtbot, page, session):
    catalog = session.catalog
    persons = {p.name: p.id for p in catalog.persons()}
    names = sorted(persons)
    first = catalog.face_ids(person_id=persons[names[0]])[0]
    second = catalog.face_ids(person_id=persons[names[1]])[0]
    catalog.runs.replace_label_issues([(first, 0.9, persons[names[0]], persons[names[2]]),
                                       (second, 0.7, persons[names[1]], persons[names[3]])])
    page.issues_model.reload()
    page.show_tab(2)
    table = page.issues_panel.table
    table.setFocus()
    assert table.currentIndex().row() == 0  # the most suspicious face first

    with qtbot.waitSignal(session.labels_changed):
        QTest.keyClick(table, Qt.Key.Key_A)
    assert catalog.face(first).person_id == persons[names[2]]
    assert {i.face_id: i.status for i in catalog.runs.label_issues(status=None)} == \
        {first: "accepted", second: "suspicious"}
    assert table.currentIndex().row() == 1  # on to the next face to review

    QTest.keyClick(table, Qt.Key.Key_R)
    assert catalog.face(second).person_id == persons[names[1]]  # label kept
    assert catalog.runs.label_issues(status="rejected")[0].face_id == second
    assert [page.issues_model.index(r, 0).data(STATUS_ROLE) for r in range(2)] == \
        ["accepted", "rejected"]
    assert "0 of 2 to review" in page.issues_panel.status_label.text()

    session.undo()  # the accepted relabel is one undoable action
    assert catalog.face(first).person_id == persons[names[0]]
    # ...and undoing it opens the verdict again.
    assert catalog.runs.label_issues(status="suspicious")[0].face_id == first
    assert page.issues_model.index(0, 0).data(STATUS_ROLE) == "suspicious"
    assert "1 of 2 to review" in page.issues_panel.status_label.text()
    session.redo()
    assert page.issues_model.index(0, 0).data(STATUS_ROLE) == "accepted"


def test_find_suspicious_labels_runs_in_a_job_and_lists_the_ranking(qtbot, page, session):
    catalog = session.catalog
    persons = {p.name: p.id for p in catalog.persons()}
    names = sorted(persons)
    flipped = catalog.face_ids(person_id=persons[names[0]])[:3]
    session.label_faces(flipped, persons[names[1]])
    with qtbot.waitSignal(page._runner.job_submitted) as submitted:
        QTest.mouseClick(page.issues_panel.find_button, Qt.MouseButton.LeftButton)
    job = submitted.args[0]
    assert not page.issues_panel.find_button.isEnabled()
    _wait(qtbot, job)
    ranking = [i.face_id for i in catalog.runs.label_issues(status=None)]
    assert [page.issues_model.issue(r).face_id for r in range(page.issues_model.rowCount())] \
        == ranking
    assert page.issues_panel.find_button.isEnabled()
    assert "suspicious label" in page.banner.text()
    # The moved faces are on the list, and the tab says what the list rests on.
    assert set(flipped) <= set(ranking)
    assert "face network" in page.issues_panel.basis_label.text()
    assert "of 118 faces of 5 persons" in page.issues_panel.basis_label.text()


# --------------------------------------------------------- export and report
def test_export_writes_a_verified_onnx_file_with_its_sidecar(qtbot, page, tmp_path):
    import onnxruntime

    out = tmp_path / "faces.onnx"
    job = page.export_model("onnx", str(out))
    _wait(qtbot, job)
    export = job.result
    assert out.is_file() and export.model.path == out
    assert export.model.sha256 == sha256_file(out)
    sidecar = json.loads((tmp_path / "faces.onnx.json").read_text(encoding="utf-8"))
    assert sidecar["persons"] == list(page.report.persons)
    assert sidecar["run_id"] == page.current_run_id and sidecar["sha256"] == export.model.sha256
    size = sidecar["input_size"]
    inference = onnxruntime.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    logits = inference.run(None, {sidecar["input_name"]: np.zeros((1, 3, size, size),
                                                                  np.float32)})[0]
    assert logits.shape == (1, len(page.report.persons))
    assert "exported" in page.banner.text() and "verified" in page.banner.text()


def test_lab_report_is_written_in_a_job(qtbot, page, tmp_path, monkeypatch):
    from PySide6.QtGui import QDesktopServices

    out = tmp_path / "lab.html"
    job = page.write_lab_report(str(out))
    assert not page.report_button.isEnabled()  # one report at a time
    _wait(qtbot, job)
    text = out.read_text(encoding="utf-8")
    assert f"{page.report.accuracy:.1%}" in text and "data:image/png;base64," in text
    assert page.report_button.isEnabled()
    # The banner says where it is, offers to open it, and stays until dismissed.
    banner = page.banner
    assert str(out) in banner.text() and banner.action_button.isVisible()
    assert banner.action_button.text() == "Open" and not banner._timer.isActive()
    opened = []
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: opened.append(url) or True)
    QTest.mouseClick(banner.action_button, Qt.MouseButton.LeftButton)
    assert [url.toLocalFile() for url in opened] == [str(out)]


# ------------------------------------------------------------------ evaluate
def test_a_run_without_a_report_is_evaluated_by_the_button(qtbot, page, session, trained):
    _, run_ids = trained
    with session.catalog.db.write() as conn:
        conn.execute("DELETE FROM run_evaluations WHERE run_id = ?", (run_ids[0],))
    page.refresh_runs()
    assert not page.run_picker.choice(run_ids[0]).evaluated
    with qtbot.waitSignal(page.results_shown, timeout=JOB_TIMEOUT_MS):
        page.select_run(run_ids[0])
    assert page.report is None and page.evaluate_button.text() == "Evaluate"
    assert page.gallery_model.rowCount() == 0 and page.confusion_model.rowCount() == 0

    with qtbot.waitSignal(page._runner.job_submitted) as submitted:
        QTest.mouseClick(page.evaluate_button, Qt.MouseButton.LeftButton)
    _wait(qtbot, submitted.args[0])
    stored = stored_report(session.project, run_ids[0])
    assert stored is not None and page.report.accuracy == stored.accuracy
    assert page.run_picker.choice(run_ids[0]).evaluated
    assert page.evaluate_button.text() == "Re-evaluate"


def test_the_page_is_the_windows_evaluate_page_and_says_when_there_is_no_run(window, project):
    root = project.root
    project.close()
    assert window.open_project(str(root))
    page = window.workspace.pages["evaluate"]
    assert isinstance(page, EvaluatePage)
    window.show_page("evaluate")
    assert page.current_run_id is None
    assert page.accuracy_label.text() == "No trained run yet"
    assert not page.evaluate_button.isEnabled() and not page.export_button.isEnabled()
