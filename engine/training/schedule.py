"""Learning-rate schedule and early stopping, both decided once per epoch.

The learning rate of an epoch is one product a student can read off:

    lr = config.lr  x  phase  x  shape(epoch)  x  plateau

- phase: 1 while the backbone is frozen (or when there is no freezing), then
  `finetune_lr_factor` once the whole network is fine-tuned;
- shape: the "cosine" or "step" curve (1 for "none" and "plateau");
- plateau: 0.1 per patience run of epochs without a new lowest validation loss
  ("plateau" only).

One small class instead of torch's scheduler classes because freeze-then-fine-tune
changes the base rate mid-run, which torch's schedulers (each owning the optimizer's
lr) do not compose with; the state is a plain dict for the checkpoint.
"""

from __future__ import annotations

import math
from typing import Any

from engine.training.config import TrainConfig

STEP_GAMMA = 0.1
STEPS_PER_RUN = 3
PLATEAU_FACTOR = 0.1
PLATEAU_PATIENCE = 2


class LrSchedule:
    def __init__(self, config: TrainConfig) -> None:
        self._config = config
        self._plateau_scale = 1.0
        self._plateau_best = math.inf
        self._plateau_bad_epochs = 0

    def lr_for_epoch(self, epoch: int) -> float:
        """Learning rate for the epoch with 0-based index `epoch`."""
        config = self._config
        fine_tuning = 0 < config.freeze_epochs <= epoch
        phase = config.finetune_lr_factor if fine_tuning else 1.0
        return config.lr * phase * self._shape(epoch) * self._plateau_scale

    def observe_val_loss(self, val_loss: float) -> None:
        """Tell the schedule how an epoch went; only "plateau" listens."""
        if self._config.scheduler != "plateau":
            return
        if val_loss < self._plateau_best:
            self._plateau_best = val_loss
            self._plateau_bad_epochs = 0
            return
        self._plateau_bad_epochs += 1
        if self._plateau_bad_epochs >= PLATEAU_PATIENCE:
            self._plateau_scale *= PLATEAU_FACTOR
            self._plateau_bad_epochs = 0

    def _shape(self, epoch: int) -> float:
        scheduler, epochs = self._config.scheduler, self._config.epochs
        if scheduler == "cosine":
            return 0.5 * (1.0 + math.cos(math.pi * epoch / epochs))
        if scheduler == "step":
            step_size = max(1, epochs // STEPS_PER_RUN)
            return STEP_GAMMA ** (epoch // step_size)
        return 1.0

    def state_dict(self) -> dict[str, Any]:
        return {"plateau_scale": self._plateau_scale, "plateau_best": self._plateau_best,
                "plateau_bad_epochs": self._plateau_bad_epochs}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._plateau_scale = float(state["plateau_scale"])
        self._plateau_best = float(state["plateau_best"])
        self._plateau_bad_epochs = int(state["plateau_bad_epochs"])


class EarlyStopping:
    """Stops when validation loss has not improved by `min_delta` for `patience` epochs."""

    def __init__(self, patience: int | None, min_delta: float) -> None:
        self._patience = patience
        self._min_delta = min_delta
        self._best = math.inf
        self._bad_epochs = 0

    @property
    def should_stop(self) -> bool:
        return self._patience is not None and self._bad_epochs >= self._patience

    def observe_val_loss(self, val_loss: float) -> None:
        if val_loss < self._best - self._min_delta:
            self._best = val_loss
            self._bad_epochs = 0
        else:
            self._bad_epochs += 1

    def state_dict(self) -> dict[str, Any]:
        return {"best": self._best, "bad_epochs": self._bad_epochs}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._best = float(state["best"])
        self._bad_epochs = int(state["bad_epochs"])
