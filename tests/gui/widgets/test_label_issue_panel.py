"""The suspicious-labels tab says what its list rests on: the method and how well the
model recognised faces it had not trained on, stored with the list by the search job
(real faces: 5celeb, with planted mistakes)."""

from __future__ import annotations

import pytest

from bench.label_mistakes import plant_mistakes
from engine.evaluation.mistakes import stored_basis
from gui.jobs import JobState
from gui.jobs.evaluation_jobs import find_mistakes
from gui.models.label_issues import LabelIssueModel
from gui.models.thumbnails import ThumbnailCache
from gui.widgets.label_issues import LabelIssuePanel

pytestmark = pytest.mark.slow


@pytest.fixture
def project(cropped_5celeb, project_copy):
    return project_copy(cropped_5celeb)


@pytest.fixture
def panel(qtbot, project):
    model = LabelIssueModel(project.catalog, ThumbnailCache(64))
    panel = LabelIssuePanel(model)
    qtbot.addWidget(panel)
    panel.resize(900, 500)
    panel.show()
    model.reload()
    return panel


def test_the_tab_shows_how_reliable_the_list_is(qtbot, panel, project, runner):
    assert panel.basis_label.text() == ""  # no search yet
    table_at = panel.table.geometry()
    truth = plant_mistakes(project, 3 / len(project.catalog.labelled_faces()), seed=1)

    job = runner.submit(find_mistakes(project.root), title="Finding suspicious labels")
    with qtbot.waitSignal(job.finished, timeout=180_000):
        pass
    assert job.state is JobState.SUCCEEDED, job.error_details
    panel.model.reload()

    basis = stored_basis(project)
    assert basis.method == "face-network"  # the default where the weights are present
    shown = panel.basis_label.text()
    assert f"labels of {basis.oof_accuracy:.0%} of 118 faces of 5 persons" in shown
    assert "face network" in shown and "5-fold cross-validation" in shown
    assert "Face ResNet" in panel.basis_label.toolTip()
    listed = {panel.model.issue(r).face_id for r in range(panel.model.rowCount())}
    assert set(truth) <= listed
    # The text below the table came without moving the table.
    assert panel.table.geometry() == table_at


def test_a_list_without_a_stored_basis_says_to_search_again(panel, project):
    persons = [p.id for p in project.catalog.persons()]
    face = project.catalog.labelled_faces()[0][0]
    project.catalog.runs.replace_label_issues([(face, 0.9, persons[0], persons[1])])
    panel.model.reload()
    assert panel.model.basis is None
    assert "search again" in panel.basis_label.text()
