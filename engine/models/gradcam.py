"""Where Grad-CAM (the `grad-cam` package) should look inside each architecture."""

from __future__ import annotations

from torch import nn

from engine.models.spec import ReshapeTransform, get_spec, resolve_module_path


def _last_conv(model: nn.Module) -> nn.Module | None:
    convs = [module for module in model.modules() if isinstance(module, nn.Conv2d)]
    return convs[-1] if convs else None


def gradcam_target_layers(arch: str, model: nn.Module) -> list[nn.Module]:
    """Modules of `model` whose activations Grad-CAM should weight.

    CNNs: the last convolutional block. ViT: the last encoder block's first
    LayerNorm (use with `gradcam_reshape_transform`). Architectures registered
    without a layer path fall back to their last Conv2d.
    """
    spec = get_spec(arch)
    if spec.gradcam_layer_path is not None:
        return [resolve_module_path(model, spec.gradcam_layer_path)]
    conv = _last_conv(model)
    if conv is None:
        raise ValueError(f"{arch} names no Grad-CAM layer and has no Conv2d to fall back to.")
    return [conv]


def gradcam_reshape_transform(arch: str) -> ReshapeTransform | None:
    """Turns token activations into a (B, C, H, W) map for transformers; None for CNNs."""
    return get_spec(arch).reshape_transform
