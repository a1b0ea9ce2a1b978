"""Training-time augmentation, applied to a whole batch at once on the training device.

The lab's recipe (`RandomHorizontalFlip`, `RandomRotation(15)`, `ColorJitter`, zoom)
is redone here for batches: every image gets its own random flip, rotation, zoom and
shift, folded into ONE affine warp (`affine_grid` + `grid_sample`), then its own
brightness, contrast and saturation factors. Nothing is decoded or looped per image,
so a GPU augments a batch in one kernel launch per step instead of a CPU worker pool
redoing PIL transforms every epoch.

Random parameters are drawn from the caller's `torch.Generator` (on the generator's
own device, then moved), so the same generator state gives the same batch on any
device: the trainer's resume is exact because it saves that state.
"""

from __future__ import annotations

import math

import torch
from torch.nn import functional as F

from engine.data.augment_presets import PRESETS, AugmentPreset

__all__ = ["PRESETS", "AugmentPreset", "augment_batch", "get_preset", "to_unit_float"]

# ITU-R 601 luma weights, the ones torchvision's ColorJitter uses for grey.
_LUMA_WEIGHTS = (0.299, 0.587, 0.114)


def get_preset(name: str) -> AugmentPreset:
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(
            f"Unknown augmentation preset {name!r}. Valid presets: {', '.join(PRESETS)}."
        ) from None


def to_unit_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 0..255 -> float32 0..1; floating images are assumed to be 0..1 already."""
    if images.dtype == torch.uint8:
        return images.float().div_(255.0)
    if not images.is_floating_point():
        raise TypeError(f"images must be uint8 or floating point, not {images.dtype}")
    return images


def augment_batch(images: torch.Tensor, preset: AugmentPreset | str,
                  generator: torch.Generator) -> torch.Tensor:
    """Randomly augment every image of an N×3×H×W batch; returns floats in 0..1.

    `images` is uint8 (0..255) or floating point (0..1) on any device. The result is a
    new tensor on the same device (float32 for uint8 input, else the input's dtype);
    the input is never modified. Same generator state -> same result.
    """
    if images.dim() != 4 or images.shape[1] != 3:
        raise ValueError(f"expected an N×3×H×W batch, got shape {tuple(images.shape)}")
    if isinstance(preset, str):
        preset = get_preset(preset)
    out = to_unit_float(images)
    if out.shape[0] == 0:
        return out.clone()
    if preset.changes_geometry:
        out = _warp(out, preset, generator)
    if preset.changes_colour:
        out = _jitter_colour(out, preset, generator)
    return out if out is not images else out.clone()


def _uniform(generator: torch.Generator, n: int, low: float, high: float,
             device: torch.device) -> torch.Tensor:
    values = torch.rand(n, generator=generator, device=generator.device)
    return (low + (high - low) * values).to(device)


def _warp(images: torch.Tensor, preset: AugmentPreset, generator: torch.Generator) -> torch.Tensor:
    n, _, height, width = images.shape
    device = images.device
    angle = _uniform(generator, n, -1.0, 1.0, device) * math.radians(preset.max_rotation_deg)
    area = _uniform(generator, n, *preset.crop_area, device)
    log_aspect = _uniform(generator, n, math.log(preset.crop_aspect[0]),
                          math.log(preset.crop_aspect[1]), device)
    flip_draw = _uniform(generator, n, 0.0, 1.0, device)
    shift_x = _uniform(generator, n, -1.0, 1.0, device)
    shift_y = _uniform(generator, n, -1.0, 1.0, device)

    aspect = log_aspect.exp()
    # Crop width/height as fractions of the image; a crop never exceeds the image.
    crop_w = (area * aspect).sqrt().clamp(max=1.0)
    crop_h = (area / aspect).sqrt().clamp(max=1.0)
    flip = torch.where(flip_draw < 0.5, -1.0, 1.0) if preset.flip else torch.ones_like(flip_draw)
    cos, sin = angle.cos(), angle.sin()
    # affine_grid works in coordinates normalised to [-1, 1] per axis; rotating there
    # would shear a non-square image, hence the height/width corrections on `sin`.
    theta = torch.zeros(n, 2, 3, device=device, dtype=images.dtype)
    theta[:, 0, 0] = cos * crop_w * flip
    theta[:, 0, 1] = -sin * crop_h * (height / width)
    theta[:, 1, 0] = sin * crop_w * flip * (width / height)
    theta[:, 1, 1] = cos * crop_h
    # The crop's centre moves anywhere that keeps the (unrotated) crop inside the image.
    theta[:, 0, 2] = shift_x * (1.0 - crop_w)
    theta[:, 1, 2] = shift_y * (1.0 - crop_h)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    # Reflection instead of black corners: black wedges after a rotation would be a
    # pattern the model could learn that real photos never have.
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="reflection",
                         align_corners=False)


def _grey(images: torch.Tensor) -> torch.Tensor:
    weights = torch.tensor(_LUMA_WEIGHTS, device=images.device, dtype=images.dtype)
    return (images * weights.view(1, 3, 1, 1)).sum(dim=1, keepdim=True)


def _jitter_colour(images: torch.Tensor, preset: AugmentPreset,
                   generator: torch.Generator) -> torch.Tensor:
    """Brightness, then contrast, then saturation, each with a factor per image.

    torchvision shuffles the order per call; a fixed order keeps the maths readable
    and the difference is invisible at these strengths.
    """
    n = images.shape[0]
    device = images.device
    shape = (n, 1, 1, 1)
    brightness = _uniform(generator, n, 1 - preset.brightness, 1 + preset.brightness, device)
    contrast = _uniform(generator, n, 1 - preset.contrast, 1 + preset.contrast, device)
    saturation = _uniform(generator, n, 1 - preset.saturation, 1 + preset.saturation, device)
    out = (images * brightness.view(shape).to(images.dtype)).clamp_(0.0, 1.0)
    mean_grey = _grey(out).mean(dim=(1, 2, 3), keepdim=True)
    out = torch.lerp(mean_grey, out, contrast.view(shape).to(images.dtype)).clamp_(0.0, 1.0)
    grey = _grey(out)
    return torch.lerp(grey, out, saturation.view(shape).to(images.dtype)).clamp_(0.0, 1.0)
