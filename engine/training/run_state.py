"""Everything one training run carries from epoch to epoch, and its checkpoint form.

`build_run_state` makes a fresh, seeded run; `checkpoint_payload` turns it into the
plain dict a checkpoint holds; `restore_run_state` puts a checkpoint back so that
the next epoch is computed exactly as it would have been without the interruption
(same weights, optimizer moments, learning-rate state, and random generators).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

import engine.models as models
from engine.data.augment import AugmentPreset, get_preset
from engine.training.checkpoint import FORMAT_VERSION
from engine.training.config import TrainConfig
from engine.training.device import DeviceSetup
from engine.training.sampling import inverse_frequency_weights
from engine.training.schedule import EarlyStopping, LrSchedule

log = logging.getLogger(__name__)

# Settings that may change between a run and its resumption without making the
# saved state meaningless (where and how fast it computes, and how long it goes on).
RESUMABLE_CHANGES = frozenset({"epochs", "device", "amp", "channels_last", "cuda_graphs",
                               "limit_train_batches", "limit_val_batches"})


@dataclass
class RunState:
    config: TrainConfig
    class_names: tuple[str, ...]
    setup: DeviceSetup
    model: nn.Module
    optimizer: torch.optim.Optimizer
    scaler: torch.amp.GradScaler
    schedule: LrSchedule
    stopping: EarlyStopping
    loss_fn: nn.Module
    preset: AugmentPreset
    mean: torch.Tensor  # 1×3×1×1 on the device
    std: torch.Tensor
    data_generator: torch.Generator  # epoch order
    augment_generator: torch.Generator
    sampler_weights: torch.Tensor | None  # per-class weights when class_weighting="sampler"
    epoch: int = 0  # epochs completed
    frozen: bool = False
    history: list[dict[str, Any]] = field(default_factory=list)
    best: dict[str, Any] = field(default_factory=lambda: {"epoch": None, "val_loss": None, "val_acc": None})


def build_run_state(config: TrainConfig, class_names: tuple[str, ...], train_labels: torch.Tensor,
                    setup: DeviceSetup) -> RunState:
    spec = models.get_spec(config.arch)
    # The global generator initialises the weights and drives dropout; the run's own
    # generators drive the data order and augmentation, so each stream is reproducible.
    torch.manual_seed(config.seed)
    model = models.build_model(config.arch, len(class_names), pretrained=config.pretrained,
                               dropout=config.dropout)
    memory_format = torch.channels_last if setup.channels_last else torch.preserve_format
    model = model.to(setup.device, memory_format=memory_format)

    class_weights = None
    if config.class_weighting != "none":
        class_weights = inverse_frequency_weights(train_labels, len(class_names))
    loss_weights = class_weights.to(setup.device) if config.class_weighting == "loss" else None

    def channel_tensor(values: tuple[float, float, float]) -> torch.Tensor:
        return torch.tensor(values, dtype=torch.float32, device=setup.device).view(1, 3, 1, 1)

    return RunState(
        config=config,
        class_names=tuple(class_names),
        setup=setup,
        model=model,
        optimizer=_make_optimizer(config, model, setup),
        scaler=torch.amp.GradScaler(setup.device.type, enabled=setup.grad_scaling),
        schedule=LrSchedule(config),
        stopping=EarlyStopping(config.early_stopping_patience, config.early_stopping_min_delta),
        loss_fn=nn.CrossEntropyLoss(weight=loss_weights, label_smoothing=config.label_smoothing),
        preset=get_preset(config.augment),
        mean=channel_tensor(spec.mean),
        std=channel_tensor(spec.std),
        data_generator=torch.Generator().manual_seed(config.seed),
        augment_generator=torch.Generator().manual_seed(config.seed + 1),
        sampler_weights=class_weights if config.class_weighting == "sampler" else None,
    )


def _make_optimizer(config: TrainConfig, model: nn.Module, setup: DeviceSetup) -> torch.optim.Optimizer:
    # Every parameter is in the optimizer from the start, frozen ones too: a frozen
    # parameter has no gradient, so every optimizer here skips it until unfrozen.
    params = list(model.parameters())
    fused = setup.device.type == "cuda"  # one kernel for all parameters instead of one each
    if config.optimizer == "adam":
        return torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay, fused=fused)
    if config.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay, fused=fused)
    return torch.optim.SGD(params, lr=config.lr, momentum=config.momentum,
                           weight_decay=config.weight_decay, fused=fused)


def checkpoint_payload(state: RunState) -> dict[str, Any]:
    """The run as plain data and CPU tensors, ready for `save_checkpoint`.

    On the CPU the tensors are the live ones, not copies: the payload is written
    before the next optimizer step, and copying a large model every epoch is waste.
    """
    return {
        "format_version": FORMAT_VERSION,
        "config": state.config.to_dict(),
        "class_names": list(state.class_names),
        "arch": state.config.arch,
        "model_state": _to_cpu(state.model.state_dict()),
        "optimizer_state": _to_cpu(state.optimizer.state_dict()),
        "scheduler_state": state.schedule.state_dict(),
        "scaler_state": state.scaler.state_dict(),
        "early_stopping_state": state.stopping.state_dict(),
        "epoch": state.epoch,
        "history": [dict(entry) for entry in state.history],
        "best": dict(state.best),
        "rng_state": _rng_state(state),
    }


def restore_run_state(state: RunState, payload: dict[str, Any], source: str) -> None:
    """Put a checkpoint's state into a freshly built run (same config, same data)."""
    _check_resumable(state, payload, source)
    state.model.load_state_dict(payload["model_state"], strict=True)
    state.optimizer.load_state_dict(payload["optimizer_state"])
    state.schedule.load_state_dict(payload["scheduler_state"])
    if payload["scaler_state"]:
        state.scaler.load_state_dict(payload["scaler_state"])
    state.stopping.load_state_dict(payload["early_stopping_state"])
    state.epoch = int(payload["epoch"])
    state.history = [dict(entry) for entry in payload["history"]]
    state.best = dict(payload["best"])
    rng = payload["rng_state"]
    torch.set_rng_state(rng["torch"])
    state.data_generator.set_state(rng["data"])
    state.augment_generator.set_state(rng["augment"])
    if state.setup.device.type == "cuda":
        if len(rng["cuda"]) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(rng["cuda"])
        else:
            log.warning("%s was saved with %d GPU generator(s), this machine has %d: dropout "
                        "will differ from an uninterrupted run", source, len(rng["cuda"]),
                        torch.cuda.device_count())
    if state.setup.device.type == "mps" and rng["mps"] is not None:
        torch.mps.set_rng_state(rng["mps"])


def _check_resumable(state: RunState, payload: dict[str, Any], source: str) -> None:
    saved, current = payload["config"], state.config.to_dict()
    changed = sorted(key for key in set(saved) | set(current)
                     if key not in RESUMABLE_CHANGES and saved.get(key) != current.get(key))
    if changed:
        details = ", ".join(f"{key}: {saved.get(key)!r} -> {current.get(key)!r}" for key in changed)
        raise ValueError(f"Cannot resume from {source}: it was trained with other settings ({details}).")
    if tuple(payload["class_names"]) != state.class_names:
        raise ValueError(f"Cannot resume from {source}: it was trained on other persons "
                         f"({', '.join(payload['class_names'])}).")


def _rng_state(state: RunState) -> dict[str, Any]:
    device_type = state.setup.device.type
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if device_type == "cuda" else [],
        "mps": torch.mps.get_rng_state() if device_type == "mps" else None,
        "data": state.data_generator.get_state(),
        "augment": state.augment_generator.get_state(),
    }


def _to_cpu(value: Any) -> Any:
    """Nested dicts/lists with every tensor on the CPU."""
    if isinstance(value, torch.Tensor):
        return value.detach().cpu()
    if isinstance(value, dict):
        return {key: _to_cpu(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_to_cpu(item) for item in value)
    return value
