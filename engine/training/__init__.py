"""Training: config, the trainer and its events, checkpoints, and prediction helpers.

    trainer = Trainer(TrainConfig(arch="customcnn1", epochs=10), data, run_dir, callbacks=[print_event])
    finished = trainer.fit()          # or fit(resume=True) to continue run_dir/last.pt

The names below load on first use (PEP 562), so importing a light submodule such as
engine.training.config (the CLI's parser does) does not load PyTorch.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "CheckpointError": "checkpoint", "CheckpointFormatError": "checkpoint",
    "UnsafeCheckpointError": "checkpoint", "load_checkpoint": "checkpoint",
    "save_checkpoint": "checkpoint", "TrainConfig": "config",
    "BatchEnded": "events", "CheckpointSaved": "events", "EpochEnded": "events",
    "EventCallback": "events", "RunFinished": "events", "RunStarted": "events",
    "TrainingEvent": "events", "TrainedModel": "inference", "load_trained_model": "inference",
    "predict_probs": "inference", "TrainData": "trainer", "Trainer": "trainer",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'engine.training' has no attribute {name!r}")
    return getattr(importlib.import_module(f"engine.training.{module}"), name)
