"""The training settings, each with a visible one-line explanation a student can read
(tooltips alone are easy to miss). The hint of a choice follows the choice.

The rows are built from the engine's declaration of the settings
(`engine.training.settings.TRAIN_SETTINGS`: label, help, range, choices and their
hints), the same one the command line's options are built from. The form holds plain
values; ``config_values(arch)`` gives the keyword arguments of the engine's
TrainConfig for one architecture. The choices that depend on this machine (devices)
or on the engine's presets come through ``set_choices``.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (QComboBox, QDoubleSpinBox, QGridLayout, QLabel, QSpinBox,
                               QWidget)

from engine.training.settings import TRAIN_SETTINGS, Setting, train_setting
from gui.theme import set_muted

NO_GPU_HINT = " No CUDA GPU was found on this machine."
# Values the form remembered under older names (QSettings of earlier versions).
RENAMED_VALUES = {"patience": "early_stopping_patience"}

LR_LADDER = tuple(float(f"{m}e{e}") for e in range(-6, 1) for m in (1, 2, 5)
                  if float(f"{m}e{e}") <= 1)


class LearningRateSpinBox(QDoubleSpinBox):
    """A learning rate shown as 0.001 or 1e-05, stepping 1-2-5 (0.001 -> 0.002 -> 0.005):
    learning rates are tried by order of magnitude, not by adding 0.0001."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setDecimals(8)
        self.setRange(LR_LADDER[0], 1.0)
        self.setValue(1e-3)

    def textFromValue(self, value: float) -> str:
        return f"{value:g}"

    def valueFromText(self, text: str) -> float:
        try:
            return float(text.replace(",", "."))
        except ValueError:
            return self.value()

    def validate(self, text: str, pos: int):
        from PySide6.QtGui import QValidator

        stripped = text.replace(",", ".").strip()
        if not stripped:
            return QValidator.State.Intermediate, text, pos
        try:
            value = float(stripped)
        except ValueError:
            partial = stripped.rstrip("eE+-.") or "0"
            try:
                float(partial)
            except ValueError:
                return QValidator.State.Invalid, text, pos
            return QValidator.State.Intermediate, text, pos
        ok = self.minimum() <= value <= self.maximum()
        return (QValidator.State.Acceptable if ok else QValidator.State.Intermediate), text, pos

    def stepBy(self, steps: int) -> None:
        value, last = self.value(), len(LR_LADDER) - 1
        on_ladder = [i for i, v in enumerate(LR_LADDER) if abs(v - value) <= 1e-9 * v]
        if on_ladder:
            index = on_ladder[0] + steps
        elif steps > 0:  # a typed value (3e-5): the first step goes to the next rung
            index = next((i for i, v in enumerate(LR_LADDER) if v > value), last) + steps - 1
        else:
            index = max((i for i, v in enumerate(LR_LADDER) if v < value), default=0) + steps + 1
        self.setValue(LR_LADDER[max(0, min(last, index))])


class TrainingSettingsForm(QWidget):
    """Signal: ``changed()`` when any setting changed.

    Each setting's control is an attribute named after its TrainConfig field
    (``form.epochs``, ``form.early_stopping_patience``...), and ``hints[name]`` is the
    line under it.
    """

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._grid = QGridLayout(self)
        self._grid.setContentsMargins(0, 0, 0, 0)
        self._grid.setHorizontalSpacing(10)
        self._grid.setVerticalSpacing(2)
        self.hints: dict[str, QLabel] = {}
        self.controls: dict[str, QWidget] = {}
        self._settings = [setting for setting in TRAIN_SETTINGS if setting.in_form]
        self._has_gpu = False
        for setting in self._settings:
            control = self._control(setting)
            setattr(self, setting.name, control)
            self.controls[setting.name] = control
            self._row(setting, control)
        self._grid.setColumnStretch(1, 1)
        self._update()

    # ------------------------------------------------------------------ public
    def set_choices(self, presets, devices, optimizers, class_weightings) -> None:
        """The engine's choices (from the choices job); the current values are kept."""
        values = self.values()
        self._refill(self.controls["augment"],
                     [(p.name, train_setting("augment").choice(p.name).label
                       if train_setting("augment").choice(p.name) else p.name.capitalize())
                      for p in presets])
        self._refill(self.controls["device"], list(devices))
        self._has_gpu = any(value in ("cuda", "mps") for value, _ in devices)
        for name, allowed in (("optimizer", optimizers), ("class_weighting", class_weightings)):
            setting = train_setting(name)
            self._refill(self.controls[name],
                         [(value, setting.choice(value).label if setting.choice(value) else value)
                          for value in allowed])
        self.set_values(values)

    def values(self) -> dict[str, Any]:
        """Plain values by TrainConfig field (to remember the form between sessions)."""
        return {setting.name: self._value(setting) for setting in self._settings}

    def set_values(self, values: dict[str, Any]) -> None:
        """Restore values; unknown keys and values that are no longer valid are skipped."""
        for key, value in values.items():
            key = RENAMED_VALUES.get(key, key)
            control = self.controls.get(key)
            if isinstance(control, QComboBox):
                row = control.findData(value)
                if row >= 0:
                    control.setCurrentIndex(row)
            elif control is not None and isinstance(value, (int, float)) \
                    and not isinstance(value, bool):
                control.setValue(value if isinstance(control, QDoubleSpinBox) else int(value))
        self._update()

    @property
    def wants_pretrained(self) -> bool:
        return bool(self.controls["pretrained"].currentData())

    def config_values(self, arch: str) -> dict[str, Any]:
        """TrainConfig keyword arguments for ``arch``."""
        values = {"arch": arch}
        for setting in self._settings:
            value = self._value(setting)
            if setting.zero_is_none and value == 0:
                value = None
            if value is not None or setting.zero_is_none:
                values[setting.name] = value
        if not values.get("pretrained"):
            values["freeze_epochs"] = 0  # freezing keeps pretrained layers: none to keep
        return values

    # ---------------------------------------------------------------- building
    def _control(self, setting: Setting) -> QWidget:
        if setting.name == "lr":
            spin = LearningRateSpinBox()
            spin.setValue(_DEFAULTS.lr)
            spin.valueChanged.connect(self._update)
            return spin
        if setting.choices:
            combo = QComboBox()
            for choice in setting.choices:
                if setting.name == "device" and choice.value != "auto":
                    continue  # the machine's own devices come with set_choices
                combo.addItem(choice.label, choice.value)
            combo.setCurrentIndex(max(0, combo.findData(getattr(_DEFAULTS, setting.name))))
            combo.currentIndexChanged.connect(self._update)
            return combo
        spin = QDoubleSpinBox() if setting.kind is float else QSpinBox()
        spin.setRange(setting.minimum if setting.minimum is not None else 0,
                      setting.maximum if setting.maximum is not None else 10**9)
        default = getattr(_DEFAULTS, setting.name)
        spin.setValue(0 if default is None else default)
        if setting.zero_is_none:
            spin.setSpecialValueText("Off")
        if setting.name in ("early_stopping_patience", "freeze_epochs"):
            spin.setSuffix(" epochs")
        spin.valueChanged.connect(self._update)
        return spin

    def _row(self, setting: Setting, control: QWidget) -> None:
        row = self._grid.rowCount()
        label = QLabel(setting.label)
        label.setBuddy(control)
        hint_label = QLabel(setting.help)
        hint_label.setWordWrap(True)
        set_muted(hint_label)
        font = hint_label.font()
        font.setPointSizeF(font.pointSizeF() * 0.92)
        hint_label.setFont(font)
        hint_label.setContentsMargins(0, 0, 0, 6)
        self._grid.addWidget(label, row, 0)
        self._grid.addWidget(control, row, 1)
        self._grid.addWidget(hint_label, row + 1, 0, 1, 2)
        self.hints[setting.name] = hint_label

    def _value(self, setting: Setting) -> Any:
        control = self.controls[setting.name]
        if isinstance(control, QComboBox):
            value = control.currentData()
            return bool(value) if setting.kind is bool else value
        return control.value()

    @staticmethod
    def _refill(combo: QComboBox, items: list[tuple[Any, str]]) -> None:
        combo.blockSignals(True)
        combo.clear()
        for value, label in items:
            combo.addItem(label, value)
        combo.blockSignals(False)

    def _update(self, *_) -> None:
        """Hints follow the choices; freezing needs pretrained weights and fewer
        epochs than the run has."""
        if len(self.hints) < len(self._settings):
            return  # still building
        for setting in self._settings:
            if setting.choices:
                self.hints[setting.name].setText(setting.hint(self._value(setting)))
        pretrained = self.wants_pretrained
        freeze, epochs = self.controls["freeze_epochs"], self.controls["epochs"]
        freeze.setEnabled(pretrained)
        freeze.setMaximum(epochs.value())
        patience = self.controls["early_stopping_patience"].value()
        self.hints["early_stopping_patience"].setText(
            "Off: every epoch is trained. The best epoch's weights are kept either way."
            if not patience else
            f"Stop when the validation loss has not improved for {patience} epoch"
            f"{'s' if patience > 1 else ''} in a row: more epochs would only memorise.")
        self.hints["freeze_epochs"].setText(
            "Only with pretrained weights: first train just the new last layer for this "
            "many epochs, then fine-tune the whole network at a tenth of the learning rate."
            if not pretrained or not freeze.value() else
            f"Epochs 1–{freeze.value()} train only the new last layer; then the "
            "whole network is fine-tuned at a tenth of the learning rate.")
        device = self.controls["device"].currentData() or "auto"
        self.hints["device"].setText(train_setting("device").hint(device)
                                     + ("" if self._has_gpu or device != "auto" else NO_GPU_HINT))
        self.changed.emit()


def _training_defaults():
    from engine.training.config import TrainConfig

    return TrainConfig(arch="form-defaults")


_DEFAULTS = _training_defaults()
