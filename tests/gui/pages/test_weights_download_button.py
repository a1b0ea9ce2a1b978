"""The Train page's "Download weights" button: a job with progress in the status bar,
cancel that keeps nothing in the weights folder, resume, and readable failures. The
files come from a local HTTP server on 127.0.0.1, never the internet."""

from __future__ import annotations

import hashlib
import io

import pytest
import torch
from torch import nn

from engine import models
from engine.models.weights_download import WEIGHTS_BASE_URL_ENV
from gui.jobs import JobState
from tests.weights_server import WeightsServer

ARCH = "gui_download_test"
WAIT_MS = 60_000


def _net(num_classes: int, dropout: float | None) -> nn.Module:
    # A 512x512 layer: a file of about 1 MB, so the download has a middle to cancel in.
    return nn.Sequential(nn.Conv2d(3, 8, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(8, 512), nn.Linear(512, 512), nn.Linear(512, num_classes))


@pytest.fixture(scope="module")
def payload() -> bytes:
    torch.manual_seed(0)
    buffer = io.BytesIO()
    torch.save(_net(10, None).state_dict(), buffer)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def filename(payload) -> str:
    name = f"guinet-{hashlib.sha256(payload).hexdigest()[:8]}.pth"
    models.register_architecture(models.ArchSpec(
        name=ARCH, display_name="Download test net", description="A test network.",
        input_size=32, mean=(0.5,) * 3, std=(0.5,) * 3, family="cnn", builder=_net,
        head_path="5", pretrained_source="torchvision", weights_filename=name,
        weights_url=f"https://weights.invalid/{name}", pretrained_dataset="TestNet"))
    yield name
    models.unregister_architecture(ARCH)


@pytest.fixture
def weights_dir(tmp_path, monkeypatch):
    folder = tmp_path / "weights"
    monkeypatch.setenv("FACELAB_WEIGHTS_DIR", str(folder))
    monkeypatch.setenv("FACELAB_HOME", str(tmp_path / "home"))  # partial downloads
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy",
                 "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    return folder


@pytest.fixture
def page(qtbot, window, project, filename, weights_dir):
    root = project.root
    project.close()  # the window opens its own
    assert window.open_project(str(root))
    window.show_page("train")
    page = window.workspace.page("train")
    qtbot.waitUntil(lambda: page.choices is not None, timeout=WAIT_MS)
    return page


def _serve(server, monkeypatch):
    monkeypatch.setenv(WEIGHTS_BASE_URL_ENV, server.base_url)


def test_download_button_fetches_the_checked_architectures_weights(
        qtbot, window, page, payload, filename, weights_dir, monkeypatch):
    assert not page.download_button.isEnabled()  # nothing checked yet
    page.arch_model.set_checked([ARCH])
    assert page.download_button.isEnabled()
    assert "Download test net" in page.download_button.toolTip()
    status = window.job_status
    seen = []
    with WeightsServer({filename: payload}) as server:
        _serve(server, monkeypatch)
        with qtbot.waitSignal(page.choices_loaded, timeout=WAIT_MS):
            page.download_button.click()
            job = page._download_job
            assert job is not None and job.title == "Download weights" and not job.quiet
            job.progress_changed.connect(lambda p: seen.append(
                (p.stage, status.label.text(), status.progress_bar.format())))
    assert job.state is JobState.SUCCEEDED, job.error_details
    assert (weights_dir / filename).read_bytes() == payload
    assert page.arch_model.architecture(ARCH).weights_available
    assert "Weights downloaded and verified" in page.message_text()
    assert not page.download_button.isEnabled()  # nothing left to download
    stage, label, bar = seen[-1]
    assert stage == "download" and label == f"Download weights: downloading — {filename}"
    assert bar.endswith(" / 1.1 MB")


def test_cancel_keeps_nothing_in_the_weights_folder_and_the_next_download_resumes(
        qtbot, page, payload, filename, weights_dir, monkeypatch):
    page.arch_model.set_checked([ARCH])
    with WeightsServer({filename: payload}, pause_after=300_000) as server:
        _serve(server, monkeypatch)
        page.download_button.click()
        job = page._download_job
        # Midway: the server has sent 300 kB and waits (the status bar may show an
        # older count: it shows at most ten reports a second).
        qtbot.waitUntil(lambda: server.paused.is_set() and job.progress is not None,
                        timeout=WAIT_MS)
        assert page.download_button.text() == "Cancel download"
        with qtbot.waitSignal(job.finished, timeout=WAIT_MS):
            page.download_button.click()  # cancels
            assert page.download_button.text() == "Cancelling…"
            server.release.set()
        assert job.state is JobState.CANCELLED
        # Nothing of the cancelled file (Face ResNet's weights may be there: they are
        # converted from an installed package the first time the page asks about them).
        assert not weights_dir.exists() or [
            path.name for path in weights_dir.iterdir()
            if not path.name.startswith("dlib_face_recognition")] == []
        assert "continues where it stopped" in page.message_text()
        assert page.download_button.text() == "Download weights"

        server.pause_after = None
        page.download_button.click()
        again = page._download_job
        qtbot.waitUntil(lambda: page.arch_model.architecture(ARCH).weights_available,
                        timeout=WAIT_MS)
    assert again.state is JobState.SUCCEEDED, again.error_details
    resumed = server.requests[-1]
    assert resumed.range is not None and resumed.status == 206
    assert (weights_dir / filename).read_bytes() == payload


def test_a_failed_download_is_a_readable_message(qtbot, window, page, filename, monkeypatch):
    page.arch_model.set_checked([ARCH])
    with WeightsServer({}) as server:
        _serve(server, monkeypatch)
        page.download_button.click()
        job = page._download_job
        with qtbot.waitSignal(job.finished, timeout=WAIT_MS):
            pass
    assert job.state is JobState.FAILED
    message = page.message_text()
    assert message.startswith("The weights were not downloaded:") and "404" in message
    assert "Traceback" not in window.banner.text()
    assert page.download_button.isEnabled() and page.download_button.text() == "Download weights"
