"""Using a trained model: rebuild it from a checkpoint, and batch predictions.

Evaluation and the webcam call these; they preprocess exactly as the trainer's
validation does (uint8 -> 0..1 -> the architecture's mean/std), so a model is
judged on the inputs it was trained on.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch
from torch import nn

import engine.models as models
from engine.data.augment import to_unit_float
from engine.models import ArchSpec
from engine.models.spec import resolve_module_path
from engine.training.checkpoint import load_checkpoint
from engine.training.config import model_input_size


@dataclass(frozen=True)
class TrainedModel:
    model: nn.Module  # in eval mode
    spec: ArchSpec  # input_size as this model was trained (see model_input_size)
    class_names: tuple[str, ...]
    config: dict[str, Any]
    epoch: int


def load_trained_model(path: str | os.PathLike, device: str | torch.device = "cpu") -> TrainedModel:
    """The model stored in a checkpoint (best.pt or last.pt), ready for prediction."""
    payload = load_checkpoint(path)
    arch, class_names = payload["arch"], tuple(payload["class_names"])
    # pretrained=False: the checkpoint holds every weight, nothing needs to be found on disk.
    model = models.build_model(arch, len(class_names), pretrained=False,
                               dropout=payload["config"].get("dropout"))
    model.load_state_dict(payload["model_state"], strict=True)
    model.to(device).eval()
    spec = models.get_spec(arch)
    size = model_input_size(payload["config"])
    if size != spec.input_size:
        # Trained at its own resolution: everything that feeds this model (evaluation,
        # Grad-CAM, the predictor, export) reads `spec.input_size`, so it says so here.
        spec = replace(spec, input_size=size)
    return TrainedModel(model=model, spec=spec, class_names=class_names,
                        config=dict(payload["config"]), epoch=int(payload["epoch"]))


def predict_probs(model: nn.Module, x_uint8: torch.Tensor, spec: ArchSpec, batch_size: int = 64,
                  device: str | torch.device = "cpu") -> np.ndarray:
    """Softmax probabilities, float32 array N×classes, for uint8 images N×3×S×S.

    The model is moved to `device` and used in eval mode; its previous train/eval
    mode is restored afterwards.
    """
    return _predict(model, x_uint8, spec, batch_size, device, None)[0]


def predict_probs_and_features(model: nn.Module, x_uint8: torch.Tensor, spec: ArchSpec,
                               batch_size: int = 64, device: str | torch.device = "cpu"
                               ) -> tuple[np.ndarray, np.ndarray]:
    """Softmax probabilities and the embedder's features (N×D float32) from one forward
    pass, for architectures whose forward is `head(embedder(x))` (`spec.embedder_path`)."""
    if spec.embedder_path is None:
        raise ValueError(f"{spec.name} declares no embedder")
    return _predict(model, x_uint8, spec, batch_size, device, spec.embedder_path)


def _predict(model: nn.Module, x_uint8: torch.Tensor, spec: ArchSpec, batch_size: int,
             device: str | torch.device, embedder_path: str | None
             ) -> tuple[np.ndarray, np.ndarray | None]:
    device = torch.device(device)
    mean = torch.tensor(spec.mean, device=device).view(1, 3, 1, 1)
    std = torch.tensor(spec.std, device=device).view(1, 3, 1, 1)
    was_training = model.training
    model.to(device).eval()
    if embedder_path is not None:
        embedder = resolve_module_path(model, embedder_path)
        head = resolve_module_path(model, spec.head_path)
    chunks, feature_chunks = [], []
    try:
        with torch.inference_mode():
            for start in range(0, len(x_uint8), batch_size):
                images = (to_unit_float(x_uint8[start:start + batch_size].to(device)) - mean) / std
                if embedder_path is None:
                    logits = model(images)
                else:
                    features = embedder(images).flatten(1)
                    logits = head(features)
                    feature_chunks.append(features.float().cpu())
                chunks.append(torch.softmax(logits.float(), dim=1).cpu())
    finally:
        model.train(was_training)
    if not chunks:
        return np.zeros((0, 0), dtype=np.float32), (
            None if embedder_path is None else np.zeros((0, 0), dtype=np.float32))
    features = torch.cat(feature_chunks).numpy() if embedder_path is not None else None
    return torch.cat(chunks).numpy(), features
