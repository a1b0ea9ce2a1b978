"""The training settings, each with a visible one-line explanation a student can read
(tooltips alone are easy to miss). The hint of a choice follows the choice.

The form holds plain values; ``config_values(arch)`` gives the keyword arguments of
the engine's TrainConfig for one architecture. The choices the engine validates
(optimizers, class weightings, presets, devices) come from the engine through
``set_choices``; the words explaining them live here, and a test checks both agree.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (QComboBox, QDoubleSpinBox, QGridLayout, QLabel, QSpinBox,
                               QWidget)

from gui.theme import set_muted

OPTIMIZER_CHOICES = {
    "adam": ("Adam", "Adapts the step of every weight on its own: the lab's choice, works "
                     "well out of the box with a learning rate of 0.001."),
    "adamw": ("AdamW", "Adam with decoupled weight decay: often generalises a little better "
                       "on new faces."),
    "sgd": ("SGD with momentum", "Plain gradient descent (momentum 0.9): simple and robust, "
                                 "but wants a higher learning rate such as 0.01."),
}
WEIGHTING_CHOICES = {
    "none": ("Off", "Every face counts the same. Fine when each person has about as many "
                    "faces as the others."),
    "loss": ("Weighted loss", "Mistakes on persons with few faces cost more, so the model "
                              "does not just learn the persons with many photos."),
    "sampler": ("Over-sampling", "Faces of persons with few photos are drawn more often, so "
                                 "each batch sees every person about equally."),
}
WEIGHTS_CHOICES = {
    False: ("From scratch (random weights)",
            "Every weight starts random: the network learns everything from your faces. "
            "Needs many faces and epochs."),
    True: ("Pretrained (transfer learning)",
           "Starts from weights learnt on millions of images, then adapts them to your "
           "persons: far better with few faces. Needs the weights file on this machine."),
}
DEVICE_HINTS = {
    "auto": "The GPU when this machine has one, otherwise the CPU.",
    "cpu": "The processor: always there, slower for big networks.",
    "cuda": "The NVIDIA GPU: many times faster than the CPU.",
    "mps": "The Apple GPU.",
}
NO_GPU_HINT = " No CUDA GPU was found on this machine."

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
    """Signal: ``changed()`` when any setting changed."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._grid = QGridLayout(self)
        self._grid.setContentsMargins(0, 0, 0, 0)
        self._grid.setHorizontalSpacing(10)
        self._grid.setVerticalSpacing(2)
        self.hints: dict[str, QLabel] = {}
        self._preset_hints: dict[str, str] = {}
        self._has_gpu = False

        self.epochs = QSpinBox(minimum=1, maximum=1000, value=20)
        self._row("epochs", "Epochs", self.epochs,
                  "Passes over all the training faces. More epochs learn more, until the "
                  "model starts memorising them.")
        self.batch_size = QSpinBox(minimum=2, maximum=1024, value=32)
        self._row("batch_size", "Batch size", self.batch_size,
                  "Faces per weight update. Larger batches are faster per epoch if memory "
                  "allows; smaller ones update more often.")
        self.lr = LearningRateSpinBox()
        self._row("lr", "Learning rate", self.lr,
                  "How big each update step is. Too high: the loss jumps or explodes; too "
                  "low: learning is slow. Arrows step 1, 2, 5, 10…")
        self.optimizer = self._combo(OPTIMIZER_CHOICES)
        self._row("optimizer", "Optimizer", self.optimizer, "")
        self.augment = QComboBox()
        self._row("augment", "Augmentation", self.augment,
                  "Random changes to the training faces each epoch, so the model learns the "
                  "person rather than the photo.")
        self.patience = QSpinBox(minimum=0, maximum=100, value=5)
        self.patience.setSpecialValueText("Off")
        self.patience.setSuffix(" epochs")
        self._row("patience", "Early stopping", self.patience, "")
        self.class_weighting = self._combo(WEIGHTING_CHOICES)
        self._row("class_weighting", "Class balance", self.class_weighting, "")
        self.pretrained = self._combo(WEIGHTS_CHOICES)
        self._row("pretrained", "Starting weights", self.pretrained, "")
        self.freeze_epochs = QSpinBox(minimum=0, maximum=1000, value=0)
        self.freeze_epochs.setSuffix(" epochs")
        self._row("freeze_epochs", "Freeze, then fine-tune", self.freeze_epochs, "")
        self.device = QComboBox()
        self.device.addItem("Automatic", "auto")
        self._row("device", "Device", self.device, "")
        self._grid.setColumnStretch(1, 1)

        for spin in (self.epochs, self.batch_size, self.patience, self.freeze_epochs):
            spin.valueChanged.connect(self._update)
        self.lr.valueChanged.connect(self._update)
        for combo in (self.optimizer, self.augment, self.class_weighting, self.pretrained,
                      self.device):
            combo.currentIndexChanged.connect(self._update)
        self._update()

    # ------------------------------------------------------------------ public
    def set_choices(self, presets, devices, optimizers, class_weightings) -> None:
        """The engine's choices (from the choices job); the current values are kept."""
        values = self.values()
        self._preset_hints = {p.name: p.description for p in presets}
        self._refill(self.augment, [(p.name, p.name.capitalize()) for p in presets])
        self._refill(self.device, list(devices))
        self._has_gpu = any(value in ("cuda", "mps") for value, _ in devices)
        self._refill(self.optimizer, [(o, OPTIMIZER_CHOICES.get(o, (o,))[0]) for o in optimizers])
        self._refill(self.class_weighting,
                     [(w, WEIGHTING_CHOICES.get(w, (w,))[0]) for w in class_weightings])
        self.set_values(values)

    def values(self) -> dict[str, Any]:
        """Plain values (to remember the form between sessions)."""
        return {"epochs": self.epochs.value(), "batch_size": self.batch_size.value(),
                "lr": self.lr.value(), "optimizer": self.optimizer.currentData(),
                "augment": self.augment.currentData(), "patience": self.patience.value(),
                "class_weighting": self.class_weighting.currentData(),
                "pretrained": bool(self.pretrained.currentData()),
                "freeze_epochs": self.freeze_epochs.value(), "device": self.device.currentData()}

    def set_values(self, values: dict[str, Any]) -> None:
        """Restore values; unknown keys and values that are no longer valid are skipped."""
        spins = {"epochs": self.epochs, "batch_size": self.batch_size, "lr": self.lr,
                 "patience": self.patience, "freeze_epochs": self.freeze_epochs}
        combos = {"optimizer": self.optimizer, "augment": self.augment,
                  "class_weighting": self.class_weighting, "pretrained": self.pretrained,
                  "device": self.device}
        for key, value in values.items():
            if key in spins and isinstance(value, (int, float)) and not isinstance(value, bool):
                spins[key].setValue(value if key == "lr" else int(value))
            elif key in combos:
                row = combos[key].findData(value)
                if row >= 0:
                    combos[key].setCurrentIndex(row)
        self._update()

    @property
    def wants_pretrained(self) -> bool:
        return bool(self.pretrained.currentData())

    def config_values(self, arch: str) -> dict[str, Any]:
        """TrainConfig keyword arguments for ``arch``."""
        pretrained = self.wants_pretrained
        values = {"arch": arch, "epochs": self.epochs.value(),
                  "batch_size": self.batch_size.value(), "lr": self.lr.value(),
                  "optimizer": self.optimizer.currentData() or "adam",
                  "early_stopping_patience": self.patience.value() or None,
                  "class_weighting": self.class_weighting.currentData() or "none",
                  "pretrained": pretrained,
                  "freeze_epochs": self.freeze_epochs.value() if pretrained else 0,
                  "device": self.device.currentData() or "auto"}
        if self.augment.currentData():
            values["augment"] = self.augment.currentData()
        return values

    # ---------------------------------------------------------------- building
    def _row(self, key: str, title: str, control: QWidget, hint: str) -> None:
        row = self._grid.rowCount()
        label = QLabel(title)
        label.setBuddy(control)
        hint_label = QLabel(hint)
        hint_label.setWordWrap(True)
        set_muted(hint_label)
        font = hint_label.font()
        font.setPointSizeF(font.pointSizeF() * 0.92)
        hint_label.setFont(font)
        hint_label.setContentsMargins(0, 0, 0, 6)
        self._grid.addWidget(label, row, 0)
        self._grid.addWidget(control, row, 1)
        self._grid.addWidget(hint_label, row + 1, 0, 1, 2)
        self.hints[key] = hint_label

    @staticmethod
    def _combo(choices: dict) -> QComboBox:
        combo = QComboBox()
        for value, (label, _) in choices.items():
            combo.addItem(label, value)
        return combo

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
        pretrained = self.wants_pretrained
        self.freeze_epochs.setEnabled(pretrained)
        self.freeze_epochs.setMaximum(self.epochs.value())
        self.hints["optimizer"].setText(
            OPTIMIZER_CHOICES.get(self.optimizer.currentData(), ("", ""))[1])
        self.hints["augment"].setText(self._preset_hints.get(
            self.augment.currentData(), self.hints["augment"].text()))
        patience = self.patience.value()
        self.hints["patience"].setText(
            "Off: every epoch is trained. The best epoch's weights are kept either way."
            if not patience else
            f"Stop when the validation loss has not improved for {patience} epoch"
            f"{'s' if patience > 1 else ''} in a row: more epochs would only memorise.")
        self.hints["class_weighting"].setText(
            WEIGHTING_CHOICES.get(self.class_weighting.currentData(), ("", ""))[1])
        self.hints["pretrained"].setText(WEIGHTS_CHOICES[pretrained][1])
        self.hints["freeze_epochs"].setText(
            "Only with pretrained weights: first train just the new last layer for this "
            "many epochs, then fine-tune the whole network at a tenth of the learning rate."
            if not pretrained or not self.freeze_epochs.value() else
            f"Epochs 1–{self.freeze_epochs.value()} train only the new last layer; then the "
            "whole network is fine-tuned at a tenth of the learning rate.")
        device = self.device.currentData() or "auto"
        self.hints["device"].setText(DEVICE_HINTS.get(device, "")
                                     + ("" if self._has_gpu or device != "auto" else NO_GPU_HINT))
        self.changed.emit()
