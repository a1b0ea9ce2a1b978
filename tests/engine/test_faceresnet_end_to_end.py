"""Face ResNet trained the instant way (`--arch auto`: the backbone frozen, a head on each
face's cached features) on real 5celeb faces, then everything that works for the other
architectures, through the engine and the `facelab` CLI: live events, evaluation with a
confidence interval, confusion matrix, error gallery, Grad-CAM, label-mistake finder,
predict, webcam (a video file), ONNX and TorchScript export, the HTML report.

The run is trained once for the module (about half a minute on two cores); the tools
then read it.
"""

from __future__ import annotations

import json
import math
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from engine.cli import main as cli_main

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class InstantRun:
    root: Path
    run_id: str
    events: tuple
    epochs: int
    reason: str


@pytest.fixture(scope="module")
def instant(cropped_5celeb, tmp_path_factory) -> InstantRun:
    from engine.project import Project
    from engine.training.auto import auto_config
    from engine.training.runner import train_run

    root = tmp_path_factory.mktemp("faceresnet-e2e") / "project"
    shutil.copytree(cropped_5celeb, root)
    events = []
    with Project.open(root) as project:
        config, reason = auto_config(project, {"device": "cpu"})
        result = train_run(project, config, callbacks=[events.append])
    assert result.finished.status == "completed", result.finished.message
    return InstantRun(root, result.run_id, tuple(events), config.epochs, reason)


def _cli_json(capsys, *argv: str):
    capsys.readouterr()
    assert cli_main(list(argv)) == 0
    return json.loads(capsys.readouterr().out)


def _labelled_photos(root: Path) -> dict[str, list[Path]]:
    """Each person's photos holding exactly one face, labelled in the catalog."""
    from engine.project import Project

    with Project.open(root, readonly=True) as project:
        catalog = project.catalog
        names = {p.id: p.name for p in catalog.persons()}
        faces_of_photo: dict[int, list] = {}
        for face in catalog.faces():
            faces_of_photo.setdefault(face.photo_id, []).append(face)
        photos: dict[str, list[Path]] = {}
        for photo_id, faces in sorted(faces_of_photo.items()):
            if len(faces) == 1 and faces[0].person_id is not None:
                photos.setdefault(names[faces[0].person_id], []).append(
                    project.resolve(catalog.photo(photo_id).path))
    return photos


def test_auto_trains_the_frozen_face_network_with_the_live_events(instant):
    from engine.training.events import BatchEnded, EpochEnded, RunFinished, RunStarted

    assert "Face ResNet" in instant.reason and "frozen" in instant.reason
    kinds = [type(e) for e in instant.events]
    assert kinds[0] is RunStarted and kinds[-1] is RunFinished
    started = instant.events[0]
    assert started.config["arch"] == "faceresnet" and started.epochs == instant.epochs
    epochs = [e for e in instant.events if isinstance(e, EpochEnded)]
    batches = [e for e in instant.events if isinstance(e, BatchEnded)]
    # The charts' series: one point per epoch, batches inside every epoch.
    assert [e.epoch for e in epochs] == list(range(1, len(epochs) + 1))
    assert {b.epoch for b in batches} == {e.epoch for e in epochs}
    assert all(math.isfinite(e.train_loss) and math.isfinite(e.val_loss) for e in epochs)
    # Learned on millions of faces: five persons are told apart at once.
    assert max(e.val_acc for e in epochs) >= 0.8


def test_evaluation_has_a_confidence_interval_a_confusion_matrix_and_an_error_gallery(
        instant, capsys):
    from engine.evaluation.metrics import EvaluationReport
    from engine.evaluation.runs import stored_report
    from engine.project import Project

    report = _cli_json(capsys, "evaluate", str(instant.root), "--run", instant.run_id,
                       "--json", "--recompute")
    low, high = report["accuracy_ci"]
    assert low <= report["accuracy"] <= high and report["accuracy"] >= 0.75
    matrix = report["confusion_matrix"]
    assert len(matrix) == len(report["persons"]) == 5
    with Project.open(instant.root, readonly=True) as project:
        stored: EvaluationReport = stored_report(project, instant.run_id)
    assert sum(map(sum, matrix)) == len(stored.samples)
    # The error gallery's rows: each wrong prediction is in its confusion-matrix cell.
    for sample in stored.misclassified():
        assert sample in stored.samples_in_cell(sample.true_person, sample.predicted_person)
    assert sum(s.correct for s in stored.samples) == sum(matrix[i][i] for i in range(5))


def test_gradcam_reads_an_8x8_layer_and_explains_a_face(instant, tmp_path, capsys):
    from engine.evaluation.runs import run_checkpoint, stored_report
    from engine.models import gradcam_target_layers
    from engine.project import Project
    from engine.training.inference import load_trained_model

    with Project.open(instant.root, readonly=True) as project:
        trained = load_trained_model(run_checkpoint(project, instant.run_id))
        face_id = stored_report(project, instant.run_id).samples[0].sample_id
    sizes = []
    (layer,) = gradcam_target_layers("faceresnet", trained.model)
    hook = layer.register_forward_hook(lambda _m, _i, out: sizes.append(tuple(out.shape[-2:])))
    trained.model(torch.zeros(1, 3, 150, 150))
    hook.remove()
    assert sizes == [(8, 8)]
    out = tmp_path / "gradcam.png"
    capsys.readouterr()
    assert cli_main(["explain", str(instant.root), "--run", instant.run_id,
                     "--face", str(face_id), "--out", str(out)]) == 0
    assert out.stat().st_size > 0 and "Grad-CAM" in capsys.readouterr().out


def test_label_mistake_finder_with_face_resnet(instant, capsys):
    from engine.project import Project

    result = _cli_json(capsys, "mistakes", str(instant.root), "--method", "faceresnet",
                       "--folds", "2", "--epochs", "20", "--json")
    rows = result["mistakes"]  # beside them: the method and how reliable the list is
    assert result["method"] == "faceresnet" and 0 < result["oof_accuracy"] <= 1
    with Project.open(instant.root, readonly=True) as project:
        persons = {p.name for p in project.catalog.persons()}
    # Real, correctly filed photos: a face network finds few suspects, and names persons.
    assert len(rows) <= 12
    assert all(row["given"] in persons and row["suggested"] in persons for row in rows)


def test_predict_names_the_person_of_a_photo(instant, capsys):
    photos = _labelled_photos(instant.root)
    named = {}
    for person in sorted(photos)[:2]:
        (result,) = _cli_json(capsys, "predict", str(instant.root), str(photos[person][0]),
                              "--run", instant.run_id, "--device", "cpu", "--json")
        named[person] = [face["person"] for face in result["faces"]]
    assert all(person in faces for person, faces in named.items()), named


def test_webcam_names_the_faces_of_a_video(instant, tmp_path, capsys):
    from engine.inference.fake_camera import write_photo_video

    photos = _labelled_photos(instant.root)
    person = sorted(photos)[0]
    video = write_photo_video(tmp_path / "camera.avi", photos[person][:2], 6)
    capsys.readouterr()
    assert cli_main(["webcam", str(instant.root), "--run", instant.run_id, "--source",
                     str(video), "--every-frame", "--json", "--device", "cpu",
                     "--threads", "1"]) == 0
    frames = [json.loads(line) for line in capsys.readouterr().out.splitlines()
              if line.startswith("{")]
    assert len(frames) == 12
    seen = [face["person"] for frame in frames for face in frame["faces"]]
    assert seen and seen.count(person) >= len(seen) // 2, seen


@pytest.mark.parametrize("fmt, suffix", [("onnx", ".onnx"), ("torchscript", ".pt")])
def test_export_is_verified_by_reloading(instant, tmp_path, capsys, fmt, suffix):
    out = tmp_path / f"faceresnet{suffix}"
    capsys.readouterr()
    # The CLI exports, loads the file back and compares its outputs with the model's.
    assert cli_main(["export", str(instant.root), str(out), "--run", instant.run_id,
                     "--format", fmt]) == 0
    sidecar = json.loads(Path(f"{out}.json").read_text())
    assert sidecar["input_size"] == 150 and len(sidecar["persons"]) == 5
    if fmt == "torchscript":
        from engine.evaluation.runs import run_checkpoint
        from engine.project import Project
        from engine.training.inference import load_trained_model

        with Project.open(instant.root, readonly=True) as project:
            trained = load_trained_model(run_checkpoint(project, instant.run_id))
        faces = torch.rand(2, 3, 150, 150)
        with torch.inference_mode():
            expected = trained.model(faces)
            got = torch.jit.load(str(out))(faces)
        assert torch.allclose(got, expected, atol=1e-4)


def test_html_report(instant, tmp_path):
    out = tmp_path / "report.html"
    assert cli_main(["report", str(instant.root), "--run", instant.run_id, str(out),
                     "--samples", "2", "--gradcam", "1"]) == 0
    html = out.read_text(encoding="utf-8")
    assert "Face ResNet" in html and "data:image/png;base64" in html
