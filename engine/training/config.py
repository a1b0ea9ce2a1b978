"""The settings of one training run, as one frozen, validated dataclass.

A run stores its config beside its checkpoints (`to_dict`) and reads it back
strictly (`from_dict`): a misspelt or removed key is an error that names it,
never a setting silently ignored.

Fixed choices that are not settings (kept here so they are written down once):
- "step" multiplies the learning rate by 0.1 every third of the run;
- "plateau" multiplies it by 0.1 after 2 epochs without a lower validation loss;
- "cosine" follows half a cosine from `lr` down towards 0 over `epochs`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from engine.data.augment_presets import PRESETS
from engine.ingest.align import FACE_FRAMINGS
from engine.training.settings import train_setting

OPTIMIZERS = train_setting("optimizer").choice_values
SCHEDULERS = train_setting("scheduler").choice_values
CLASS_WEIGHTINGS = train_setting("class_weighting").choice_values
# amp / channels_last / cuda_graphs: "auto" turns them on where they pay off (CUDA;
# channels_last also for oneDNN CPUs).
AUTO_SWITCH = ("auto", True, False)
_MAX_SEED = 2**63
# Below this a face has too few pixels for any of the zoo's networks to downsample.
MIN_INPUT_SIZE = 32


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides how a model is trained (not which faces it sees)."""

    arch: str
    epochs: int = 20
    batch_size: int = 32
    lr: float = 1e-3
    optimizer: str = "adam"
    momentum: float = 0.9  # used by "sgd" only
    weight_decay: float = 0.0
    scheduler: str = "none"
    label_smoothing: float = 0.0
    dropout: float | None = None  # None = the architecture's default
    augment: str = "standard"
    # Side of the square faces the model takes; None = the architecture's own. A lower
    # resolution makes from-scratch training affordable on a CPU (see model_input_size).
    input_size: int | None = None
    # How the faces are framed: "crop" or "aligned" (see ArchSpec.face_framing); None =
    # the architecture's own. train_run records the resolved framing, and with "aligned"
    # the alignment settings (AlignSettings.to_dict), so the run is always used on faces
    # framed as it was trained on.
    face_framing: str | None = None
    alignment: dict | None = None
    early_stopping_patience: int | None = 5  # None = never stop early
    early_stopping_min_delta: float = 0.0
    class_weighting: str = "none"
    pretrained: bool = False
    # Transfer learning: train only the new head for this many epochs, then unfreeze
    # the whole network and fine-tune it at lr * finetune_lr_factor.
    freeze_epochs: int = 0
    finetune_lr_factor: float = 0.1
    device: str = "auto"  # "auto" = cuda, then mps, then cpu
    amp: bool | str = "auto"
    channels_last: bool | str = "auto"
    # Replay each training step as one CUDA graph instead of launching its kernels one
    # by one (see engine/training/step.py): the same steps, several times faster.
    cuda_graphs: bool | str = "auto"
    seed: int = 0
    deterministic: bool = True
    # Test switches: cap the batches of each epoch (Lightning's limit_*_batches).
    limit_train_batches: int | None = None
    limit_val_batches: int | None = None

    def __post_init__(self) -> None:
        # Integers given for float settings (lr=1) are stored as floats so that
        # to_dict() is the same whichever way a value was written.
        for name in ("lr", "momentum", "weight_decay", "label_smoothing",
                     "early_stopping_min_delta", "finetune_lr_factor", "dropout"):
            value = getattr(self, name)
            if _is_number(value) and not isinstance(value, float):
                object.__setattr__(self, name, float(value))
        problems = _problems(self)
        if problems:
            raise ValueError("Invalid training settings: " + "; ".join(problems) + ".")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-compatible values, one per setting."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        """The inverse of `to_dict`; unknown keys are errors that name them."""
        if not isinstance(values, dict):
            raise ValueError(f"Training settings must be a dict, not {type(values).__name__}")
        known = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"Unknown training setting(s): {', '.join(unknown)}. "
                             f"Valid settings: {', '.join(sorted(known))}.")
        if "arch" not in values:
            raise ValueError("Training settings need an 'arch' (the architecture to train).")
        return cls(**values)


def model_input_size(config: TrainConfig | Mapping[str, Any]) -> int:
    """The side, in pixels, of the square faces a run's model takes.

    The one answer for training, evaluation and prediction alike: the config's
    `input_size` when set, else the architecture's own. `config` is a TrainConfig or
    the dict a checkpoint or run record stores (older ones have no `input_size`).
    """
    values = config.to_dict() if isinstance(config, TrainConfig) else config
    if values.get("input_size") is not None:
        return int(values["input_size"])
    from engine.models import get_spec  # the zoo imports torchvision: only when needed

    return get_spec(values["arch"]).input_size


def run_alignment(config: TrainConfig | Mapping[str, Any]):
    """The AlignSettings a run's faces are aligned with, or None for square crops.

    The one answer for training, evaluation, prediction and the webcam. `config` is a
    TrainConfig or the dict a checkpoint or run record stores: a dict without
    `face_framing` is a run from before framings existed, which was trained on crops.
    """
    from engine.ingest.align import AlignSettings

    values = config.to_dict() if isinstance(config, TrainConfig) else config
    if "face_framing" not in values:
        return None
    framing = values["face_framing"]
    if framing is None:
        from engine.models import (
            get_spec,  # the zoo imports torchvision: only when needed
        )

        framing = get_spec(values["arch"]).face_framing
    if framing != "aligned":
        return None
    if values.get("alignment") is not None:
        return AlignSettings.from_dict(values["alignment"])
    # Chips at least dlib's 150 px, and as large as the model's input: a larger model
    # gets the detail of the photo rather than a 150 px chip scaled up.
    return AlignSettings(chip_size=max(AlignSettings().chip_size, model_input_size(values)))


def with_resolved_framing(config: TrainConfig) -> TrainConfig:
    """``config`` with its framing (and alignment settings) written out, as a run records
    it: an architecture whose default framing changes later keeps its old runs right."""
    alignment = run_alignment(config)
    return dataclasses.replace(
        config, face_framing="crop" if alignment is None else "aligned",
        alignment=None if alignment is None else alignment.to_dict())


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _problems(config: TrainConfig) -> list[str]:
    """Every invalid setting, each as a sentence a student can act on."""
    problems: list[str] = []

    def need(ok: bool, message: str) -> None:
        if not ok:
            problems.append(message)

    def need_choice(name: str, choices: tuple) -> None:
        value = getattr(config, name)
        need(value in choices and type(value) in {type(c) for c in choices},
             f"{name} must be one of {', '.join(map(repr, choices))}, not {value!r}")

    def need_int(name: str, minimum: int, optional: bool = False) -> None:
        value = getattr(config, name)
        if optional and value is None:
            return
        need(_is_int(value) and value >= minimum,
             f"{name} must be a whole number >= {minimum}{' or None' if optional else ''}, "
             f"not {value!r}")

    def need_float(name: str, low: float, high: float, *, low_open: bool = False,
                   high_open: bool = True, optional: bool = False) -> None:
        value = getattr(config, name)
        if optional and value is None:
            return
        in_range = (_is_number(value) and math.isfinite(value)
                    and (value > low if low_open else value >= low)
                    and (value < high if high_open else value <= high))
        interval = f"{'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
        need(in_range, f"{name} must be a number in {interval}, not {value!r}")

    need(isinstance(config.arch, str) and bool(config.arch.strip()),
         f"arch must name an architecture, not {config.arch!r}")
    need_int("epochs", 1)
    need_int("batch_size", 1)
    need_float("lr", 0.0, math.inf, low_open=True)
    need_choice("optimizer", OPTIMIZERS)
    need_float("momentum", 0.0, 1.0)
    need_float("weight_decay", 0.0, math.inf)
    need_choice("scheduler", SCHEDULERS)
    need_float("label_smoothing", 0.0, 1.0)
    need_float("dropout", 0.0, 1.0, optional=True)
    need_choice("augment", tuple(PRESETS))
    need_int("input_size", MIN_INPUT_SIZE, optional=True)
    need(config.face_framing in (None, *FACE_FRAMINGS),
         f"face_framing must be one of {', '.join(map(repr, FACE_FRAMINGS))} or None, "
         f"not {config.face_framing!r}")
    if config.alignment is not None:
        from engine.ingest.align import AlignSettings

        try:
            AlignSettings.from_dict(config.alignment)
        except (TypeError, ValueError) as exc:
            problems.append(f"alignment: {exc}")
    need_int("early_stopping_patience", 1, optional=True)
    need_float("early_stopping_min_delta", 0.0, math.inf)
    need_choice("class_weighting", CLASS_WEIGHTINGS)
    need(isinstance(config.pretrained, bool), f"pretrained must be True or False, not {config.pretrained!r}")
    need_int("freeze_epochs", 0)
    if _is_int(config.freeze_epochs) and _is_int(config.epochs):
        need(config.freeze_epochs <= config.epochs,
             f"freeze_epochs ({config.freeze_epochs}) cannot exceed epochs ({config.epochs})")
    need_float("finetune_lr_factor", 0.0, math.inf, low_open=True)
    need(isinstance(config.device, str) and _is_device_name(config.device),
         f"device must be 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps', not {config.device!r}")
    need_choice("amp", AUTO_SWITCH)
    need_choice("channels_last", AUTO_SWITCH)
    need_choice("cuda_graphs", AUTO_SWITCH)
    need(_is_int(config.seed) and 0 <= config.seed < _MAX_SEED,
         f"seed must be a whole number from 0 to 2**63 - 1, not {config.seed!r}")
    need(isinstance(config.deterministic, bool),
         f"deterministic must be True or False, not {config.deterministic!r}")
    need_int("limit_train_batches", 1, optional=True)
    need_int("limit_val_batches", 1, optional=True)
    return problems


def _is_device_name(name: str) -> bool:
    if name == "auto":
        return True
    try:
        import torch  # local: the config (and the CLI's parser) must not load PyTorch

        device = torch.device(name)
    except (RuntimeError, ValueError):
        return False
    return device.type in ("cpu", "cuda", "mps")
