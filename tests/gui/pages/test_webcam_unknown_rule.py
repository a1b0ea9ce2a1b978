"""The Webcam page's unknown control follows the chosen run: a maximum distance for a run
saved with reference embeddings (engine/inference/open_set.py), starting at the run's
own limit; a minimum confidence for the others, kept across runs and sessions."""

from __future__ import annotations

import numpy as np
import pytest

from engine.inference.open_set import CONFIDENCE, DISTANCE, References, save_references
from engine.project import Project
from gui.pages.page_context import PageContext
from gui.pages.webcam import WebcamPage
from gui.project_session import ProjectSession

DISTANCE_RUN, CONFIDENCE_RUN = "20260101-000000-faceresnet-aaaa", "20260101-000001-customcnn1-bbbb"


@pytest.fixture
def session(tmp_path, qapp):
    """A project with two finished runs (the page only looks at their files): one with
    reference embeddings, one without."""
    root = tmp_path / "project"
    with Project.create(root) as project:
        split = project.catalog.create_split("default", 0, 0.2, 0.1)
        for run_id, arch in ((DISTANCE_RUN, "faceresnet"), (CONFIDENCE_RUN, "customcnn1")):
            run_dir = project.runs_dir / run_id
            run_dir.mkdir(parents=True)
            (run_dir / "best.pt").write_bytes(b"not read by the page")
            project.catalog.runs.create(run_id=run_id, arch=arch, split_id=split.id, config={},
                                        persons=["a", "b"], run_dir=project.stored_path(run_dir))
            project.catalog.runs.finish(run_id, "completed", best_epoch=1, best_val_loss=0.1,
                                        best_val_acc=1.0)
        save_references(project.runs_dir / DISTANCE_RUN,
                        References(np.zeros((2, 128), np.float32), np.array([0, 1]),
                                   max_distance=0.4285))
    with Project.open(root) as project:
        yield ProjectSession(project)


@pytest.fixture
def page(qtbot, session, runner, settings, monkeypatch):
    monkeypatch.setattr("engine.inference.camera.list_cameras", lambda *a, **k: [])
    page = WebcamPage(PageContext(session, runner, settings))
    qtbot.addWidget(page)
    yield page
    page.shutdown()


def test_the_threshold_control_says_which_measure_it_sets(page):
    page.run_picker.select_run(CONFIDENCE_RUN)
    assert page.unknown_rule == CONFIDENCE
    assert page.threshold_label.text() == "Unknown below: 50%"
    assert "confidence" in page.threshold_hint.text()
    assert page.controls.threshold == 0.5

    page.run_picker.select_run(DISTANCE_RUN)
    assert page.unknown_rule == DISTANCE
    assert page.threshold_label.text() == "Unknown beyond distance: 0.43"  # the run's own
    assert "farther than this" in page.threshold_hint.text()
    assert page.threshold_slider.maximum() == 150
    assert page.controls.max_distance == 0.43
    page.threshold_slider.setValue(60)
    assert page.controls.max_distance == 0.6
    assert page.threshold_label.text() == "Unknown beyond distance: 0.60"

    # Back to the other run: its own position, untouched by the distance.
    page.run_picker.select_run(CONFIDENCE_RUN)
    assert page.threshold_label.text() == "Unknown below: 50%"
    assert page.threshold_slider.maximum() == 100 and page.controls.threshold == 0.5
    page.threshold_slider.setValue(70)
    page.run_picker.select_run(DISTANCE_RUN)  # starts again at the run's own limit
    assert page.threshold_slider.value() == 43
    page.run_picker.select_run(CONFIDENCE_RUN)
    assert page.threshold_label.text() == "Unknown below: 70%"


def test_the_confidence_is_kept_across_sessions(qtbot, page, session, runner, settings):
    page.run_picker.select_run(DISTANCE_RUN)
    page.threshold_slider.setValue(80)
    page.run_picker.select_run(CONFIDENCE_RUN)
    page.threshold_slider.setValue(30)
    state = page.save_state()

    again = WebcamPage(PageContext(session, runner, settings))
    qtbot.addWidget(again)
    again.restore_state(state)
    again.run_picker.select_run(CONFIDENCE_RUN)
    assert again.threshold_label.text() == "Unknown below: 30%"
    again.run_picker.select_run(DISTANCE_RUN)
    assert again.threshold_label.text() == "Unknown beyond distance: 0.43"
    assert again.controls.max_distance == 0.43
    again.shutdown()
