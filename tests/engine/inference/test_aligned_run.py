"""An architecture that asks for aligned faces trains, evaluates, predicts and runs live on
aligned chips, and `facelab predict` and the webcam align a photo as the import did.

Real 5celeb photos, a tiny network registered here with face_framing="aligned"."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

import engine.models as models
from engine.cli import main as cli_main
from engine.data.cache import face_model_image
from engine.evaluation.explain import face_gradcam
from engine.evaluation.runs import run_checkpoint
from engine.inference.camera import Frame
from engine.inference.live_pipeline import FramePipeline, LiveSettings
from engine.inference.predictor import Predictor
from engine.ingest.align import AlignSettings, ensure_chips
from engine.training.config import TrainConfig, run_alignment, with_resolved_framing
from engine.training.inference import load_trained_model
from engine.training.runner import train_run
from tests.engine.training.conftest import TINY_SIZE, TinyNet

pytestmark = pytest.mark.slow

ALIGNED_ARCH = "tiny_aligned_cnn"


@pytest.fixture(scope="module", autouse=True)
def aligned_arch():
    models.register_architecture(models.ArchSpec(
        name=ALIGNED_ARCH, display_name="Tiny aligned CNN", description="A test network.",
        input_size=TINY_SIZE, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5), family="cnn",
        builder=TinyNet, head_path="head", face_framing="aligned"))
    yield ALIGNED_ARCH
    models.unregister_architecture(ALIGNED_ARCH)


@pytest.fixture(scope="module")
def aligned_run(cropped_5celeb, tmp_path_factory):
    """A copy of the 5celeb project with one 2-epoch run of the aligned tiny network."""
    import shutil

    from engine.project import Project

    root = tmp_path_factory.mktemp("aligned-run") / "project"
    shutil.copytree(cropped_5celeb, root)
    with Project.open(root) as project:
        config = TrainConfig(arch=ALIGNED_ARCH, epochs=2, batch_size=16, augment="none",
                             seed=1, early_stopping_patience=None)
        result = train_run(project, config)
    return root, result


@pytest.fixture
def project(aligned_run):
    from engine.project import Project

    with Project.open(aligned_run[0]) as opened:
        yield opened


def _single_face_photo(project):
    """A photo with exactly one (aligned) face, and that face."""
    faces = project.catalog.faces()
    for photo in project.catalog.photos("done"):
        mine = [f for f in faces if f.photo_id == photo.id]
        if len(mine) == 1 and mine[0].alignable:
            return project.resolve(photo.path), mine[0]
    raise AssertionError("5celeb has single-face photos")


def test_the_run_trains_and_is_evaluated_on_aligned_chips_and_records_its_framing(
        project, aligned_run):
    _, result = aligned_run
    assert result.finished.status == "completed" and result.report is not None
    assert 0.0 <= result.report.accuracy <= 1.0
    record = project.catalog.runs.get(result.run_id)
    assert record.config["face_framing"] == "aligned"
    assert record.config["alignment"] == AlignSettings().to_dict()
    trained = load_trained_model(run_checkpoint(project, result.run_id))
    assert run_alignment(trained.config) == AlignSettings()
    # The chips were cut (one per face of the split) and cached at the model's size.
    split_faces = project.catalog.faces()
    chips = list((project.root / "aligned").rglob("*.jpg"))
    assert len(chips) >= len(project.catalog.labelled_faces()) > 0
    assert (project.root / "cache" / f"aligned-{AlignSettings().key}" / f"size-{TINY_SIZE}"
            / "images.npy").exists()
    # Grad-CAM explains the face as the model saw it: the chip, not the crop.
    face = split_faces[0]
    chip = face_model_image(project, face.id, TINY_SIZE, AlignSettings())
    crop = face_model_image(project, face.id, TINY_SIZE, None)
    assert np.abs(chip.astype(int) - crop).mean() > 5
    result_cam, persons = face_gradcam(project, result.run_id, face.id)
    assert result_cam.overlay.shape[:2] == (TINY_SIZE, TINY_SIZE) and persons


def test_predict_aligns_a_photo_as_the_import_did(project, aligned_run, capsys):
    _, result = aligned_run
    path, face = _single_face_photo(project)
    stored = ensure_chips(project, [face], AlignSettings())[face.id]
    with Image.open(stored) as chip:
        imported = np.asarray(chip.convert("RGB"), dtype=int)
    predictor = Predictor.from_run(project, result.run_id, threshold=0.0, device="cpu")
    assert predictor.alignment == AlignSettings()
    [found] = predictor.find_faces(path)
    assert found.aligned and found.crop.shape == imported.shape
    # Same photo, same detector, same alignment: only the stored chip's JPEG differs.
    assert np.abs(found.crop.astype(int) - imported).mean() < 2.0
    [predicted] = predictor.predict_image(path)
    assert predicted.aligned and predicted.person in predictor.class_names
    code = cli_main(["predict", str(project.root), "--run", result.run_id, str(path), "--json"])
    out = capsys.readouterr().out
    assert code == 0
    [entry] = json.loads(out)
    assert [f["aligned"] for f in entry["faces"]] == [True]


def test_the_webcam_aligns_live_faces_with_the_same_function(project, aligned_run):
    _, result = aligned_run
    path, face = _single_face_photo(project)
    stored = ensure_chips(project, [face], AlignSettings())[face.id]
    with Image.open(stored) as chip:
        imported = np.asarray(chip.convert("RGB"), dtype=int)
    from engine.ingest.images import decode

    frame_rgb, _ = decode(path)
    frame_rgb.flags.writeable = False
    predictor = Predictor.from_run(project, result.run_id, threshold=0.0, device="cpu")
    # Detection settings that make MTCNN scan this small photo as the import did (its
    # smallest face, 12 px, at full size): then the live landmarks are the import's.
    pipeline = FramePipeline(predictor, LiveSettings(min_face_size=12, detect_every=5))
    detected = pipeline.process(Frame(0, 0.0, frame_rgb))
    reused = pipeline.process(Frame(1, 0.04, frame_rgb))
    assert detected.detect_ran and not reused.detect_ran
    [live] = detected.faces
    assert live.crop.shape == imported.shape
    assert np.allclose(np.asarray(pipeline._landmarks[live.track_id]),
                       np.asarray(face.landmarks), atol=0.5)
    assert np.abs(live.crop.astype(int) - imported).mean() < 2.0  # the stored chip's JPEG
    # A reused detection is aligned on its landmarks, exactly as when it was found.
    assert np.array_equal(reused.faces[0].crop, live.crop)


def test_old_runs_stay_on_crops_and_framing_settings_are_checked():
    # Runs recorded before framings existed were trained on crops, whatever their arch.
    assert run_alignment({"arch": ALIGNED_ARCH}) is None
    assert run_alignment({"arch": ALIGNED_ARCH, "face_framing": None}) == AlignSettings()
    resolved = with_resolved_framing(TrainConfig(arch=ALIGNED_ARCH))
    assert resolved.face_framing == "aligned" and resolved.alignment == AlignSettings().to_dict()
    # Chips are never smaller than dlib's 150 px, and as large as a larger model's input.
    assert run_alignment(TrainConfig(arch=ALIGNED_ARCH, input_size=224)).chip_size == 224
    assert run_alignment(TrainConfig(arch=ALIGNED_ARCH, input_size=96)).chip_size == 150
    assert with_resolved_framing(TrainConfig(arch=ALIGNED_ARCH, face_framing="crop")
                                 ).alignment is None
    with pytest.raises(ValueError, match="face_framing"):
        TrainConfig(arch=ALIGNED_ARCH, face_framing="tilted")
    with pytest.raises(ValueError, match="alignment"):
        TrainConfig(arch=ALIGNED_ARCH, alignment={"chip_size": 150, "padding": 0.3})
    with pytest.raises(ValueError, match="face_framing"):
        models.ArchSpec(name="x", display_name="x", description="x", input_size=32,
                        mean=(0, 0, 0), std=(1, 1, 1), family="cnn", face_framing="tilted")


def test_facelab_train_takes_the_framing():
    import argparse

    from engine.cli_training import add_train_options, config_from_args

    parser = argparse.ArgumentParser()
    add_train_options(parser)
    assert config_from_args(ALIGNED_ARCH, parser.parse_args([])).face_framing is None
    assert config_from_args("resnet18", parser.parse_args(
        ["--face-framing", "aligned"])).face_framing == "aligned"


def test_a_run_recorded_before_framings_resumes_on_crops(project):
    """Its architecture asks for aligned faces now, but the run learnt on crops."""
    from engine.data.splits import ensure_split
    from engine.training.runner import resume_run

    split = ensure_split(project.catalog)
    legacy = TrainConfig(arch=ALIGNED_ARCH, epochs=1, batch_size=16, augment="none",
                         early_stopping_patience=None).to_dict()
    del legacy["face_framing"], legacy["alignment"]
    persons = sorted(project.catalog.person_counts())
    project.catalog.runs.create(run_id="legacy-run", arch=ALIGNED_ARCH, split_id=split.split.id,
                                config=legacy, persons=persons,
                                run_dir=project.stored_path(project.runs_dir / "legacy-run"))
    # Killed before its first checkpoint, as a run of an older FaceLab may have been.
    project.catalog.runs.finish("legacy-run", "interrupted", best_epoch=None,
                                best_val_loss=None, best_val_acc=None)
    result = resume_run(project, "legacy-run", evaluate=False)
    assert result.finished.status == "completed"
    trained = load_trained_model(run_checkpoint(project, "legacy-run"))
    assert trained.config["face_framing"] == "crop" and run_alignment(trained.config) is None
    assert Predictor.from_run(project, "legacy-run", device="cpu").alignment is None
