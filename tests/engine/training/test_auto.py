"""`--arch auto` on real 5celeb crops: from scratch without weights, transfer with them;
and the reduced input size it trains at, followed through every path that feeds a model."""

from __future__ import annotations

import argparse

import pytest

from engine.cli_training import add_train_options, given_train_settings
from engine.models import WeightsStatus, WeightsUnavailableError
from engine.training import auto
from engine.training.auto import auto_config
from engine.training.config import TrainConfig, model_input_size
from engine.training.trainer import Trainer
from tests.engine.training.conftest import TINY_ARCH, TINY_SIZE, make_data

pytestmark = pytest.mark.slow


@pytest.fixture
def project(cropped_5celeb, project_copy):
    return project_copy(cropped_5celeb)


def _cli_args(*argv: str) -> dict:
    """The settings `facelab train DIR --arch auto ...` hands to auto_config."""
    parser = argparse.ArgumentParser()
    add_train_options(parser)
    return given_train_settings(parser.parse_args(list(argv)))


@pytest.fixture
def weights_on_disk(monkeypatch):
    """Pretend this machine holds the files of the given architectures."""

    def install(*available: str) -> None:
        def status(name: str) -> WeightsStatus:
            found = name in available
            return WeightsStatus(arch=name, available=found, path=None, filename=f"{name}.pth",
                                 message="found" if found else "missing")

        monkeypatch.setattr(auto, "weights_status", status)

    return install


@pytest.fixture
def fast_probe(monkeypatch):
    # The probe's own timing is covered by the from-scratch test; here only the
    # arithmetic around it matters.
    monkeypatch.setattr(auto, "measure_seconds_per_image", lambda *a, **k: 0.01)


def test_without_weights_it_trains_from_scratch_and_says_why(project, weights_on_disk):
    weights_on_disk()
    config, reason = auto_config(project, _cli_args())
    assert config.arch == auto.SCRATCH_ARCH and not config.pretrained
    assert config.freeze_epochs == 0
    assert config.input_size == auto.SCRATCH_INPUT_SIZE["cpu"]
    low, high = auto.EPOCH_RANGE["scratch"]
    assert low <= config.epochs <= high
    assert "no pretrained weights" in reason and "from scratch" in reason
    assert "epochs" in reason and "measured" in reason
    assert config.augment != "none" and config.label_smoothing > 0


def test_a_face_network_is_preferred_and_stays_frozen(project, weights_on_disk, monkeypatch):
    def no_timing(*args, **kwargs):
        raise AssertionError("a frozen face network needs no timing: the same on every machine")

    monkeypatch.setattr(auto, "measure_seconds_per_image", no_timing)
    weights_on_disk("resnet50", "facenet", "resnet18")
    config, reason = auto_config(project, _cli_args())
    assert config.arch == "facenet" and config.pretrained
    assert config.freeze_epochs == config.epochs == auto.INSTANT_EPOCHS
    assert config.augment == "none"  # so every epoch trains the head on cached features
    assert config.input_size is None  # the network's own 160 px
    assert "VGGFace2" in reason and "frozen" in reason


def test_fine_tuning_a_face_network_is_one_option_away(project, weights_on_disk):
    weights_on_disk("facenet")
    config, _ = auto_config(project, _cli_args("--freeze-epochs", "5", "--epochs", "12"))
    assert (config.arch, config.freeze_epochs, config.epochs) == ("facenet", 5, 12)


def test_options_typed_with_their_default_values_are_kept(project, weights_on_disk):
    """`--epochs 20 --lr 0.001` are TrainConfig's defaults, and still the user's choice."""
    weights_on_disk("facenet")
    config, reason = auto_config(project, _cli_args("--epochs", "20", "--lr", "0.001"))
    assert (config.epochs, config.lr, config.freeze_epochs) == (20, 0.001, 20)
    assert "your own epochs, lr kept" in reason


def test_imagenet_transfer_keeps_an_epoch_to_fine_tune(project, weights_on_disk, fast_probe):
    weights_on_disk("resnet50")
    config, _ = auto_config(project, _cli_args("--epochs", "2"))
    assert config.arch == "resnet50" and config.freeze_epochs == 1


def test_imagenet_weights_when_there_are_no_face_weights(project, weights_on_disk, fast_probe):
    weights_on_disk("resnet50", "resnet18")
    config, reason = auto_config(project, _cli_args())
    assert config.arch == "resnet18" and config.pretrained  # the cheaper one on a CPU
    assert "ImageNet" in reason


def test_explicit_options_win(project, weights_on_disk, fast_probe):
    weights_on_disk("facenet")
    config, reason = auto_config(project, _cli_args("--scratch", "--epochs", "3", "--lr", "0.01"))
    assert config.arch == auto.SCRATCH_ARCH and not config.pretrained
    assert (config.epochs, config.lr) == (3, 0.01)
    assert "--scratch" in reason and "epochs" in reason and "lr" in reason

    config, _ = auto_config(project, _cli_args("--epochs", "2"))
    assert config.arch == "facenet" and config.freeze_epochs == config.epochs == 2


def test_asking_for_weights_that_are_missing_is_an_error(project, weights_on_disk):
    weights_on_disk()
    with pytest.raises(WeightsUnavailableError, match="no pretrained weights"):
        auto_config(project, _cli_args("--pretrained"))


def test_a_reduced_input_size_reaches_training_evaluation_and_prediction(project):
    from engine.evaluation.runs import run_checkpoint
    from engine.inference.predictor import Predictor
    from engine.training.inference import load_trained_model
    from engine.training.runner import train_run

    config = TrainConfig(arch=TINY_ARCH, epochs=1, input_size=40, limit_train_batches=2)
    assert model_input_size(config) == 40
    assert model_input_size({"arch": TINY_ARCH}) == TINY_SIZE  # a config from before the setting
    result = train_run(project, config)
    assert result.report is not None  # evaluated at 40 px
    assert (project.root / "cache" / "size-40").is_dir()
    trained = load_trained_model(run_checkpoint(project, result.run_id))
    assert trained.spec.input_size == 40 and trained.spec.name == TINY_ARCH
    assert Predictor.from_run(project, result.run_id, device="cpu").input_size == 40


def test_a_fixed_size_network_refuses_another_input_size(tmp_path):
    config = TrainConfig(arch="customcnn1", epochs=1, input_size=64)
    with pytest.raises(ValueError, match="cannot take 64x64"):
        Trainer(config, make_data(size=64), tmp_path / "run").fit()


def test_fine_tuning_face_resnet_keeps_a_backbone_learning_rate_it_survives(project,
                                                                           weights_on_disk):
    """dlib's network under AdamW blew up at a backbone lr of 1e-3 (the head's 1e-2 x 0.1):
    fine-tuning from `--arch auto` lands on 1e-5, whatever lr the head was given."""
    import dataclasses
    import math

    from engine.training.events import BatchEnded, EpochEnded
    from engine.training.runner import train_run

    weights_on_disk("faceresnet")
    config, reason = auto_config(project, _cli_args("--freeze-epochs", "1", "--epochs", "2"))
    assert (config.arch, config.freeze_epochs, config.epochs) == ("faceresnet", 1, 2)
    assert config.lr * config.finetune_lr_factor == pytest.approx(auto.FINETUNE_BACKBONE_LR)
    assert "lr 1e-05" in reason
    typed, _ = auto_config(project, _cli_args("--lr", "0.01", "--freeze-epochs", "1"))
    assert typed.lr * typed.finetune_lr_factor == pytest.approx(auto.FINETUNE_BACKBONE_LR)

    events = []
    short = dataclasses.replace(config, limit_train_batches=3, device="cpu")
    result = train_run(project, short, evaluate=False, callbacks=[events.append])
    assert result.finished.status == "completed", result.finished.message
    tuned = [e.loss for e in events if isinstance(e, BatchEnded) and e.epoch == 2]
    assert len(tuned) == 3 and all(math.isfinite(loss) and loss < 5 for loss in tuned), tuned
    last = [e for e in events if isinstance(e, EpochEnded)][-1]
    assert math.isfinite(last.val_loss) and last.val_acc >= 0.6


def test_the_mistake_finder_trains_a_face_network_frozen(weights_on_disk):
    """`facelab mistakes --method faceresnet`: a head on cached features in each fold,
    as `--arch auto` trains it, not the whole network with augmentation."""
    weights_on_disk("faceresnet")
    settings = auto.transfer_or_scratch("faceresnet", 20)
    assert settings["pretrained"] and settings["freeze_epochs"] == 20
    assert settings["augment"] == "none" and settings["lr"] == auto.INSTANT_LR
    TrainConfig(arch="faceresnet", epochs=20, **settings)  # a valid configuration
    weights_on_disk()
    assert auto.transfer_or_scratch("faceresnet", 20) == {"pretrained": False,
                                                          "freeze_epochs": 0}


def test_the_train_page_is_told_what_auto_picks_and_in_which_order(weights_on_disk):
    weights_on_disk("faceresnet", "resnet18")
    assert auto.offer_order(["customcnn1", "resnet18", "facenet", "faceresnet"]) == [
        "faceresnet", "customcnn1", "resnet18", "facenet"]
    assert "Face ResNet" in auto.auto_preview("cpu") and "seconds" in auto.auto_preview("cpu")
    weights_on_disk("resnet18")
    assert "ImageNet" in auto.auto_preview("cpu")
    weights_on_disk()
    preview = auto.auto_preview("cpu")
    assert "No pretrained weights" in preview and "from scratch" in preview
    assert auto.offer_order(["customcnn1", "faceresnet"]) == ["customcnn1", "faceresnet"]
