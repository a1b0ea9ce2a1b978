"""Every training setting a person can choose, declared once.

Each `Setting` names its TrainConfig field and says how people see it: the label and
one-line help that the Train page's form shows, the command line's flag and help,
the range or the choices (each choice with its own label and hint). The CLI
(`engine.cli_training.add_train_options`) and the form (`gui.widgets.training_form`)
are both built from `TRAIN_SETTINGS`: adding a setting is one entry here plus its use.

TrainConfig (engine/training/config.py) stays the one place that validates values;
this module says how they are asked for. Nothing here loads PyTorch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.data.augment_presets import PRESETS
from engine.ingest.align import FACE_FRAMINGS


@dataclass(frozen=True)
class Choice:
    value: Any
    label: str
    hint: str


@dataclass(frozen=True)
class Setting:
    name: str  # the TrainConfig field
    label: str  # the form's label
    help: str  # one line: the CLI's help, and the form's hint where a choice has none
    kind: type  # int, float, str or bool: the value's type
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[Choice, ...] = ()
    # The command line's flag; a bool setting has two (on, off), e.g. --pretrained/--scratch.
    flags: tuple[str, ...] = ()
    metavar: str | None = None
    # "0 means off": the setting's None is shown and typed as 0 (early stopping).
    zero_is_none: bool = False
    in_form: bool = True

    @property
    def choice_values(self) -> tuple[Any, ...]:
        return tuple(choice.value for choice in self.choices)

    def choice(self, value: Any) -> Choice | None:
        return next((choice for choice in self.choices if choice.value == value), None)

    def hint(self, value: Any) -> str:
        """What the form says under the setting when it holds `value`."""
        chosen = self.choice(value)
        return chosen.hint if chosen is not None else self.help


OPTIMIZERS = (
    Choice("adam", "Adam", "Adapts the step of every weight on its own: the lab's choice, works "
                           "well out of the box with a learning rate of 0.001."),
    Choice("adamw", "AdamW", "Adam with decoupled weight decay: often generalises a little "
                             "better on new faces."),
    Choice("sgd", "SGD with momentum", "Plain gradient descent (momentum 0.9): simple and "
                                       "robust, but wants a higher learning rate such as 0.01."),
)
SCHEDULERS = (
    Choice("none", "Constant", "The learning rate stays the same for the whole run."),
    Choice("cosine", "Cosine", "The learning rate follows half a cosine down towards 0 over "
                               "the run."),
    Choice("step", "Step", "The learning rate is multiplied by 0.1 every third of the run."),
    Choice("plateau", "On plateau", "The learning rate is multiplied by 0.1 after 2 epochs "
                                    "without a lower validation loss."),
)
CLASS_WEIGHTINGS = (
    Choice("none", "Off", "Every face counts the same. Fine when each person has about as "
                          "many faces as the others."),
    Choice("loss", "Weighted loss", "Mistakes on persons with few faces cost more, so the "
                                    "model does not just learn the persons with many photos."),
    Choice("sampler", "Over-sampling", "Faces of persons with few photos are drawn more "
                                       "often, so each batch sees every person about equally."),
)
STARTING_WEIGHTS = (
    Choice(False, "From scratch (random weights)",
           "Every weight starts random: the network learns everything from your faces. "
           "Needs many faces and epochs."),
    Choice(True, "Pretrained (transfer learning)",
           "Starts from weights learnt on millions of images, then adapts them to your "
           "persons: far better with few faces. Needs the weights file on this machine."),
)
FACE_FRAMING_HINTS = {
    "crop": ("Square crops", "Each face as the square crop around the detector's box, with "
                             "its margin: what the lab's models were trained on."),
    "aligned": ("Aligned faces", "Each face turned and scaled so that its eyes, nose and "
                                 "mouth sit at the same places: what face networks expect."),
}
FACE_FRAMINGS_CHOICES = tuple(Choice(framing, *FACE_FRAMING_HINTS[framing])
                              for framing in FACE_FRAMINGS)
# The devices a machine has are known only at run time; these are the hints for each.
DEVICES = (
    Choice("auto", "Automatic", "The GPU when this machine has one, otherwise the CPU."),
    Choice("cpu", "CPU", "The processor: always there, slower for big networks."),
    Choice("cuda", "CUDA GPU", "The NVIDIA GPU: many times faster than the CPU."),
    Choice("mps", "Apple GPU", "The Apple GPU."),
)

TRAIN_SETTINGS: tuple[Setting, ...] = (
    Setting("epochs", "Epochs", "Passes over all the training faces. More epochs learn more, "
            "until the model starts memorising them.", int, 1, 1000, flags=("--epochs",)),
    Setting("batch_size", "Batch size", "Faces per weight update. Larger batches are faster "
            "per epoch if memory allows; smaller ones update more often.", int, 1, 1024,
            flags=("--batch-size",)),
    Setting("lr", "Learning rate", "How big each update step is. Too high: the loss jumps or "
            "explodes; too low: learning is slow.", float, 1e-6, 1.0, flags=("--lr",)),
    Setting("optimizer", "Optimizer", "How the weights are updated from the gradients.", str,
            choices=OPTIMIZERS, flags=("--optimizer",)),
    Setting("scheduler", "Learning-rate schedule", "How the learning rate changes during the "
            "run.", str, choices=SCHEDULERS, flags=("--scheduler",), in_form=False),
    Setting("weight_decay", "Weight decay", "Pulls every weight a little towards 0 at each "
            "step, which keeps the model simpler.", float, 0.0, None,
            flags=("--weight-decay",), in_form=False),
    Setting("label_smoothing", "Label smoothing", "Aims for 90%-sure answers instead of 100% "
            "(at 0.1), so the model is less overconfident.", float, 0.0, 0.99,
            flags=("--label-smoothing",), in_form=False),
    Setting("dropout", "Dropout", "The share of features switched off at random before the "
            "last layer while training (default: the architecture's own).", float, 0.0, 0.99,
            flags=("--dropout",), in_form=False),
    Setting("augment", "Augmentation", "Random changes to the training faces each epoch, so "
            "the model learns the person rather than the photo.", str,
            choices=tuple(Choice(p.name, p.name.capitalize(), p.description)
                          for p in PRESETS.values()), flags=("--augment",)),
    Setting("early_stopping_patience", "Early stopping", "Stop after this many epochs without "
            "a lower validation loss (0: never).", int, 0, 100, flags=("--early-stopping",),
            metavar="PATIENCE", zero_is_none=True),
    Setting("class_weighting", "Class balance", "How persons with few faces are made to count "
            "as much as the others.", str, choices=CLASS_WEIGHTINGS,
            flags=("--class-weighting",)),
    Setting("pretrained", "Starting weights", "Start from pretrained weights (the default "
            "where they exist) or train from random weights.", bool, choices=STARTING_WEIGHTS,
            flags=("--pretrained", "--scratch")),
    Setting("freeze_epochs", "Freeze, then fine-tune", "Transfer learning: train only the new "
            "head for N epochs, then fine-tune everything with a lower learning rate.", int,
            0, 1000, flags=("--freeze-epochs",)),
    Setting("face_framing", "Face framing", "Faces as square crops around the detector's "
            "box, or aligned on their eyes, nose and mouth (default: the architecture's own).",
            str, choices=FACE_FRAMINGS_CHOICES, flags=("--face-framing",), in_form=False),
    Setting("device", "Device", "Where to train: auto, cpu, cuda, cuda:1, mps.", str,
            choices=DEVICES, flags=("--device",)),
    Setting("seed", "Seed", "The random seed: the same seed, data and settings train the "
            "same model.", int, 0, None, flags=("--seed",), in_form=False),
)

_BY_NAME = {setting.name: setting for setting in TRAIN_SETTINGS}


def train_setting(name: str) -> Setting:
    return _BY_NAME[name]
