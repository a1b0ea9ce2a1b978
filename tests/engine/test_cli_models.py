"""`facelab predict | export | weights | models | summary`, run in-process."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import torch
from PIL import Image

from engine.cli import main
from engine.models import list_architectures
from tests.engine.inference.celeb_run import celeb_run as build_celeb_run


@pytest.fixture(scope="module")
def celeb_run(tmp_path_factory, datasets):
    return build_celeb_run(tmp_path_factory, datasets)


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


# -------------------------------------------------------------------------- predict
@pytest.mark.slow
def test_predict_json_lists_every_image_and_skips_unreadable_ones(celeb_run, capsys, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("not a photo")
    wall = tmp_path / "wall.png"
    Image.new("RGB", (120, 90), (200, 200, 200)).save(wall)
    images = [celeb_run.two_face_photo, notes, wall]

    code, out, err = run_cli(capsys, "predict", celeb_run.root, "--run", celeb_run.run_id,
                             *images, "--json", "--threshold", "0")

    assert code == 0  # the readable images were predicted
    assert err.strip().splitlines() == [f"error: {notes}: not an image, or a format FaceLab "
                                        f"cannot read"]
    entries = json.loads(out)
    assert [e["image"] for e in entries] == [str(p) for p in images]
    two, bad, whole = entries
    assert len(two["faces"]) == 2 and "error" not in two
    for face in two["faces"]:
        assert set(face) >= {"box", "person", "confidence", "unknown", "top"}
        assert len(face["box"]) == 4 and len(face["top"]) == 3
        assert face["person"] == face["top"][0]["person"] and not face["unknown"]
    assert bad["error"] and bad["faces"] == []
    assert [f["whole_image"] for f in whole["faces"]] == [True]


@pytest.mark.slow
def test_predict_threshold_and_plain_output(celeb_run, capsys):
    code, out, _ = run_cli(capsys, "predict", celeb_run.root, "--run", celeb_run.run_id,
                           celeb_run.two_face_photo, "--threshold", "1.01")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == f"{celeb_run.two_face_photo}: 2 face(s)"
    assert len(lines) == 3 and all(line.startswith("  unknown (closest: ") for line in lines[1:])


@pytest.mark.slow
def test_predict_fails_when_no_image_can_be_read(celeb_run, capsys, tmp_path):
    code, _, err = run_cli(capsys, "predict", celeb_run.root, "--run", celeb_run.run_id,
                           tmp_path / "missing.jpg")
    assert code == 1 and "file not found" in err


class CreatesMarker:
    """Unpickling this would create a file: what a malicious checkpoint does."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.mark.slow
def test_predict_refuses_a_checkpoint_that_would_run_code(celeb_run, capsys, tmp_path):
    from engine.project import Project

    marker = tmp_path / "marker"
    with Project.open(celeb_run.root) as project:
        run_dir = project.runs_dir / "evil-run"
        run_dir.mkdir()
        torch.save({"format_version": 1, "arch": "customcnn1", "class_names": ["a", "b"],
                    "config": CreatesMarker(marker)}, run_dir / "best.pt")
        project.catalog.runs.create(run_id="evil-run", arch="customcnn1", split_id=None,
                                    config={}, persons=["a", "b"],
                                    run_dir=project.stored_path(run_dir))

    code, out, err = run_cli(capsys, "predict", celeb_run.root, "--run", "evil-run",
                             celeb_run.two_face_photo)

    assert code == 1 and out == ""
    assert len(err.strip().splitlines()) == 1
    assert err.startswith("error: ") and "was refused" in err and "could run code" in err
    assert not marker.exists()


# --------------------------------------------------------------------------- export
@pytest.mark.slow
def test_export_onnx_writes_a_verified_model_and_a_usable_sidecar(celeb_run, capsys, tmp_path):
    import onnxruntime

    from engine.inference.predictor import Predictor
    from engine.project import Project
    from engine.storage import sha256_file

    out_path = tmp_path / "faces.onnx"
    code, out, _ = run_cli(capsys, "export", celeb_run.root, "--run", celeb_run.run_id,
                           "--format", "onnx", out_path)

    assert code == 0
    assert f"sha256: {sha256_file(out_path)}" in out and "max difference" in out
    sidecar = json.loads((tmp_path / "faces.onnx.json").read_text())
    assert sidecar["format"] == "onnx" and sidecar["sha256"] == sha256_file(out_path)
    assert sidecar["crop_settings"]["margin"] == 0.3 and sidecar["input_size"] == 224

    # The sidecar alone is enough to get FaceLab's own answer from the exported file.
    with Project.open(celeb_run.root) as project:
        predictor = Predictor.from_run(project, celeb_run.run_id, device="cpu")
    assert sidecar["persons"] == list(predictor.class_names)
    face = predictor.find_faces(celeb_run.two_face_photo)[0]
    size = sidecar["input_size"]
    image = np.asarray(Image.fromarray(face.crop).resize((size, size), Image.Resampling.BILINEAR),
                       np.float32) / 255.0
    image = (image - np.array(sidecar["mean"], np.float32)) / np.array(sidecar["std"], np.float32)
    session = onnxruntime.InferenceSession(str(out_path), providers=["CPUExecutionProvider"])
    [logits] = session.run([sidecar["output_name"]],
                           {sidecar["input_name"]: image.transpose(2, 0, 1)[None]})
    probs = torch.softmax(torch.from_numpy(logits), dim=1)[0].numpy()
    [expected] = predictor.predict_crops([face.crop])
    assert sidecar["persons"][int(np.argmax(probs))] == expected.top[0][0]
    assert float(probs.max()) == pytest.approx(expected.confidence, abs=1e-4)


@pytest.mark.slow
def test_export_torchscript_loads_back(celeb_run, capsys, tmp_path):
    out_path = tmp_path / "faces.pt"
    code, out, _ = run_cli(capsys, "export", celeb_run.root, "--run", celeb_run.run_id,
                           "--format", "torchscript", out_path)
    assert code == 0 and f"exported torchscript model to {out_path}" in out
    sidecar = json.loads((tmp_path / "faces.pt.json").read_text())
    with warnings.catch_warnings():  # torch deprecates TorchScript; the file still loads
        warnings.simplefilter("ignore", FutureWarning)
        loaded = torch.jit.load(str(out_path))
    logits = loaded(torch.zeros(2, 3, sidecar["input_size"], sidecar["input_size"]))
    assert logits.shape == (2, len(sidecar["persons"]))


# -------------------------------------------------------------------------- weights
@pytest.fixture
def weights_dir(tmp_path, monkeypatch):
    folder = tmp_path / "facelab-weights"
    monkeypatch.setenv("FACELAB_WEIGHTS_DIR", str(folder))
    return folder


def test_weights_list_reports_every_architecture(capsys, weights_dir):
    code, out, _ = run_cli(capsys, "weights", "list", "--json")
    assert code == 0
    rows = {row["arch"]: row for row in json.loads(out)}
    assert set(rows) == {spec.name for spec in list_architectures()}
    for row in rows.values():
        assert set(row) == {"arch", "available", "path", "filename", "message"} and row["message"]
    assert rows["customcnn1"]["filename"] is None and not rows["customcnn1"]["available"]


def test_weights_import_refuses_a_file_with_the_wrong_checksum(capsys, weights_dir, tmp_path):
    spec = next(s for s in list_architectures() if s.name == "resnet18")
    fake = tmp_path / spec.weights_filename
    torch.save({"fc.weight": torch.zeros(2, 2)}, fake)

    code, out, err = run_cli(capsys, "weights", "import", fake)

    assert code == 1 and out == ""
    assert len(err.strip().splitlines()) == 1 and "SHA-256" in err and "Download it again" in err
    assert not (weights_dir / spec.weights_filename).exists()


def test_weights_import_of_an_unknown_file_says_what_is_expected(capsys, weights_dir, tmp_path):
    stray = tmp_path / "my_model.pth"
    stray.write_bytes(b"x")
    code, _, err = run_cli(capsys, "weights", "import", stray)
    assert code == 1 and "not a weights file FaceLab knows" in err


# ------------------------------------------------------------------ models, summary
def test_models_json_describes_every_architecture(capsys, weights_dir):
    code, out, _ = run_cli(capsys, "models", "--json")
    assert code == 0
    rows = {row["name"]: row for row in json.loads(out)}
    assert set(rows) == {spec.name for spec in list_architectures()}
    cnn = rows["customcnn1"]
    assert cnn["input_size"] == 224 and cnn["params"] > 0 and cnn["weights_available"] is False
    assert cnn["description"]


def test_summary_prints_the_layer_table(capsys):
    code, out, _ = run_cli(capsys, "summary", "customcnn1", "--classes", "5")
    assert code == 0
    assert "Layer" in out and "Output shape" in out and "Total parameters:" in out
    assert "with a 5-class head" in out


def test_summary_of_an_unknown_architecture_is_one_line(capsys):
    code, _, err = run_cli(capsys, "summary", "lenet9000")
    assert code == 1 and err.startswith("error: Unknown architecture 'lenet9000'")
    assert len(err.strip().splitlines()) == 1
