"""What the network looks at: Grad-CAM heatmaps and raw feature maps for one image.

Grad-CAM comes from the ``grad-cam`` package (pytorch_grad_cam); which layer to
explain, and how a Vision Transformer's token sequence becomes a 2-D grid, is the
model zoo's knowledge (:func:`engine.models.gradcam_target_layers` and
:func:`engine.models.gradcam_reshape_transform`), so one code path serves CNNs and ViT.

The map is Grad-CAM's element-wise form (HiResCAM: gradient times activation at each
position, summed over channels). Where the gradient is the same at every position (a
network that average-pools its last features: ResNet, MobileNet, ...) it is Grad-CAM's
map; where the network flattens its features into a Linear layer (the lab's CustomCNN1)
Grad-CAM's position-averaged gradients weight whole channels, and those channels look
like the photo: its map was a recoloured photo. Maps finer than
``heatmap.HEAT_REGION_CELLS`` cells a side are averaged over regions of that size, so the
map shows which parts of the face count rather than the photo's edges.

How a map is drawn over the face, and when it is flat: engine.evaluation.heatmap.

Both tools run the model in eval mode (dropout off, batch-norm running statistics)
and then give every module back the train/eval mode it had, so they may be called
on a model that is in the middle of training.
"""

from __future__ import annotations

import contextlib
import logging
import math
from dataclasses import dataclass
from typing import Callable, Iterator, Sequence

import numpy as np
import torch
from pytorch_grad_cam import HiResCAM
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget
from torch import nn

import engine.models as model_zoo
from engine.evaluation.heatmap import (FLAT_MESSAGE, LEGEND_TEXT, blend_heatmap,  # noqa: F401
                                       colour_scale_stops, region_heatmap)

log = logging.getLogger(__name__)

ReshapeTransform = Callable[[torch.Tensor], torch.Tensor]

@dataclass(frozen=True)
class GradCamResult:
    overlay: np.ndarray  # uint8 (H, W, 3) RGB: blend_heatmap(input image, heatmap)
    heatmap: np.ndarray  # float32 (H, W) in [0, 1]; 1 = where the class evidence is
    predicted_index: int
    confidence: float  # softmax probability of the predicted class
    flat: bool = False  # no region stands out (FLAT_MESSAGE); heatmap is then uniform


class _RawCam(HiResCAM):
    """HiResCAM that also keeps each layer's map before the package scales it to
    [0, 1] (scaling hides whether a map has any contrast)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.raw_maps: list[np.ndarray] = []

    def get_cam_image(self, *args, **kwargs) -> np.ndarray:
        cam = super().get_cam_image(*args, **kwargs)
        self.raw_maps.append(np.maximum(np.asarray(cam, dtype=np.float32), 0.0))
        return cam


@contextlib.contextmanager
def _eval_mode(model: nn.Module) -> Iterator[None]:
    """Eval mode for the duration; afterwards each module gets its own old mode back
    (a fine-tuning run may keep some modules, e.g. frozen batch-norm, in eval)."""
    modes = [(module, module.training) for module in model.modules()]
    model.eval()
    try:
        yield
    finally:
        for module, training in modes:
            module.training = training


def _model_device(model: nn.Module) -> torch.device:
    parameter = next(model.parameters(), None)
    return parameter.device if parameter is not None else torch.device("cpu")


def image_to_tensor(image_rgb_uint8: np.ndarray, mean: Sequence[float], std: Sequence[float],
                    device: torch.device | str = "cpu") -> torch.Tensor:
    """(H, W, 3) uint8 RGB -> normalised (1, 3, H, W) float tensor, as the model was trained."""
    image = np.asarray(image_rgb_uint8)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"expected an (H, W, 3) uint8 RGB image, got {image.shape} {image.dtype}")
    tensor = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).float().div_(255.0)
    mean_t = torch.tensor(mean, dtype=torch.float32).view(3, 1, 1)
    std_t = torch.tensor(std, dtype=torch.float32).view(3, 1, 1)
    return ((tensor - mean_t) / std_t).unsqueeze(0).to(device)


def gradcam_layers(model: nn.Module, arch: str) -> tuple[list[nn.Module], ReshapeTransform | None]:
    """The layers Grad-CAM explains for ``arch`` and the reshape that turns their output
    into (B, C, h, w) maps (None for CNNs, token-to-grid for ViT), from the model zoo."""
    return (model_zoo.gradcam_target_layers(arch, model),
            model_zoo.gradcam_reshape_transform(arch))


def gradcam_overlay(model: nn.Module, arch: str, image_rgb_uint8: np.ndarray,
                    mean: Sequence[float], std: Sequence[float], target_index: int | None = None,
                    *, target_layers: Sequence[nn.Module] | None = None,
                    reshape_transform: ReshapeTransform | None = None) -> GradCamResult:
    """Grad-CAM of ``target_index`` (default: the predicted class) for one image.

    ``image_rgb_uint8`` must already be at the model's input size; the heatmap has the
    same height and width. ``target_layers``/``reshape_transform`` override the model
    zoo's choice for ``arch`` (a student's own model, or another layer to explore).
    """
    if target_layers is None:
        target_layers, reshape_transform = gradcam_layers(model, arch)
    # Grad-CAM's backward pass writes .grad of the parameters; put the caller's back.
    saved_grads = [(p, p.grad) for p in model.parameters()]
    # Gradients are needed even when the caller runs under no_grad or inference_mode.
    with _eval_mode(model), torch.inference_mode(False), torch.enable_grad():
        input_tensor = image_to_tensor(image_rgb_uint8, mean, std, _model_device(model))
        # Gradients reach the target layer even when the backbone is frozen (transfer
        # learning), because the input itself then requires grad.
        input_tensor.requires_grad_(True)
        cam = _RawCam(model=model, target_layers=list(target_layers),
                      reshape_transform=reshape_transform)
        try:
            targets = None if target_index is None else [ClassifierOutputTarget(int(target_index))]
            cam(input_tensor=input_tensor, targets=targets)
            probabilities = torch.softmax(cam.outputs.detach()[0].float(), dim=0)
        finally:
            # Not the context-manager form: its __exit__ swallows IndexError.
            cam.activations_and_grads.release()
            for parameter, grad in saved_grads:
                parameter.grad = grad
    heatmap, flat = region_heatmap([raw[0] for raw in cam.raw_maps],
                                   tuple(np.asarray(image_rgb_uint8).shape[:2]))
    overlay = blend_heatmap(image_rgb_uint8, heatmap)
    predicted = int(torch.argmax(probabilities))
    log.debug("Grad-CAM for %s: class %s explained, class %d predicted", arch,
              "predicted" if target_index is None else target_index, predicted)
    return GradCamResult(overlay=overlay, heatmap=heatmap, predicted_index=predicted,
                         confidence=float(probabilities[predicted]), flat=flat)


def list_feature_layers(model: nn.Module) -> list[str]:
    """Names (for :func:`feature_maps`) of the convolution layers, input to output."""
    return [name for name, module in model.named_modules() if isinstance(module, nn.Conv2d)]


def feature_maps(model: nn.Module, layer_name: str, image_rgb_uint8: np.ndarray,
                 mean: Sequence[float], std: Sequence[float], max_maps: int = 16) -> np.ndarray:
    """Output channels of layer ``layer_name`` for one image: (K, h, w) float32, K <=
    ``max_maps`` (the first channels), each map scaled to [0, 1] on its own so weak and
    strong channels are equally visible; a constant map is all zeros."""
    try:
        layer = model.get_submodule(layer_name)
    except AttributeError as exc:
        raise ValueError(f"the model has no layer named {layer_name!r}") from exc
    captured: list[torch.Tensor] = []

    def keep_output(_module: nn.Module, _inputs: object, output: object) -> None:
        captured.append(output[0] if isinstance(output, (tuple, list)) else output)

    input_tensor = image_to_tensor(image_rgb_uint8, mean, std, _model_device(model))
    handle = layer.register_forward_hook(keep_output)
    try:
        with _eval_mode(model), torch.no_grad():
            model(input_tensor)
    finally:
        handle.remove()
    activation = captured[0] if captured else None
    if not isinstance(activation, torch.Tensor) or activation.ndim != 4:
        shape = tuple(activation.shape) if isinstance(activation, torch.Tensor) else None
        raise ValueError(f"layer {layer_name!r} gives {shape}, not (1, C, h, w) feature maps; "
                         f"pick one of {list_feature_layers(model)}")
    maps = activation[0, :max_maps].float().cpu().numpy()
    low = maps.min(axis=(1, 2), keepdims=True)
    span = maps.max(axis=(1, 2), keepdims=True) - low
    scaled = np.divide(maps - low, span, out=np.zeros_like(maps), where=span > 0)
    return scaled.astype(np.float32)


def feature_map_grid(maps: np.ndarray, columns: int, padding: int = 2,
                     pad_value: int = 255) -> np.ndarray:
    """Tile (K, h, w) maps in [0, 1] into one grayscale uint8 image, ``columns`` per row,
    separated by ``padding`` pixels of ``pad_value``."""
    maps = np.asarray(maps, dtype=np.float32)
    if maps.ndim != 3 or maps.shape[0] == 0:
        raise ValueError(f"expected (K, h, w) maps with K >= 1, got {maps.shape}")
    if columns < 1:
        raise ValueError("columns must be at least 1")
    count, height, width = maps.shape
    columns = min(columns, count)
    rows = math.ceil(count / columns)
    grid = np.full((rows * height + (rows - 1) * padding, columns * width + (columns - 1) * padding),
                   pad_value, dtype=np.uint8)
    tiles = np.round(np.clip(maps, 0.0, 1.0) * 255.0).astype(np.uint8)
    for index, tile in enumerate(tiles):
        top = (index // columns) * (height + padding)
        left = (index % columns) * (width + padding)
        grid[top:top + height, left:left + width] = tile
    return grid
