"""The Train page's "Automatic" row: it says what `--arch auto` picks on this machine,
and a run started from it trains Face ResNet the instant way (frozen, a head on cached
face features) on real 5celeb faces; the Evaluate page then shows that run.

Face ResNet's weights are converted from the installed package (requirements.txt) into
this test's own weights folder.
"""

from __future__ import annotations

import pytest

from gui.jobs import JobState

pytestmark = pytest.mark.slow

WAIT_MS = 240_000


@pytest.fixture(autouse=True)
def _own_weights_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("FACELAB_WEIGHTS_DIR", str(tmp_path / "weights"))


@pytest.fixture
def celeb_root(cropped_5celeb, project_copy):
    project = project_copy(cropped_5celeb)
    project.close()  # the window opens its own
    return project.root


def test_automatic_trains_face_resnet_and_the_evaluate_page_shows_it(qtbot, window,
                                                                     celeb_root):
    assert window.open_project(str(celeb_root))
    window.show_page("train")
    page = window.workspace.page("train")
    qtbot.waitUntil(lambda: page.choices is not None and page.charts is not None,
                    timeout=WAIT_MS)
    rows = page.arch_model.architectures()
    # Face ResNet first, the automatic choice beside it, saying what it picks and why.
    assert rows[0].name == "faceresnet" and rows[0].weights_available
    assert rows[1].automatic and rows[1].display_name.startswith("Automatic")
    assert "Face ResNet" in rows[1].description and "seconds" in rows[1].description
    assert rows[1].weights_badge == "picks for you"

    page.arch_model.set_checked(["auto"])
    page.form.set_values({"pretrained": False, "device": "cpu"})  # only the device counts
    assert page._start_problem() == ""
    [job] = page.start_training()
    assert page.message_text().startswith("Automatic: Picks Face ResNet")
    entry = page.queue.entries[-1]
    qtbot.waitUntil(lambda: job.state.finished, timeout=WAIT_MS)
    assert job.state is JobState.SUCCEEDED, job.error_message
    entry.drain()
    # The live charts got the head-only epochs, under the network the engine chose.
    assert entry.curves.arch == "faceresnet" and len(entry.curves.epoch) >= 5
    assert page.charts.point_counts()["val_acc"] == len(entry.curves.epoch)
    [run] = page._session.catalog.runs.list()
    assert run.arch == "faceresnet" and run.status == "completed"
    assert run.config["freeze_epochs"] == run.config["epochs"]  # frozen throughout

    window.show_page("evaluate")
    evaluate = window.workspace.page("evaluate")
    qtbot.waitUntil(lambda: evaluate.current_run_id == run.id and evaluate.results_loaded,
                    timeout=WAIT_MS)
    qtbot.waitUntil(lambda: evaluate.accuracy_label.text().startswith("Accuracy"),
                    timeout=WAIT_MS)
    assert evaluate.report is not None and evaluate.report.accuracy >= 0.8
