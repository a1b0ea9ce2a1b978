"""Images and broken files the tests make themselves (no fixtures checked in)."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image


def gradient(width: int = 64, height: int = 48, seed: int = 0) -> np.ndarray:
    """A recognisable RGB pattern: each quadrant a different colour, plus noise."""
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 40, (height, width, 3), dtype=np.uint8)
    img[: height // 2, : width // 2, 0] += 200  # top-left red
    img[: height // 2, width // 2:, 1] += 200   # top-right green
    img[height // 2:, : width // 2, 2] += 200   # bottom-left blue
    return img


def save(path: Path, array: np.ndarray | Image.Image, fmt: str | None = None, **kw) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    img = array if isinstance(array, Image.Image) else Image.fromarray(array)
    img.save(path, fmt, **kw)
    return path


def jpeg_with_orientation(path: Path, array: np.ndarray, orientation: int) -> Path:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return save(path, array, "JPEG", exif=exif.tobytes(), quality=95)


def truncated_jpeg(path: Path) -> Path:
    buffer = io.BytesIO()
    Image.fromarray(gradient(256, 256)).save(buffer, "JPEG", quality=95)
    data = buffer.getvalue()
    path.write_bytes(data[: len(data) // 2])
    return path


def png_bomb(path: Path, width: int = 50_000, height: int = 50_000) -> Path:
    """A tiny PNG whose header claims a huge size (a decompression bomb's signature)."""
    buffer = io.BytesIO()
    Image.new("L", (8, 8)).save(buffer, "PNG")
    data = bytearray(buffer.getvalue())
    ihdr = 8 + 8  # signature, then length + type of the IHDR chunk
    data[ihdr:ihdr + 8] = struct.pack(">II", width, height)
    crc = zlib.crc32(bytes(data[ihdr - 4:ihdr + 13])) & 0xFFFFFFFF
    data[ihdr + 13:ihdr + 17] = struct.pack(">I", crc)
    path.write_bytes(bytes(data))
    return path
