"""Project runs: the split's faces -> Trainer -> catalog records -> evaluation, and the CLI.

Real 5celeb crops, a tiny registered architecture (32 px) so each run takes seconds.
"""

import json
import subprocess
import sys

import pytest

from engine.cli import main as cli_main
from engine.evaluation.runs import project_scoreboard, stored_report
from engine.tasks import TaskContext
from engine.training.config import TrainConfig
from engine.training.events import EpochEnded
from engine.training.runner import resume_run, train_run
from tests.engine.training.conftest import TINY_ARCH

pytestmark = pytest.mark.slow


def _config(**kw) -> TrainConfig:
    base = dict(arch=TINY_ARCH, epochs=3, batch_size=16, augment="none", seed=1)
    base.update(kw)
    return TrainConfig(**base)


@pytest.fixture
def project(cropped_5celeb, project_copy):
    return project_copy(cropped_5celeb)


def test_run_is_recorded_epoch_by_epoch_and_evaluated_on_the_test_split(project):
    seen = []
    result = train_run(project, _config(), callbacks=[seen.append])
    record = project.catalog.runs.get(result.run_id)
    assert record.status == "completed" and record.arch == TINY_ARCH
    # The config as given, with the framing the run resolved (the architecture's own).
    assert record.config == {**_config().to_dict(), "face_framing": "crop"}
    assert sorted(record.persons) == sorted(project.catalog.person_counts())
    epochs = project.catalog.runs.epochs(result.run_id)
    assert [e.epoch for e in epochs] == [1, 2, 3]
    assert [e.val_loss for e in epochs] == [ev.val_loss for ev in seen
                                            if isinstance(ev, EpochEnded)]
    report = stored_report(project, result.run_id)
    assert report is not None and report.accuracy == result.report.accuracy
    from engine.data.splits import ensure_split

    test_faces = {f for f, _ in ensure_split(project.catalog).test}
    assert {s.sample_id for s in report.samples} == test_faces
    rows = project_scoreboard(project).rows()
    assert [r.run_id for r in rows] == [result.run_id]


def test_cancelled_run_resumes_to_completion(project):
    ctx = TaskContext()

    def cancel_after_first_epoch(event):
        if isinstance(event, EpochEnded) and event.epoch == 1:
            ctx.cancel()

    first = train_run(project, _config(), callbacks=[cancel_after_first_epoch], ctx=ctx)
    assert first.finished.status == "cancelled"
    assert project.catalog.runs.get(first.run_id).status == "cancelled"
    resumed = resume_run(project, first.run_id)
    assert resumed.finished.status == "completed"
    assert [e.epoch for e in project.catalog.runs.epochs(first.run_id)] == [1, 2, 3]
    assert stored_report(project, first.run_id) is not None


def test_run_of_a_dead_process_is_interrupted_and_resumable(project):
    ctx = TaskContext()
    first = train_run(project, _config(epochs=2),
                      callbacks=[lambda e: isinstance(e, EpochEnded) and ctx.cancel()], ctx=ctx)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    with project.catalog.db.write() as conn:  # as if the process had been killed mid-run
        conn.execute("UPDATE runs SET status = 'running', pid = ? WHERE id = ?",
                     (dead.pid, first.run_id))
    assert [r.status for r in project.catalog.runs.list()] == ["interrupted"]
    assert resume_run(project, first.run_id).finished.status == "completed"


def test_cli_train_evaluate_compare(project, tmp_path, capsys):
    root = str(project.root)
    summary = tmp_path / "run.json"
    assert cli_main(["train", root, "--arch", TINY_ARCH, "--epochs", "2", "--augment", "none",
                     "--json-out", str(summary)]) == 0
    run_id = capsys.readouterr().out.strip().splitlines()[-1]
    saved = json.loads(summary.read_text())
    assert saved["run_id"] == run_id and saved["status"] == "completed"

    assert cli_main(["evaluate", root, "--run", run_id, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    for key in ("accuracy", "macro_f1", "per_person", "confusion_matrix", "persons"):
        assert key in report
    assert len(report["confusion_matrix"]) == len(report["persons"]) == 5

    assert cli_main(["compare", root, "--archs", f"{TINY_ARCH},{TINY_ARCH}", "--epochs", "1",
                     "--augment", "none", "--json"]) == 0
    standings = json.loads(capsys.readouterr().out)
    rows = standings["ranked"]
    assert [r["rank"] for r in rows] == [1, 2]
    assert rows[0]["accuracy"] >= rows[1]["accuracy"]
    assert standings["not_comparable"] == []

    assert cli_main(["runs", root, "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 3


def test_missing_pretrained_weights_is_one_clear_line_and_no_run(project, capsys):
    code = cli_main(["train", str(project.root), "--arch", "resnet18", "--epochs", "1"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1
    assert "resnet18-" in err[0] and "facelab weights import" in err[0] and "--scratch" in err[0]
    assert project.catalog.runs.list() == []


def test_the_labs_customcnn1_learns_real_faces(project):
    """A short run of the lab's own model on real 5celeb crops: the training loss falls
    and train accuracy ends well above chance (20% for 5 persons)."""
    seen = []
    result = train_run(project, TrainConfig(arch="customcnn1", epochs=6, batch_size=16,
                                            augment="none", lr=5e-4, seed=0,
                                            early_stopping_patience=None),
                       callbacks=[seen.append], evaluate=False)
    epochs = [e for e in seen if isinstance(e, EpochEnded)]
    assert result.finished.status == "completed"
    assert epochs[-1].train_loss < 0.7 * epochs[0].train_loss, [e.train_loss for e in epochs]
    assert epochs[-1].train_acc >= 0.6, [e.train_acc for e in epochs]


def test_explain_writes_gradcam_and_feature_maps(project, tmp_path, capsys):
    from PIL import Image

    result = train_run(project, _config(epochs=1), evaluate=False)
    face = project.catalog.faces()[0].id
    cam = tmp_path / "cam.png"
    assert cli_main(["explain", str(project.root), "--run", result.run_id, "--face", str(face),
                     "--out", str(cam)]) == 0
    assert Image.open(cam).size == (32, 32)
    said = capsys.readouterr().out
    # The colour scale, or that the map is flat, in words beside the picture.
    assert "blue = low" in said or "Grad-CAM is flat for this face" in said
    maps = tmp_path / "maps.png"
    from engine.evaluation.explain import face_feature_layers

    layer = face_feature_layers(project, result.run_id)[0]
    assert cli_main(["explain", str(project.root), "--run", result.run_id, "--face", str(face),
                     "--out", str(maps), "--layer", layer]) == 0
    assert "feature maps" in capsys.readouterr().out
