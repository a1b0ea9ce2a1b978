from __future__ import annotations

import json

import pytest

from engine.training.config import TrainConfig


def test_defaults_follow_the_lab():
    config = TrainConfig(arch="customcnn1")
    assert (config.batch_size, config.lr, config.optimizer, config.augment) == (32, 1e-3, "adam", "standard")
    assert (config.device, config.amp, config.channels_last, config.seed) == ("auto", "auto", "auto", 0)
    assert config.dropout is None and config.deterministic is True


def test_round_trip_through_json():
    config = TrainConfig(arch="resnet18", epochs=7, optimizer="sgd", scheduler="cosine", dropout=0.2,
                         class_weighting="sampler", pretrained=True, freeze_epochs=2, amp=False)
    assert TrainConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config


def test_from_dict_rejects_unknown_keys_by_name():
    with pytest.raises(ValueError, match="Unknown training setting\\(s\\): learning_rate, warmup"):
        TrainConfig.from_dict({"arch": "customcnn1", "learning_rate": 0.1, "warmup": 3})


def test_from_dict_needs_an_architecture():
    with pytest.raises(ValueError, match="arch"):
        TrainConfig.from_dict({"epochs": 3})


@pytest.mark.parametrize("changes, named", [
    ({"lr": 0}, "lr"),
    ({"epochs": 0}, "epochs"),
    ({"batch_size": 2.5}, "batch_size"),
    ({"optimizer": "rmsprop"}, "optimizer"),
    ({"scheduler": "cyclic"}, "scheduler"),
    ({"class_weighting": "oversample"}, "class_weighting"),
    ({"augment": "extreme"}, "augment"),
    ({"label_smoothing": 1.0}, "label_smoothing"),
    ({"dropout": -0.1}, "dropout"),
    ({"early_stopping_patience": 0}, "early_stopping_patience"),
    ({"freeze_epochs": 30}, "freeze_epochs"),
    ({"device": "gpu-please"}, "device"),
    ({"amp": "yes"}, "amp"),
    ({"channels_last": 1}, "channels_last"),
    ({"seed": -1}, "seed"),
    ({"pretrained": "yes"}, "pretrained"),
    ({"limit_train_batches": 0}, "limit_train_batches"),
])
def test_invalid_values_are_named(changes, named):
    with pytest.raises(ValueError, match=named):
        TrainConfig(arch="customcnn1", **changes)


def test_all_problems_are_reported_at_once():
    with pytest.raises(ValueError, match="lr.*optimizer"):
        TrainConfig(arch="customcnn1", lr=-1.0, optimizer="nope")


def test_whole_numbers_for_float_settings_are_stored_as_floats():
    config = TrainConfig(arch="customcnn1", lr=1, weight_decay=0)
    assert isinstance(config.lr, float) and isinstance(config.to_dict()["weight_decay"], float)
