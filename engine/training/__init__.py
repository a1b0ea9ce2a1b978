"""Training: config, the trainer and its events, checkpoints, and prediction helpers.

    trainer = Trainer(TrainConfig(arch="customcnn1", epochs=10), data, run_dir, callbacks=[print_event])
    finished = trainer.fit()          # or fit(resume=True) to continue run_dir/last.pt
"""

from engine.training.checkpoint import (CheckpointError, CheckpointFormatError, UnsafeCheckpointError,
                                        load_checkpoint, save_checkpoint)
from engine.training.config import TrainConfig
from engine.training.events import (BatchEnded, CheckpointSaved, EpochEnded, EventCallback, RunFinished,
                                    RunStarted, TrainingEvent)
from engine.training.inference import TrainedModel, load_trained_model, predict_probs
from engine.training.trainer import TrainData, Trainer

__all__ = [
    "BatchEnded", "CheckpointError", "CheckpointFormatError", "CheckpointSaved", "EpochEnded",
    "EventCallback", "RunFinished", "RunStarted", "TrainConfig", "TrainData", "TrainedModel",
    "Trainer", "TrainingEvent", "UnsafeCheckpointError", "load_checkpoint", "load_trained_model",
    "predict_probs", "save_checkpoint",
]
