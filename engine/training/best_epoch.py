"""Which epoch of a run is "the best": the one whose model best.pt keeps.

The trainer keeps the epoch with the lowest validation loss (not the highest
validation accuracy: loss is what early stopping watches, and it is smoother). The
accuracy shown beside a run is that epoch's, so it can fall while a run trains when a
later epoch has a lower loss but a lower accuracy. The trainer, `facelab runs` and the
app's runs table all use these functions, so they always agree. No torch here.
"""

from __future__ import annotations

import math
from typing import Iterable

from engine.catalog import EpochRecord, RunRecord


def is_improvement(val_loss: float, best_val_loss: float | None) -> bool:
    """Does this epoch replace the kept one? Strictly lower, finite loss only."""
    return math.isfinite(val_loss) and (best_val_loss is None or val_loss < best_val_loss)


def kept_epoch(epochs: Iterable[EpochRecord]) -> EpochRecord | None:
    """The epoch best.pt holds: the first with the lowest finite validation loss (a NaN
    loss comes back from the catalog as None)."""
    kept = None
    for epoch in epochs:
        if epoch.val_loss is not None and \
                is_improvement(epoch.val_loss, kept.val_loss if kept else None):
            kept = epoch
    return kept


def kept_val_acc(record: RunRecord, epochs: Iterable[EpochRecord]) -> float | None:
    """Validation accuracy of the kept epoch. A finished run has it on its record; a run
    still training, or one whose process died, has it only in its epochs."""
    if record.best_val_acc is not None:
        return record.best_val_acc
    kept = kept_epoch(epochs)
    return kept.val_acc if kept else None
