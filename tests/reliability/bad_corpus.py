"""The bad-input corpus: generated files that a lab's photo folder really holds, each
with what FaceLab must make of it. Built from `tests.imagegen`; nothing is checked in.

Every case names the file it makes and one of three outcomes:
  "ok"      imported and cropped into a usable sample (converted, rotated upright...)
  "skipped" refused at import, listed with the reason
  "error"   imported (its header is fine) but its pixels cannot be read: listed by crop
"""

from __future__ import annotations

import io
import os
import struct
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from tests.imagegen import gradient, png_bomb, save, truncated_jpeg


@dataclass(frozen=True)
class Case:
    name: str                       # short id, used in messages
    make: Callable[[Path], Path]    # builds the file under the folder, returns its path
    outcome: str                    # "ok" | "skipped" | "error"
    reason: str = ""                # a phrase the reason must contain (skipped/error)
    upright: tuple[int, int] | None = None  # (width, height) after EXIF rotation, if checked


# --------------------------------------------------------------------- builders
def _img(mode: str, w: int = 64, h: int = 48, seed: int = 0) -> Image.Image:
    return Image.fromarray(gradient(w, h, seed=seed)).convert(mode)


def _bytes(image: Image.Image, fmt: str, **kw) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **kw)
    return buffer.getvalue()


def _write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def sixteen_bit(path: Path, fmt: str) -> Path:
    deep = np.linspace(0, 65535, 64 * 48).reshape(48, 64).astype(np.uint16)
    return save(path, Image.fromarray(deep), fmt)


def float_tiff(path: Path) -> Path:
    return save(path, Image.fromarray(np.linspace(-3, 7, 64 * 48, dtype=np.float32)
                                      .reshape(48, 64), "F"), "TIFF")


def animated_gif(path: Path) -> Path:
    frames = [_img("P", seed=s) for s in range(3)]
    path.parent.mkdir(parents=True, exist_ok=True)
    frames[0].save(path, "GIF", save_all=True, append_images=frames[1:], duration=50)
    return path


def palette_with_transparency(path: Path) -> Path:
    img = _img("P")
    img.info["transparency"] = 0
    return save(path, img, "PNG", transparency=0)


# EXIF orientation -> how to store the pixels so that, rotated upright, they are `gradient`.
_STORED = {1: None, 2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
           4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE,
           6: Image.Transpose.ROTATE_90, 7: Image.Transpose.TRANSVERSE,
           8: Image.Transpose.ROTATE_270}
UPRIGHT_SIZE = (80, 40)  # the upright gradient: top-left quadrant red


def exif_rotated(path: Path, orientation: int) -> Path:
    upright = Image.fromarray(gradient(*UPRIGHT_SIZE, seed=7))
    stored = upright if _STORED[orientation] is None else upright.transpose(_STORED[orientation])
    exif = Image.Exif()
    exif[0x0112] = orientation
    return save(path, stored, "JPEG", exif=exif.tobytes(), quality=95)


def huge_solid_jpeg(path: Path, width: int = 12_000, height: int = 9_000) -> Path:
    """108 megapixels (under the 150 MP limit) in a few hundred kB: a solid colour."""
    return save(path, Image.new("RGB", (width, height), (90, 120, 150)), "JPEG", quality=80)


def gif_bomb(path: Path) -> Path:
    """A GIF whose logical screen claims 65535 x 65535 pixels (4.3 gigapixels)."""
    data = bytearray(_bytes(_img("P", 8, 8), "GIF"))
    data[6:10] = struct.pack("<HH", 65535, 65535)
    # The image descriptor's own size too, so the frame claims it as well.
    at = data.index(b",", 13)
    data[at + 5:at + 9] = struct.pack("<HH", 65535, 65535)
    return _write(path, bytes(data))


def jpeg_bomb(path: Path) -> Path:
    """A small JPEG whose frame header (SOF0) claims 65000 x 65000 pixels."""
    data = bytearray(_bytes(_img("RGB", 16, 16), "JPEG"))
    sof = data.index(b"\xff\xc0")
    data[sof + 5:sof + 9] = struct.pack(">HH", 65000, 65000)
    return _write(path, bytes(data))


def bmp_bomb(path: Path) -> Path:
    """A BMP header claiming 60000 x 60000 pixels over a few bytes of data."""
    data = bytearray(_bytes(_img("RGB", 4, 4), "BMP"))
    data[18:26] = struct.pack("<ii", 60000, 60000)
    return _write(path, bytes(data))


def zero_width_png(path: Path) -> Path:
    data = bytearray(_bytes(_img("L", 8, 8), "PNG"))
    data[16:20] = struct.pack(">I", 0)
    return _write(path, bytes(data))


def truncated_png(path: Path) -> Path:
    data = _bytes(Image.fromarray(np.random.default_rng(3).integers(
        0, 255, (128, 128, 3), dtype=np.uint8)), "PNG")
    return _write(path, data[: len(data) // 2])


def corrupt_png_data(path: Path) -> Path:
    """Header intact, compressed pixel data overwritten with garbage."""
    data = bytearray(_bytes(Image.fromarray(np.random.default_rng(4).integers(
        0, 255, (64, 64, 3), dtype=np.uint8)), "PNG"))
    idat = data.index(b"IDAT")
    data[idat + 4:idat + 200] = bytes(range(196))
    return _write(path, bytes(data))


def long_name(folder: Path) -> Path:
    """A file name of 255 bytes in UTF-8 (the usual file-system limit), multibyte chars."""
    stem = "ภ" * 80  # 3 bytes each: 240 bytes
    stem += "x" * (255 - len(stem.encode()) - len(".jpg"))
    assert len((stem + ".jpg").encode()) == 255
    return save(folder / (stem + ".jpg"), gradient(seed=11), "JPEG")


def deep_path(folder: Path) -> Path:
    """A path of about 3,000 characters (PATH_MAX is 4,096 on Linux): 40 nested folders."""
    deep = folder
    for level in range(40):
        deep = deep / f"level-{level:02d}-{'d' * 60}"
    return save(deep / "deep.jpg", gradient(seed=12), "JPEG")


def build_cases() -> list[Case]:
    cases = [
        # Converted, rotated, resized: all usable.
        Case("cmyk jpeg", lambda d: save(d / "cmyk.jpg", _img("CMYK"), "JPEG"), "ok"),
        Case("16-bit png", lambda d: sixteen_bit(d / "deep16.png", "PNG"), "ok"),
        Case("16-bit tiff", lambda d: sixteen_bit(d / "deep16.tif", "TIFF"), "ok"),
        Case("32-bit float tiff", lambda d: float_tiff(d / "float.tif"), "ok"),
        Case("palette png + transparency",
             lambda d: palette_with_transparency(d / "palette.png"), "ok"),
        Case("palette gif", lambda d: save(d / "palette.gif", _img("P"), "GIF"), "ok"),
        Case("animated gif", lambda d: animated_gif(d / "animated.gif"), "ok"),
        Case("grey + alpha png", lambda d: save(d / "la.png", _img("LA"), "PNG"), "ok"),
        Case("1-bit bmp", lambda d: save(d / "onebit.bmp", _img("1"), "BMP"), "ok"),
        Case("webp", lambda d: save(d / "photo.webp", _img("RGB"), "WEBP"), "ok"),
        Case("upper-case extension", lambda d: save(d / "SHOUT.JPG", _img("RGB", seed=21), "JPEG"), "ok"),
        *[Case(f"exif orientation {o}", lambda d, o=o: exif_rotated(d / f"exif-{o}.jpg", o),
               "ok", upright=UPRIGHT_SIZE) for o in range(1, 9)],
        Case("12000x9000 jpeg", lambda d: huge_solid_jpeg(d / "huge.jpg"), "ok",
             upright=(12_000, 9_000)),
        Case("1x1 pixel", lambda d: save(d / "pixel.png", _img("RGB", 1, 1), "PNG"), "ok",
             upright=(1, 1)),
        Case("1x500 sliver", lambda d: save(d / "sliver.png", _img("RGB", 1, 500), "PNG"),
             "ok", upright=(1, 500)),
        Case("unicode name", lambda d: save(d / "ภาพ 🙂 ñ.jpg", _img("RGB", seed=22), "JPEG"), "ok"),
        Case("decomposed unicode name",
             lambda d: save(d / unicodedata.normalize("NFD", "Café Zoë.jpg"), _img("RGB", seed=23), "JPEG"), "ok"),
        Case("255-byte name", long_name, "ok"),
        Case("3000-character path", deep_path, "ok"),
        # Refused at import, each with its reason.
        Case("zero bytes", lambda d: _write(d / "empty.jpg", b""), "skipped", "empty file"),
        Case("text named .png", lambda d: _write(d / "notes.png", b"shopping list\n"),
             "skipped", "not an image"),
        Case("random bytes named .jpg",
             lambda d: _write(d / "noise.jpg", np.random.default_rng(5).bytes(4096)),
             "skipped", "not an image"),
        Case("html named .jpeg",
             lambda d: _write(d / "page.jpeg", b"<!doctype html><html>404</html>"),
             "skipped", "not an image"),
        Case("png bomb", lambda d: png_bomb(d / "bomb.png"), "skipped", "too large"),
        Case("gif bomb", lambda d: gif_bomb(d / "bomb.gif"), "skipped", "too large"),
        Case("jpeg bomb", lambda d: jpeg_bomb(d / "bomb.jpg"), "skipped", "too large"),
        Case("bmp bomb", lambda d: bmp_bomb(d / "bomb.bmp"), "skipped", "too large"),
        Case("zero-width png", lambda d: zero_width_png(d / "zero-width.png"), "skipped",
             "not an image"),
        Case("dangling symlink",
             lambda d: _symlink(d / "dangling.jpg", d / "nowhere" / "gone.jpg"),
             "skipped", "not found"),
        Case("symlink to itself",
             lambda d: _symlink(d / "self.jpg", d / "self.jpg"), "skipped",
             "symbolic links"),
        # Header fine, pixels not: imported, then listed by the crop.
        Case("truncated jpeg", lambda d: truncated_jpeg(d / "truncated.jpg"), "error",
             "truncated or damaged"),
        Case("truncated png", lambda d: truncated_png(d / "truncated.png"), "error",
             "truncated or damaged"),
        Case("corrupt png data", lambda d: corrupt_png_data(d / "corrupt.png"), "error",
             "truncated or damaged"),
    ]
    return cases


def _symlink(link: Path, target: Path) -> Path:
    link.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(target, link)
    return link
