"""Reading photos safely: every failure becomes an :class:`ImageReadError` with a reason
a user can understand, and every success is an upright 8-bit RGB array.

Handles EXIF rotation, greyscale/palette/alpha/CMYK/16-bit conversion, decompression
bombs (checked from the header, before any pixel is decoded) and fast reduced-size
JPEG decoding (libjpeg's DCT scaling, "draft mode") for face detection.
"""

from __future__ import annotations

import io
import math
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

# Larger than any camera or scanner photo a lab will meet (a 150 MP image decodes to
# 450 MB of RGB); anything bigger is far more likely a decompression bomb.
MAX_PIXELS = 150_000_000
Image.MAX_IMAGE_PIXELS = MAX_PIXELS

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".gif", ".bmp",
                              ".dib", ".pgm", ".ppm", ".pbm", ".pnm", ".tif", ".tiff",
                              ".webp"})

_ROTATED_ORIENTATIONS = {5, 6, 7, 8}  # EXIF orientations that swap width and height
# EXIF orientation -> the transpose that makes the photo upright (as the camera saw it).
_UPRIGHT = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
            4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE,
            6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
            8: Image.Transpose.ROTATE_90}


class ImageReadError(Exception):
    """A photo that cannot be used, with the reason in plain words."""

    def __init__(self, path: Path | str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = str(path)
        self.reason = reason


@dataclass(frozen=True)
class ImageInfo:
    width: int  # upright, after EXIF orientation
    height: int
    format: str
    exif_orientation: int


def read_bytes(path: Path) -> bytes:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ImageReadError(path, "file not found (moved or deleted?)") from None
    except IsADirectoryError:
        raise ImageReadError(path, "is a folder, not a file") from None
    except PermissionError:
        raise ImageReadError(path, "permission denied: FaceLab may not read this file") from None
    except OSError as exc:
        raise ImageReadError(path, f"cannot read the file ({exc.strerror or exc})") from None
    if not data:
        raise ImageReadError(path, "empty file (0 bytes)")
    return data


def _open(path: Path | str, source) -> Image.Image:
    """Open the header only and refuse bombs before any pixel is decoded."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(source)
    except UnidentifiedImageError:
        raise ImageReadError(path, "not an image, or a format FaceLab cannot read") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageReadError(path, _too_large_reason(None)) from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageReadError(path, f"damaged image header ({exc})") from None
    w, h = img.size
    if w * h > MAX_PIXELS:
        img.close()
        raise ImageReadError(path, _too_large_reason((w, h)))
    if w < 1 or h < 1:
        img.close()
        raise ImageReadError(path, f"image has no pixels ({w}x{h})")
    return img


def _too_large_reason(size: tuple[int, int] | None) -> str:
    dims = f"{size[0]}x{size[1]} pixels, " if size else ""
    return (f"image too large ({dims}limit {MAX_PIXELS // 1_000_000} megapixels): "
            "possibly a decompression bomb")


def _orientation(img: Image.Image) -> int:
    try:
        value = int(img.getexif().get(0x0112, 1))
    except Exception:  # a damaged EXIF block must not cost the photo
        return 1
    return value if 1 <= value <= 8 else 1


def probe(path: Path, data: bytes) -> ImageInfo:
    """Header facts for the catalog, from bytes already read (for hashing)."""
    img = _open(path, io.BytesIO(data))
    with img:
        orientation = _orientation(img)
        w, h = img.size
        if orientation in _ROTATED_ORIENTATIONS:
            w, h = h, w
        return ImageInfo(w, h, img.format or "unknown", orientation)


def to_rgb(img: Image.Image) -> Image.Image:
    """Any PIL mode to 8-bit RGB; transparent areas become white, not black."""
    mode = img.mode
    if mode == "RGB":
        return img
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        if mode == "F" or arr.max(initial=0) > 65535 or arr.min(initial=0) < 0:
            lo, hi = float(arr.min(initial=0)), float(arr.max(initial=0))
            arr = (arr - lo) / (hi - lo or 1.0) * 255.0
        elif mode != "I" or arr.max(initial=0) > 255:  # 16-bit range
            arr = arr / 257.0
        grey = Image.fromarray(np.clip(arr + 0.5, 0, 255).astype(np.uint8), "L")
        return grey.convert("RGB")
    if mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
            mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return img.convert("RGB")  # L, 1, P, CMYK, YCbCr, LAB, HSV


def decode(path: Path, data: bytes | None = None, max_side: int | None = None,
           min_long_side: int | None = None) -> tuple[np.ndarray, float]:
    """Decode an upright RGB uint8 array.

    With ``max_side``, the long side is about ``max_side`` and never more: JPEGs are
    decoded directly at a reduced scale (1/2, 1/4, 1/8), far faster than a full decode.
    With ``min_long_side``, a JPEG is decoded at the smallest such scale whose long side
    is still at least that. Returns the array and its scale relative to the full-size
    upright image.
    """
    source = io.BytesIO(data) if data is not None else path
    img = _open(path, source)
    try:
        full_w, full_h = img.size
        full_long = max(full_w, full_h)
        if img.format == "JPEG" and (min_long_side or max_side):
            # draft() picks the smallest DCT scale whose output is at least the requested
            # size. For max_side, asking for 3/4 of it lets a 4032 px photo decode at 1/4
            # (1008 px) instead of 1/2 (2016 px, then resized): "about max_side".
            target = min_long_side or 0.75 * max_side
            if target < full_long:
                factor = target / full_long
                img.draft("RGB", (math.ceil(full_w * factor), math.ceil(full_h * factor)))
        try:
            img.load()
            rgb = to_rgb(img)
            transpose = _UPRIGHT.get(_orientation(img))
            if transpose is not None:
                rgb = rgb.transpose(transpose)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise ImageReadError(path, _too_large_reason((full_w, full_h))) from None
        except MemoryError:
            raise ImageReadError(path, "not enough memory to decode this image") from None
        except (OSError, SyntaxError, ValueError, EOFError, IndexError) as exc:
            raise ImageReadError(path, f"truncated or damaged image data ({exc})") from None
        arr = np.ascontiguousarray(np.asarray(rgb, dtype=np.uint8))
    finally:
        img.close()
    if max_side and max(arr.shape[:2]) > max_side:
        arr = resize_long_side(arr, max_side)
    return arr, max(arr.shape[:2]) / full_long


def resize_long_side(arr: np.ndarray, long_side: int) -> np.ndarray:
    import cv2  # local: cv2 is heavy and only needed when resizing

    h, w = arr.shape[:2]
    factor = long_side / max(h, w)
    size = (max(1, round(w * factor)), max(1, round(h * factor)))
    return cv2.resize(arr, size, interpolation=cv2.INTER_AREA)
