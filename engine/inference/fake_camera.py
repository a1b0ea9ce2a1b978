"""A video file made from photos, to stand in for a camera (tests, benchmarks, demos on a
machine without one): each photo is fitted into the frame (never stretched) and held
for some frames, optionally swaying a little with sensor noise, as a face in front of
a webcam does."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Sequence

import numpy as np

from engine.ingest.images import decode


def fit_into(rgb: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``rgb`` scaled to fit inside ``size`` (width, height), centred on black."""
    import cv2

    width, height = size
    h, w = rgb.shape[:2]
    factor = min(width / w, height / h)
    new_w, new_h = max(1, round(w * factor)), max(1, round(h * factor))
    resized = cv2.resize(rgb, (new_w, new_h),
                         interpolation=cv2.INTER_AREA if factor < 1 else cv2.INTER_CUBIC)
    canvas = np.zeros((height, width, 3), np.uint8)
    top, left = (height - new_h) // 2, (width - new_w) // 2
    canvas[top:top + new_h, left:left + new_w] = resized
    return canvas


NOISE_FIELDS = 8  # noise patterns drawn once and cycled: fresh noise per frame is slow


def _sway(frame: np.ndarray, step: int, amplitude: float,
          noise: list[np.ndarray]) -> np.ndarray:
    if amplitude:
        shift = amplitude * math.sin(2 * math.pi * step / 90)  # one sway every 3 s at 30 fps
        frame = np.roll(frame, round(shift), axis=1)
    if noise:
        frame = np.clip(frame + noise[step % len(noise)], 0, 255).astype(np.uint8)
    return frame


def write_photo_video(path: str | os.PathLike, photos: Sequence[str | os.PathLike],
                      hold_frames: int, *, size: tuple[int, int] = (640, 480), fps: float = 30,
                      sway_px: float = 0.0, noise: float = 0.0, seed: int = 0) -> Path:
    """Write an MJPG AVI showing each photo for ``hold_frames`` frames."""
    import cv2

    path = Path(path)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, size)
    if not writer.isOpened():
        raise OSError(f"OpenCV cannot write the video {path}")
    rng = np.random.default_rng(seed)
    fields = [np.round(rng.normal(0, noise, (size[1], size[0], 3))).astype(np.int16)
              for _ in range(NOISE_FIELDS)] if noise else []
    try:
        step = 0
        for photo in photos:
            still = fit_into(decode(Path(photo))[0], size)
            for _ in range(hold_frames):
                frame = _sway(still, step, sway_px, fields)
                writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
                step += 1
    finally:
        writer.release()
    return path
