"""The Train page: live charts, stop within a batch, resume, a queue of two runs, past
runs reopened, readable errors (missing weights, too few persons), weights import.

Real 5celeb crops and tiny registered architectures (32 px), so a run takes seconds.
"""

from __future__ import annotations

import pytest
import torch
from PySide6.QtCore import Qt
from torch import nn

import engine.models as models
from gui.jobs import JobState
from gui.models.runs import RUN_ID_ROLE
from tests.gui.conftest import add_faces

pytestmark = pytest.mark.slow

TINY_A, TINY_B, TINY_PRETRAINED = "gui_tiny_a", "gui_tiny_b", "gui_tiny_pretrained"
TINY_WEIGHTS = "gui_tiny_weights.pth"
FAST = {"epochs": 3, "batch_size": 16, "augment": "none", "early_stopping_patience": 0, "pretrained": False,
        "device": "cpu"}
WAIT_MS = 120_000


class TinyNet(nn.Module):
    def __init__(self, num_classes: int, dropout: float | None) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8),
                                      nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Sequential(nn.Dropout(dropout or 0.0), nn.Linear(8, num_classes))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(images))


@pytest.fixture(autouse=True, scope="module")
def tiny_archs():
    for name, display in ((TINY_A, "Tiny A"), (TINY_B, "Tiny B")):
        models.register_architecture(models.ArchSpec(
            name=name, display_name=display, description=f"{display}: a test network.",
            input_size=32, mean=(0.5,) * 3, std=(0.5,) * 3, family="cnn", builder=TinyNet))
    models.register_architecture(models.ArchSpec(
        name=TINY_PRETRAINED, display_name="Tiny pretrained",
        description="A test network with pretrained weights.", input_size=32,
        mean=(0.5,) * 3, std=(0.5,) * 3, family="cnn", builder=TinyNet,
        pretrained_source="torchvision", weights_filename=TINY_WEIGHTS,
        pretrained_dataset="TestNet"))
    yield
    for name in (TINY_A, TINY_B, TINY_PRETRAINED):
        models.unregister_architecture(name)


@pytest.fixture(autouse=True)
def _own_weights_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("FACELAB_WEIGHTS_DIR", str(tmp_path / "weights"))


@pytest.fixture
def celeb_root(cropped_5celeb, project_copy):
    project = project_copy(cropped_5celeb)
    project.close()  # the window opens its own
    return project.root


def _open_train_page(qtbot, window, root):
    assert window.open_project(str(root))
    window.show_page("train")
    page = window.workspace.page("train")
    qtbot.waitUntil(lambda: page.choices is not None and page.charts is not None,
                    timeout=WAIT_MS)
    return page


@pytest.fixture
def page(qtbot, window, celeb_root):
    return _open_train_page(qtbot, window, celeb_root)


def _configure(page, archs, **settings):
    page.arch_model.set_checked(archs)
    page.form.set_values({**FAST, **settings})


def _wait_done(qtbot, jobs):
    qtbot.waitUntil(lambda: all(job.state.finished for job in jobs), timeout=WAIT_MS)


def _catalog_runs(page):
    return page._session.catalog.runs.list()


def test_training_shows_points_live_and_stop_cancels_within_a_batch(qtbot, page):
    _configure(page, [TINY_A], epochs=500)
    [job] = page.start_training()
    entry = page.queue.entries[-1]
    # Points arrive while the run is still training, not only at its end.
    qtbot.waitUntil(lambda: job.state is JobState.RUNNING
                    and page.charts.point_counts()["train_loss"] >= 2, timeout=WAIT_MS)
    counts = page.charts.point_counts()
    assert counts["batch_loss"] >= 2 and counts["throughput"] == counts["batch_loss"]
    assert counts["val_acc"] == counts["train_loss"]
    assert "Training Tiny A on cpu" in page.status_label.text()
    assert "left" in page.status_label.text()  # the ETA

    page.stop_training()
    entry.drain()  # everything the trainer sent before it could see the flag
    batches_at_stop = len(entry.curves.batch_x)
    with qtbot.waitSignal(page.queue_finished, timeout=WAIT_MS):
        pass
    assert job.state is JobState.CANCELLED
    assert len(entry.curves.batch_x) - batches_at_stop <= 1  # the batch in flight, at most
    [run] = _catalog_runs(page)
    assert run.status == "cancelled"
    assert "cancelled" in page.status_label.text()
    assert "Resume" in page.message_text()
    qtbot.waitUntil(lambda: page.runs_model.rowCount() == 1
                    and page.runs_model.run(0).status == "cancelled", timeout=WAIT_MS)
    page.show_run(run.id)
    assert page.resume_button.isEnabled()


def test_a_cancelled_run_resumes_where_it_stopped(qtbot, page):
    _configure(page, [TINY_A], epochs=500)
    [job] = page.start_training()
    qtbot.waitUntil(lambda: page.charts.point_counts()["train_loss"] >= 1, timeout=WAIT_MS)
    page.stop_training()
    _wait_done(qtbot, [job])
    [run] = _catalog_runs(page)
    saved = len(page._session.catalog.runs.epochs(run.id))
    assert saved >= 1
    qtbot.waitUntil(lambda: page.runs_model.rowCount() == 1
                    and page.runs_model.run(0).status == "cancelled", timeout=WAIT_MS)

    page.show_run(run.id)
    resumed = page.resume_run(run.id)
    assert resumed is not None, page.message_text()
    entry = page.queue.entries[-1]
    qtbot.waitUntil(lambda: entry.curves.start_epoch == saved
                    and len(entry.curves.epoch) >= saved + 1, timeout=WAIT_MS)
    # One curve: the stored epochs, then the new ones right after them.
    assert list(entry.curves.epoch[:saved + 1]) == list(range(1, saved + 2))
    assert page.charts.curves is entry.curves
    page.stop_training()
    _wait_done(qtbot, [resumed])
    assert [r.id for r in _catalog_runs(page)] == [run.id]


def test_queue_of_two_architectures_records_two_runs(qtbot, page):
    _configure(page, [TINY_A, TINY_B], epochs=2)
    assert page.start_button.text() == "Start 2 runs"
    with qtbot.waitSignal(page.queue_finished, timeout=WAIT_MS):
        jobs = page.start_training()
        assert len(jobs) == 2 and all(job.gpu for job in jobs)
    assert [job.state for job in jobs] == [JobState.SUCCEEDED] * 2
    runs = _catalog_runs(page)
    assert sorted(r.arch for r in runs) == [TINY_A, TINY_B]
    assert all(r.status == "completed" for r in runs)
    qtbot.waitUntil(lambda: page.runs_model.rowCount() == 2
                    and all(r.test_acc is not None for r in page.runs_model.runs()),
                    timeout=WAIT_MS)
    assert "Tiny A — completed" in page.queue_label.text()
    assert "Tiny B — completed" in page.queue_label.text()
    assert "Best on the test faces" in page.message_text()
    # The table is now the scoreboard: best test accuracy first.
    shown = [page.runs_proxy.index(r, 0).data(RUN_ID_ROLE) for r in range(2)]
    best = max(page.runs_model.runs(), key=lambda r: r.test_acc)
    assert shown[0] == best.id


def test_a_past_run_reopens_with_its_epoch_chart(qtbot, window, celeb_root):
    from engine.project import Project
    from engine.training.config import TrainConfig
    from engine.training.runner import train_run

    with Project.open(celeb_root) as project:
        result = train_run(project, TrainConfig(arch=TINY_B, epochs=4, batch_size=16,
                                                augment="none", device="cpu"))
    page = _open_train_page(qtbot, window, celeb_root)
    qtbot.waitUntil(lambda: page.runs_model.rowCount() == 1, timeout=WAIT_MS)
    assert page.charts.point_counts()["train_loss"] == 0

    page.show_run(result.run_id)
    counts = page.charts.point_counts()
    assert counts["train_loss"] == counts["val_loss"] == counts["val_acc"] == 4
    assert counts["batch_loss"] == 0  # batches are not stored, epochs are
    assert "Tiny B: completed, 4 of 4 epochs" in page.status_label.text()
    assert not page.resume_button.isEnabled()


def test_pretrained_without_weights_says_so_in_the_window_then_import_fixes_it(
        qtbot, page, tmp_path):
    arch = page.arch_model.architecture(TINY_PRETRAINED)
    assert "not on this machine" in arch.weights_text
    _configure(page, [TINY_PRETRAINED], pretrained=True, epochs=2, freeze_epochs=1)
    assert page.start_training() == []
    message = page.message_text()
    assert "No pretrained weights for Tiny pretrained" in message and TINY_WEIGHTS in message
    assert "From scratch" in message and page.message_label.isVisible()
    assert not page._runner.is_busy and not _catalog_runs(page)

    weights = tmp_path / "download" / TINY_WEIGHTS
    weights.parent.mkdir()
    torch.save(TinyNet(2, None).state_dict(), weights)
    with qtbot.waitSignal(page.choices_loaded, timeout=WAIT_MS):
        page.import_weights(str(weights))
    assert page.arch_model.architecture(TINY_PRETRAINED).weights_available
    with qtbot.waitSignal(page.queue_finished, timeout=WAIT_MS):
        [job] = page.start_training()
    assert job.state is JobState.SUCCEEDED, job.error_details
    [run] = _catalog_runs(page)
    assert run.config["pretrained"] and run.config["freeze_epochs"] == 1


def test_too_few_persons_is_a_readable_message_and_changes_nothing(qtbot, window, project):
    add_faces(project, 12, person="Alice", tag="a")
    root = project.root
    project.close()
    page = _open_train_page(qtbot, window, root)
    _configure(page, [TINY_A])
    with qtbot.waitSignal(page.queue_finished, timeout=WAIT_MS):
        [job] = page.start_training()
    assert job.state is JobState.FAILED
    assert "at least 2 persons" in page.message_text()
    assert "at least 2 persons" in window.banner.text() and window.banner.isVisible()
    assert "Traceback" not in window.banner.text()
    catalog = page._session.catalog
    assert catalog.split("default") is None and catalog.runs.list() == []


def test_nothing_checked_or_still_loading_is_explained(qtbot, page):
    page.arch_model.set_checked([])
    assert not page.start_button.isEnabled()
    assert page.start_training() == [] and "Check at least one" in page.message_text()


def test_settings_survive_a_restart_of_the_page(qtbot, window, celeb_root, settings):
    page = _open_train_page(qtbot, window, celeb_root)
    _configure(page, [TINY_B], epochs=7, optimizer="sgd", augment="light")
    window.close_project(forget=False)
    page = _open_train_page(qtbot, window, celeb_root)
    values = page.form.values()
    assert (values["epochs"], values["optimizer"], values["augment"]) == (7, "sgd", "light")
    assert [a.name for a in page.arch_model.checked()] == [TINY_B]


def test_window_start_does_not_wait_for_the_train_page(qtbot, window, celeb_root):
    """The page stays light until shown: no choices job, no charts, no pyqtgraph."""
    assert window.open_project(str(celeb_root))
    page = window.workspace.page("train")
    assert page.choices is None and page.charts is None and not page._shown_once
    assert page.start_training() == [] and "still loading" in page.message_text()


def _stored_runs(root, statuses):
    """Runs as the catalog holds them after training stopped, without training:
    a run of each status, none with a checkpoint."""
    import time

    from engine.data.splits import DEFAULT_SPLIT, ensure_split
    from engine.project import Project
    from engine.training.config import TrainConfig

    ids = {}
    with Project.open(root) as project:
        split_id = ensure_split(project.catalog, DEFAULT_SPLIT).split.id
        persons = [p.name for p in project.catalog.persons()]
        config = TrainConfig(arch=TINY_A, epochs=3, batch_size=16, augment="none",
                             device="cpu").to_dict()
        for n, status in enumerate(statuses):
            run_id = f"run-{n}-{status}"
            project.catalog.runs.create(run_id=run_id, arch=TINY_A, split_id=split_id,
                                        config=config, persons=persons,
                                        run_dir=f"runs/{run_id}")
            project.catalog.runs.finish(run_id, status, best_epoch=None, best_val_loss=None,
                                        best_val_acc=None)
            ids[status] = run_id
            time.sleep(0.01)  # distinct start times: the table sorts by them
    return ids


def _click_run(qtbot, page, run_id, double=False):
    from gui.models.runs import ARCH

    row = page.runs_proxy.mapFromSource(page.runs_model.index(page.runs_model.row_of(run_id),
                                                              ARCH)).row()
    index = page.runs_proxy.index(row, ARCH)
    centre = page.runs_view.visualRect(index).center()
    click = qtbot.mouseDClick if double else qtbot.mouseClick
    click(page.runs_view.viewport(), Qt.MouseButton.LeftButton, pos=centre)


def test_resume_follows_the_selection_by_mouse_keys_or_code(qtbot, window, celeb_root):
    ids = _stored_runs(celeb_root, ["completed", "cancelled", "interrupted", "failed"])
    page = _open_train_page(qtbot, window, celeb_root)
    qtbot.waitUntil(lambda: page.runs_model.rowCount() == 4, timeout=WAIT_MS)

    for status in ("cancelled", "completed", "interrupted", "completed", "failed"):
        _click_run(qtbot, page, ids[status])
        assert page._selected_run_id() == ids[status]
        assert page.resume_button.isEnabled() == (status != "completed"), status

    from gui.models.runs import RUN_ID_ROLE

    page.runs_view.setFocus()
    _click_run(qtbot, page, ids["completed"])
    # The arrow keys move to the neighbouring row, whatever the table's sort order.
    row = page.runs_view.currentIndex().row()
    key, neighbour = (Qt.Key.Key_Up, row - 1) if row > 0 else (Qt.Key.Key_Down, row + 1)
    qtbot.keyClick(page.runs_view, key)
    assert page._selected_run_id() == page.runs_proxy.index(neighbour, 0).data(RUN_ID_ROLE)
    assert page.resume_button.isEnabled()  # every other run here is resumable
    page.show_run(ids["completed"])
    assert not page.resume_button.isEnabled()
    page.show_run(ids["interrupted"])
    assert page.resume_button.isEnabled()

    # A double-click only selects: resuming is the Resume button's, and it says so.
    _click_run(qtbot, page, ids["cancelled"], double=True)
    assert page.queue.entries == []
    assert page.resume_button.isEnabled()
    page.resume_run(ids["completed"])
    assert "already finished" in page.message_text() and page.queue.entries == []
    qtbot.mouseClick(page.resume_button, Qt.MouseButton.LeftButton)
    assert len(page.queue.entries) == 1
    # No checkpoint was saved: the engine starts it again from epoch 1, and the page says so.
    assert "starts again from epoch 1" in page.message_text()
    page.stop_training()
    _wait_done(qtbot, [page.queue.entries[0].job])


def test_import_dialog_offers_every_weights_file_the_engine_accepts():
    from gui.pages.train import WEIGHTS_FILTER

    offered = WEIGHTS_FILTER.split(";;")[0]
    names = [name for spec in models.list_architectures()
             for name in (spec.weights_filename, spec.convertible and spec.convertible.filename) if name]
    assert "dlib_face_recognition_resnet_model_v1.dat" in names
    for name in names:
        assert f"*.{name.rsplit('.', 1)[1]}" in offered, name
