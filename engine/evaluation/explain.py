"""Explaining a run's prediction for one face: Grad-CAM and feature maps (the lab's
"visualise where the model is focusing" and "feature maps" tips)."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from engine.data.cache import face_model_image
from engine.evaluation.gradcam import (GradCamResult, feature_map_grid, feature_maps,
                                       gradcam_overlay, list_feature_layers)
from engine.evaluation.runs import run_checkpoint
from engine.project import Project


@dataclass(frozen=True)
class FeatureMapView:
    layer: str
    maps: np.ndarray   # (K, h, w) float32 in [0, 1]
    grid: np.ndarray   # uint8 greyscale image of the maps side by side


@functools.lru_cache(maxsize=2)
def _cached_model(path: str, mtime: float):
    """The GUI asks for one face after another: keep the last models loaded."""
    from engine.training.inference import load_trained_model

    return load_trained_model(path)


def _trained(project: Project, run_id: str):
    path = run_checkpoint(project, run_id)
    return _cached_model(str(path), path.stat().st_mtime)


def _face_image(project: Project, face_id: int, trained) -> np.ndarray:
    """The face as the run's model sees it: its crop, or its aligned chip."""
    from engine.training.config import run_alignment

    return face_model_image(project, face_id, trained.spec.input_size,
                            run_alignment(trained.config))


def face_gradcam(project: Project, run_id: str, face_id: int,
                 target_person: str | None = None) -> tuple[GradCamResult, tuple[str, ...]]:
    """Grad-CAM of the run's best model on a stored face, for its predicted person or
    ``target_person``. Returns the result and the run's persons (output order)."""
    trained = _trained(project, run_id)
    image = _face_image(project, face_id, trained)
    target = trained.class_names.index(target_person) if target_person else None
    result = gradcam_overlay(trained.model, trained.spec.name, image, trained.spec.mean,
                             trained.spec.std, target_index=target)
    return result, trained.class_names


def face_feature_layers(project: Project, run_id: str) -> list[str]:
    return list_feature_layers(_trained(project, run_id).model)


def face_feature_maps(project: Project, run_id: str, face_id: int, layer: str | None = None,
                      max_maps: int = 16) -> FeatureMapView:
    """The activations of one layer (the first conv layer by default) for a face."""
    trained = _trained(project, run_id)
    layers = list_feature_layers(trained.model)
    layer = layer or layers[0]
    if layer not in layers:
        raise ValueError(f"no layer {layer!r}; choose one of: {', '.join(layers)}")
    image = _face_image(project, face_id, trained)
    maps = feature_maps(trained.model, layer, image, trained.spec.mean, trained.spec.std,
                        max_maps=max_maps)
    columns = int(np.ceil(np.sqrt(len(maps))))
    return FeatureMapView(layer, maps, feature_map_grid(maps, columns))


def save_png(image: np.ndarray, path: Path) -> None:
    from engine.storage import atomic_write

    atomic_write(Path(path), lambda handle: Image.fromarray(image).save(handle, "PNG"))
