"""The training settings form: every setting has a visible explanation, its choices
agree with the engine's, and its values make a valid TrainConfig."""

from __future__ import annotations

from engine.data.augment import PRESETS
from engine.training.config import CLASS_WEIGHTINGS, OPTIMIZERS, TrainConfig
from gui.jobs.training_jobs import PresetInfo
from gui.widgets.training_form import (LR_LADDER, OPTIMIZER_CHOICES, WEIGHTING_CHOICES,
                                       LearningRateSpinBox, TrainingSettingsForm)


def _form(qtbot) -> TrainingSettingsForm:
    form = TrainingSettingsForm()
    qtbot.addWidget(form)
    form.set_choices([PresetInfo(p.name, p.description) for p in PRESETS.values()],
                     [("auto", "Automatic"), ("cpu", "CPU")], OPTIMIZERS, CLASS_WEIGHTINGS)
    return form


def test_choices_the_form_explains_are_the_engines():
    assert set(OPTIMIZER_CHOICES) == set(OPTIMIZERS)
    assert set(WEIGHTING_CHOICES) == set(CLASS_WEIGHTINGS)


def test_every_setting_has_a_visible_hint_that_follows_the_choice(qtbot):
    form = _form(qtbot)
    form.show()
    for key, hint in form.hints.items():
        assert hint.isVisible() and len(hint.text()) > 20, key
    form.set_values({"augment": "strong", "optimizer": "sgd", "patience": 0})
    assert form.hints["augment"].text() == PRESETS["strong"].description
    assert "higher learning rate" in form.hints["optimizer"].text()
    assert form.hints["patience"].text().startswith("Off")


def test_values_make_a_valid_config_and_freezing_needs_pretrained(qtbot):
    form = _form(qtbot)
    form.set_values({"epochs": 5, "lr": 0.01, "patience": 0, "freeze_epochs": 3,
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
