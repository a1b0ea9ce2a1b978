"""Ready-made event callbacks."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from engine.training.events import BatchEnded, EpochEnded, RunFinished, TrainingEvent

log = logging.getLogger(__name__)


class TensorBoardCallback:
    """Writes losses, accuracies, learning rate and speed as TensorBoard scalars."""

    def __init__(self, writer: Any) -> None:
        self._writer = writer

    def __call__(self, event: TrainingEvent) -> None:
        if isinstance(event, BatchEnded):
            step = (event.epoch - 1) * event.num_batches + event.batch
            self._writer.add_scalar("batch/loss", event.loss, step)
            self._writer.add_scalar("batch/lr", event.lr, step)
        elif isinstance(event, EpochEnded):
            for tag, value in (("loss/train", event.train_loss), ("loss/val", event.val_loss),
                               ("accuracy/train", event.train_acc), ("accuracy/val", event.val_acc),
                               ("epoch/lr", event.lr), ("epoch/images_per_sec", event.images_per_sec)):
                self._writer.add_scalar(tag, value, event.epoch)
        elif isinstance(event, RunFinished):
            self._writer.close()


def tensorboard_callback(log_dir: Path) -> TensorBoardCallback | None:
    """A TensorBoard writer when the `tensorboard` package is installed, else None."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        log.debug("tensorboard is not installed; no TensorBoard logs for this run")
        return None
    return TensorBoardCallback(SummaryWriter(log_dir=str(log_dir)))
