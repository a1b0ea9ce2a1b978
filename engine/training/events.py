"""What a training run tells the outside world, as frozen dataclasses of plain values.

A callback is any callable `on_event(event)`; it is called on the training thread, so
a GUI forwards the event to its own thread (events hold only numbers, strings and a
config dict copy, never tensors). One `Trainer.fit` call emits, in this order:

    RunStarted
    for each epoch: BatchEnded (every batch), EpochEnded, CheckpointSaved("last"),
                    CheckpointSaved("best") when validation loss reached a new low
    RunFinished (always exactly one, whatever happened)

Epochs and batches are counted from 1, as a student would say "epoch 1".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Union

from engine.catalog.runs import RunStatus

CheckpointKind = Literal["best", "last"]


@dataclass(frozen=True)
class RunStarted:
    run_id: str
    config: dict[str, Any]
    num_train: int
    num_val: int
    device: str  # e.g. "cuda:0", "cpu"
    epochs: int
    # Epochs already done before this fit call: 0 for a new run, N when resuming.
    start_epoch: int = 0


@dataclass(frozen=True)
class BatchEnded:
    epoch: int
    batch: int
    num_batches: int
    loss: float
    images_per_sec: float
    lr: float


@dataclass(frozen=True)
class EpochEnded:
    epoch: int
    train_loss: float
    train_acc: float
    val_loss: float
    val_acc: float
    lr: float
    seconds: float
    images_per_sec: float  # training images per second (validation not counted)


@dataclass(frozen=True)
class CheckpointSaved:
    epoch: int
    path: str
    kind: CheckpointKind


@dataclass(frozen=True)
class RunFinished:
    status: RunStatus
    epochs_done: int
    best_epoch: int | None
    best_val_loss: float | None
    best_val_acc: float | None
    message: str = ""


TrainingEvent = Union[RunStarted, BatchEnded, EpochEnded, CheckpointSaved, RunFinished]
EventCallback = Callable[[TrainingEvent], None]
