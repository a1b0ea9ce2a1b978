"""`facelab train` options: only what the user typed reaches the run's settings."""

from __future__ import annotations

import argparse

from engine.cli_training import add_train_options, config_from_args, given_train_settings
from engine.training.config import TrainConfig


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_train_options(parser)
    return parser.parse_args(list(argv))


def test_untyped_options_are_not_settings():
    assert given_train_settings(_parse()) == {}
    assert given_train_settings(_parse("--epochs", "20", "--lr", "0.001")) == {
        "epochs": 20, "lr": 0.001}


def test_names_and_values_are_translated_to_the_config():
    given = given_train_settings(_parse("--early-stopping", "0", "--scratch", "--freeze-epochs", "2"))
    assert given == {"early_stopping_patience": None, "pretrained": False, "freeze_epochs": 2}


def test_config_from_args_fills_in_the_defaults():
    config = config_from_args("customcnn1", _parse("--epochs", "3"))
    assert config == TrainConfig(arch="customcnn1", epochs=3, pretrained=False)
    # resnet18 has pretrained weights to start from: the default unless --scratch.
    assert config_from_args("resnet18", _parse()).pretrained is True
    assert config_from_args("resnet18", _parse("--scratch")).pretrained is False


def test_a_face_network_trains_its_own_way_unless_told_otherwise():
    """`facelab train --arch faceresnet` with no options used to train the whole network
    at lr 0.001 from epoch 1, which destroys it (loss above 50,000, then chance)."""
    from engine.training import auto

    config = config_from_args("faceresnet", _parse())
    assert config.pretrained and config.freeze_epochs == config.epochs == auto.INSTANT_EPOCHS
    assert (config.lr, config.augment) == (auto.INSTANT_LR, "none")

    tuned = config_from_args("faceresnet", _parse("--epochs", "12", "--freeze-epochs", "5"))
    assert (tuned.epochs, tuned.freeze_epochs) == (12, 5)
    assert tuned.lr * tuned.finetune_lr_factor == auto.FINETUNE_BACKBONE_LR

    own = config_from_args("faceresnet", _parse("--lr", "0.01", "--augment", "light"))
    assert (own.lr, own.augment) == (0.01, "light")
    # From scratch, it is an ordinary network with TrainConfig's defaults.
    assert config_from_args("faceresnet", _parse("--scratch")).freeze_epochs == 0


def test_the_train_form_gives_a_face_network_its_own_way_too():
    """The form shows every setting: those left at TrainConfig's defaults are the
    architecture's own to choose, the starting weights always the form's."""
    from engine.training import auto
    from engine.training.auto import form_config

    shown = {k: v for k, v in TrainConfig(arch="faceresnet", pretrained=True).to_dict().items()
             if k != "arch"}
    config = form_config("faceresnet", shown)
    assert config.freeze_epochs == config.epochs and config.lr == auto.INSTANT_LR
    assert form_config("faceresnet", {**shown, "lr": 0.01}).lr == 0.01
    # Other architectures, and a face network from scratch, get exactly what is shown.
    plain = {**shown, "pretrained": False}
    assert form_config("customcnn1", plain) == TrainConfig(arch="customcnn1", **plain)
    assert form_config("faceresnet", plain) == TrainConfig(arch="faceresnet", **plain)
