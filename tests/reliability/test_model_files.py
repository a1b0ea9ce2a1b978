"""Model files: a checkpoint crafted to run code when opened is refused everywhere one is
opened (the code never runs); exports and weight imports are checksummed; and a whole
ordinary session makes no network connection."""

from __future__ import annotations

import json
import shutil
import socket
from pathlib import Path

import pytest
import torch

from engine.project import Project
from engine.storage import sha256_file
from tests.reliability.helpers import main_window, report
from tests.reliability.helpers import run_cli as _cli
from tests.reliability.synthetic import labelled_project

pytestmark = pytest.mark.slow


class _RunsCodeWhenOpened:
    """Pickles as "write the marker file": what a booby-trapped checkpoint carries."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.write_text, (self.marker, "code from a model file ran"))


def _booby_trap(checkpoint: Path, marker: Path) -> None:
    from engine.training.checkpoint import load_checkpoint

    payload = load_checkpoint(checkpoint)
    payload["history"].append({"note": _RunsCodeWhenOpened(marker)})
    # A new file, as FaceLab writes them: best.pt may be a hard link to last.pt.
    checkpoint.unlink()
    torch.save(payload, checkpoint)  # still a valid PyTorch zip, keys as expected


def test_checkpoint_that_would_run_code_is_refused_everywhere(tmp_path, tiny_arch, capsys):
    from engine.evaluation.runs import evaluate_run
    from engine.inference.predictor import Predictor
    from engine.ingest.crop import CropSettings
    from engine.models.errors import UnsafeWeightsFileError
    from engine.models.weights import read_state_dict
    from engine.training.checkpoint import UnsafeCheckpointError, load_checkpoint
    from engine.training.inference import load_trained_model
    from engine.training.runner import resume_run
    from tests.imagegen import gradient, save

    root = labelled_project(tmp_path / "project")
    code, _, out = _cli(["train", root, "--arch", tiny_arch, "--epochs", 2, "--augment", "none",
                         "--device", "cpu"])
    assert code == 0
    run_id = out.strip().splitlines()[-1]
    run_dir = root / "runs" / run_id
    marker = tmp_path / "pwned.txt"
    for name in ("best.pt", "last.pt"):
        _booby_trap(run_dir / name, marker)
    with Project.open(root) as project:  # a resumable run, to try `resume` too
        project.catalog.runs.set_running(run_id)
        project.catalog.runs.finish(run_id, "cancelled", best_epoch=None, best_val_loss=None,
                                    best_val_acc=None)
    photo = save(tmp_path / "photo.jpg", gradient(seed=3))
    refused = []
    for argv in (["evaluate", root, "--run", run_id, "--recompute"],
                 ["predict", root, photo, "--run", run_id],
                 ["export", root, tmp_path / "model.onnx", "--run", run_id, "--format", "onnx"],
                 ["export", root, tmp_path / "model.pt", "--run", run_id, "--format",
                  "torchscript"],
                 ["resume", root, "--run", run_id]):
        code, err, _ = _cli(argv)
        assert code == 1 and len(err) == 1, (argv, err)
        assert "refused" in err[0] and "could run code" in err[0], err[0]
        assert not marker.exists(), argv
        refused.append(f"facelab {argv[0]}" + (f" {argv[-1]}" if argv[0] == "export" else ""))
    assert not (tmp_path / "model.onnx").exists() and not (tmp_path / "model.pt").exists()

    loaders = {
        "load_checkpoint": lambda: load_checkpoint(run_dir / "best.pt"),
        "load_trained_model": lambda: load_trained_model(run_dir / "best.pt"),
        "Predictor.from_checkpoint": lambda: Predictor.from_checkpoint(
            run_dir / "best.pt", CropSettings(detector="haar"), device="cpu"),
    }
    with Project.open(root) as project:
        loaders["evaluate_run"] = lambda: evaluate_run(project, run_id, device="cpu")
        loaders["resume_run"] = lambda: resume_run(project, run_id)
        for name, load in loaders.items():
            with pytest.raises(UnsafeCheckpointError, match="could run code"):
                load()
            assert not marker.exists(), name
            refused.append(name)
        assert project.catalog.runs.get(run_id).status == "failed"  # the resume, told why
    weights = tmp_path / "weights.pth"
    torch.save({"0.weight": torch.zeros(2), "x": _RunsCodeWhenOpened(marker)}, weights)
    with pytest.raises(UnsafeWeightsFileError):
        read_state_dict(weights)
    refused.append("read_state_dict (weights)")

    # A weights import is checksummed: a file that is not the official one goes nowhere.
    fake = tmp_path / "downloads" / "resnet18-f37072fd.pth"
    fake.parent.mkdir()
    shutil.copy(weights, fake)
    code, err, _ = _cli(["weights", "import", fake])
    assert code == 1 and len(err) == 1 and "SHA-256" in err[0] and "f37072fd" in err[0]
    from engine.models.weights import facelab_weights_dir

    assert not (facelab_weights_dir() / fake.name).exists()
    assert not marker.exists()
    report(capsys, f"model files: a code-running checkpoint was refused by {len(refused)} "
                   f"entry points ({', '.join(refused)}); the marker file was never "
                   "created; a weights file failing its SHA-256 was not installed")


# ------------------------------------------------------------------- no network
@pytest.fixture
def no_network(monkeypatch):
    """Every way Python opens a connection, or looks a host name up, fails loudly and is
    recorded (a library might swallow the error)."""
    attempts: list[str] = []

    def refuse(what):
        def refused(*args, **kwargs):
            attempts.append(f"{what}{args[1:] if what.startswith('socket.') else args}")
            raise OSError(f"network access attempted: {what}")
        return refused

    monkeypatch.setattr(socket.socket, "connect", refuse("socket.connect"))
    monkeypatch.setattr(socket.socket, "connect_ex", refuse("socket.connect_ex"))
    monkeypatch.setattr(socket, "create_connection", refuse("create_connection"))
    monkeypatch.setattr(socket, "getaddrinfo", refuse("getaddrinfo"))
    return attempts


def test_an_ordinary_session_makes_no_network_connection(tmp_path, tiny_arch, datasets,
                                                         no_network, qtbot, capsys):
    root = labelled_project(tmp_path / "project")
    photos = tmp_path / "photos"
    for person in ("madonna", "ben_afflek"):
        for source in sorted((datasets / "5celeb" / person).glob("*.jpg"))[:2]:
            (photos / person).mkdir(parents=True, exist_ok=True)
            shutil.copy(source, photos / person / source.name)
    steps = []
    # Import + crop with the default detector (MTCNN: its weights ship in the wheel).
    code, err, _ = _cli(["import", root, photos, "--crop", "--workers", "1"])
    assert code == 0, err
    steps.append("import+crop (MTCNN)")
    code, err, out = _cli(["train", root, "--arch", tiny_arch, "--epochs", 1, "--augment",
                           "none", "--device", "cpu"])
    assert code == 0, err
    run_id = out.strip().splitlines()[-1]
    steps.append("train 1 epoch")
    code, err, out = _cli(["evaluate", root, "--run", run_id, "--json", "--recompute"])
    assert code == 0 and "accuracy" in json.loads(out), err
    steps.append("evaluate")
    photo = next(photos.rglob("*.jpg"))
    code, err, out = _cli(["predict", root, photo, "--run", run_id, "--json"])
    assert code == 0 and json.loads(out)[0]["faces"], err
    steps.append("predict")

    # The export is verified and checksummed: the printed SHA-256 is the file's, and
    # the sidecar carries it too.
    model = tmp_path / "faces.onnx"
    code, err, out = _cli(["export", root, model, "--run", run_id, "--format", "onnx"])
    assert code == 0, err
    digest = sha256_file(model)
    assert f"sha256: {digest}" in out
    assert json.loads((tmp_path / "faces.onnx.json").read_text())["sha256"] == digest
    steps.append("export (onnx, sha256 checked)")

    with main_window(qtbot, tmp_path / "settings") as window:
        assert window.open_project(str(root))
        qtbot.waitUntil(lambda: window.library_page.grid_model.rowCount() > 0, timeout=30_000)
        steps.append("main window (offscreen) with the project")
    assert no_network == [], no_network
    report(capsys, f"no network: 0 connection attempts over {len(steps)} steps "
                   f"({'; '.join(steps)})")
