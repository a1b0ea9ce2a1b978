"""The training settings form: every setting has a visible explanation, its choices
agree with the engine's, and its values make a valid TrainConfig."""

from __future__ import annotations

from engine.data.augment import PRESETS
from engine.training.config import CLASS_WEIGHTINGS, OPTIMIZERS, TrainConfig
from gui.jobs.training_jobs import PresetInfo
from engine.cli_training import add_train_options
from engine.training.settings import TRAIN_SETTINGS
from gui.widgets.training_form import LR_LADDER, LearningRateSpinBox, TrainingSettingsForm


def _form(qtbot) -> TrainingSettingsForm:
    form = TrainingSettingsForm()
    qtbot.addWidget(form)
    form.set_choices([PresetInfo(p.name, p.description) for p in PRESETS.values()],
                     [("auto", "Automatic"), ("cpu", "CPU")], OPTIMIZERS, CLASS_WEIGHTINGS)
    return form


def test_the_form_and_the_command_line_are_built_from_one_declaration(qtbot):
    """Every declared setting is a TrainConfig field, has a CLI option, and (unless
    declared CLI-only) a row in the form with the declared label and range."""
    import argparse
    import dataclasses

    fields = {field.name for field in dataclasses.fields(TrainConfig)}
    parser = argparse.ArgumentParser()
    add_train_options(parser)
    options = {action.dest for action in parser._actions}
    form = _form(qtbot)
    for setting in TRAIN_SETTINGS:
        assert setting.name in fields and setting.name in options, setting.name
        if setting.in_form:
            assert setting.name in form.controls and setting.name in form.hints
        else:
            assert setting.name not in form.controls
    assert form.epochs.maximum() == 1000 and form.early_stopping_patience.specialValueText() == "Off"
    assert tuple(OPTIMIZERS) == ("adam", "adamw", "sgd")
    assert tuple(CLASS_WEIGHTINGS) == ("none", "loss", "sampler")


def test_form_values_are_config_fields_and_older_names_still_load(qtbot):
    form = _form(qtbot)
    assert set(form.values()) <= {field for field in TrainConfig.__dataclass_fields__}
    form.set_values({"patience": 0})  # remembered by an earlier FaceLab under this name
    assert form.values()["early_stopping_patience"] == 0


def test_every_setting_has_a_visible_hint_that_follows_the_choice(qtbot):
    form = _form(qtbot)
    form.show()
    for key, hint in form.hints.items():
        assert hint.isVisible() and len(hint.text()) > 20, key
    form.set_values({"augment": "strong", "optimizer": "sgd", "early_stopping_patience": 0})
    assert form.hints["augment"].text() == PRESETS["strong"].description
    assert "higher learning rate" in form.hints["optimizer"].text()
    assert form.hints["early_stopping_patience"].text().startswith("Off")


def test_values_make_a_valid_config_and_freezing_needs_pretrained(qtbot):
    form = _form(qtbot)
    form.set_values({"epochs": 5, "lr": 0.01, "early_stopping_patience": 0, "freeze_epochs": 3,
                     "augment": "light", "class_weighting": "loss"})
    assert not form.freeze_epochs.isEnabled()
    config = TrainConfig(**form.config_values("resnet18"))
    assert (config.epochs, config.lr, config.early_stopping_patience, config.freeze_epochs,
            config.augment, config.class_weighting, config.pretrained) == \
        (5, 0.01, None, 0, "light", "loss", False)
    form.set_values({"pretrained": True, "freeze_epochs": 9})
    assert form.freeze_epochs.isEnabled() and form.freeze_epochs.value() == 5  # <= epochs
    assert TrainConfig(**form.config_values("resnet18")).freeze_epochs == 5


def test_learning_rate_steps_by_order_of_magnitude(qtbot):
    spin = LearningRateSpinBox()
    qtbot.addWidget(spin)
    assert spin.text() == "0.001"
    spin.stepBy(1)
    assert spin.value() == 0.002
    spin.stepBy(-2)
    assert spin.value() == 0.0005 and spin.text() == "0.0005"
    spin.setValue(3e-5)
    spin.stepBy(1)
    assert spin.value() in LR_LADDER and spin.value() == 5e-05
