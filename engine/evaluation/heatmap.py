"""How a Grad-CAM map is shown: one blend of heat colours over the face, its colour
scale (for legends), and whether a map is flat.

:func:`blend_heatmap` is the one way a map is drawn over a face: the error gallery,
the lab report, ``facelab explain`` and the webcam all show its result, with the colours
of :func:`heat_colours` (legends take :func:`colour_scale_stops`). A map whose regions
barely differ is *flat*, and every place that shows one says so (:data:`FLAT_MESSAGE`).

numpy only (OpenCV inside the functions): the app imports this module for its legends
and messages without loading torch.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

HEAT_REGION_CELLS = 14  # a map is shown at most this many regions a side (ViT-B/16's grid)
# A map whose weakest region has more than (1 - FLAT_SPREAD) of the strongest one's
# evidence (or that has none at all) singles out no region.
FLAT_SPREAD = 0.2
FLAT_MESSAGE = ("Grad-CAM is flat for this face: the model's decision does not depend on "
                "one region.")
# Opacity of the heat colour over the face, from the coolest to the hottest region: the
# face stays readable everywhere, and the regions that count stand out.
HEAT_OPACITY = (0.15, 0.7)
LEGEND_TEXT = "Grad-CAM colours: blue = low, green/yellow = medium, red = high evidence"


def heat_colours(values: np.ndarray) -> np.ndarray:
    """(…) values in [0, 1] -> (…, 3) uint8 RGB on the heat scale (blue low, red high)."""
    import cv2

    values = np.clip(np.nan_to_num(np.asarray(values, dtype=np.float32)), 0.0, 1.0)
    levels = np.round(values * 255).astype(np.uint8)
    bgr = cv2.applyColorMap(levels.reshape(-1, 1), cv2.COLORMAP_JET)
    return bgr[:, 0, ::-1].reshape(*values.shape, 3).copy()


def colour_scale_stops(count: int = 6) -> list[tuple[float, str]]:
    """(position in [0, 1], "#rrggbb") along the heat scale: a legend's gradient."""
    positions = np.linspace(0.0, 1.0, max(2, count))
    return [(float(p), "#{:02x}{:02x}{:02x}".format(*c))
            for p, c in zip(positions, heat_colours(positions))]


def blend_heatmap(image_rgb_uint8: np.ndarray, heatmap: np.ndarray) -> np.ndarray:
    """The heat colours over the face, more opaque where the map is higher
    (:data:`HEAT_OPACITY`): (H, W, 3) uint8 RGB, the image's size."""
    image = np.asarray(image_rgb_uint8)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) RGB image, got {image.shape}")
    heat = np.clip(np.nan_to_num(np.asarray(heatmap, dtype=np.float32)), 0.0, 1.0)
    if heat.shape != image.shape[:2]:
        import cv2

        heat = cv2.resize(heat, (image.shape[1], image.shape[0]), interpolation=cv2.INTER_LINEAR)
    low, high = HEAT_OPACITY
    alpha = (low + (high - low) * heat)[..., None]
    blended = image.astype(np.float32) * (1.0 - alpha) + heat_colours(heat) * alpha
    return np.clip(np.round(blended), 0, 255).astype(np.uint8)


def region_heatmap(raw_maps: Sequence[np.ndarray], size: tuple[int, int],
                   cells: int = HEAT_REGION_CELLS) -> tuple[np.ndarray, bool]:
    """Each layer's raw (h, w) map averaged over regions (at most ``cells`` a side),
    brought to ``size`` (height, width) and scaled to [0, 1]; with whether the result
    is flat. A flat map comes back uniform: its level is how strong the evidence is
    everywhere (0: none)."""
    import cv2

    height, width = size
    maps, flat, levels = [], True, []
    for raw in raw_maps:
        raw = np.maximum(np.nan_to_num(np.asarray(raw, dtype=np.float32)), 0.0)
        rows, cols = raw.shape
        if rows > cells or cols > cells:
            raw = cv2.resize(raw, (min(cols, cells), min(rows, cells)),
                             interpolation=cv2.INTER_AREA)
        peak, low = float(raw.max()), float(raw.min())
        layer_flat = peak <= 0.0 or (peak - low) / peak < FLAT_SPREAD
        flat = flat and layer_flat
        levels.append(0.0 if peak <= 0.0 else float(raw.mean()) / peak)
        scaled = np.zeros_like(raw) if layer_flat else (raw - low) / (peak - low)
        maps.append(cv2.resize(scaled, (width, height), interpolation=cv2.INTER_LINEAR))
    if not maps or flat:
        level = min(1.0, max(0.0, float(np.mean(levels)))) if levels else 0.0
        return np.full((height, width), level, dtype=np.float32), True
    heat = np.mean(maps, axis=0)
    span = float(heat.max() - heat.min())
    heat = (heat - heat.min()) / span if span > 0 else np.zeros_like(heat)
    return np.clip(heat, 0.0, 1.0).astype(np.float32), False
