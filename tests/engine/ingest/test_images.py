import numpy as np
import pytest
from PIL import Image

from engine.ingest.images import ImageReadError, decode, probe, read_bytes
from tests.imagegen import gradient, jpeg_with_orientation, png_bomb, save, truncated_jpeg


def _decode(path, **kw):
    return decode(path, read_bytes(path), **kw)


@pytest.mark.parametrize("orientation, expect", [
    (1, lambda a: a), (3, lambda a: a[::-1, ::-1]), (6, lambda a: np.rot90(a, -1)),
    (8, lambda a: np.rot90(a, 1)), (2, lambda a: a[:, ::-1]),
])
def test_exif_orientation_is_applied(tmp_path, orientation, expect):
    src = gradient(80, 40)
    path = jpeg_with_orientation(tmp_path / f"o{orientation}.jpg", src, orientation)
    arr, scale = _decode(path)
    want = expect(src)
    assert arr.shape == want.shape and scale == 1.0
    # JPEG is lossy: compare the mean colour of each quadrant, which the transform moves.
    h, w = want.shape[:2]
    for ys in (slice(0, h // 2), slice(h // 2, h)):
        for xs in (slice(0, w // 2), slice(w // 2, w)):
            assert np.abs(arr[ys, xs].mean((0, 1)) - want[ys, xs].mean((0, 1))).max() < 12
    info = probe(path, read_bytes(path))
    assert (info.width, info.height) == (w, h) and info.exif_orientation == orientation


def test_greyscale_palette_cmyk_and_16bit_become_rgb(tmp_path):
    src = gradient(32, 32)
    grey = save(tmp_path / "grey.png", Image.fromarray(src).convert("L"))
    pal = save(tmp_path / "pal.gif", Image.fromarray(src).convert("P"))
    cmyk = save(tmp_path / "cmyk.jpg", Image.fromarray(src).convert("CMYK"), quality=95)
    deep = np.linspace(0, 65535, 32 * 32).reshape(32, 32).astype(np.uint16)
    sixteen = save(tmp_path / "deep.png", Image.fromarray(deep))
    tiff16 = save(tmp_path / "deep.tif", Image.fromarray(deep))
    for path in (grey, pal, cmyk, sixteen, tiff16):
        arr, _ = _decode(path)
        assert arr.dtype == np.uint8 and arr.shape == (32, 32, 3), path
    deep_rgb, _ = _decode(sixteen)
    assert deep_rgb[0, 0, 0] == 0 and deep_rgb[-1, -1, 0] == 255  # full range kept
    cmyk_rgb, _ = _decode(cmyk)
    assert np.abs(cmyk_rgb.astype(int) - src.astype(int)).mean() < 20


def test_transparent_pixels_become_white(tmp_path):
    rgba = np.zeros((8, 8, 4), dtype=np.uint8)
    rgba[:, :4] = (255, 0, 0, 255)  # left half opaque red, right half transparent
    arr, _ = _decode(save(tmp_path / "alpha.png", Image.fromarray(rgba, "RGBA")))
    assert tuple(arr[0, 0]) == (255, 0, 0) and tuple(arr[0, 7]) == (255, 255, 255)


def test_reduced_jpeg_decode_respects_max_side_and_reports_scale(tmp_path):
    path = save(tmp_path / "big.jpg", gradient(4032, 3024), quality=90)
    arr, scale = _decode(path, max_side=1024)
    assert max(arr.shape[:2]) <= 1024
    assert scale == pytest.approx(max(arr.shape[:2]) / 4032)
    assert max(arr.shape[:2]) >= 900  # about 1024, not a tiny thumbnail


@pytest.mark.parametrize("make, reason", [
    (lambda p: p.write_bytes(b""), "empty file"),
    (lambda p: p.write_text("hello, I am not a photo"), "not an image"),
    (png_bomb, "too large"),
])
def test_unusable_files_raise_with_a_reason(tmp_path, make, reason):
    path = tmp_path / "bad.png"
    make(path)
    with pytest.raises(ImageReadError, match=reason) as info:
        probe(path, read_bytes(path))
    assert str(path) in str(info.value)


def test_truncated_jpeg_fails_at_decode_with_a_reason(tmp_path):
    path = truncated_jpeg(tmp_path / "cut.jpg")
    probe(path, read_bytes(path))  # the header is fine
    with pytest.raises(ImageReadError, match="truncated or damaged"):
        _decode(path)


def test_vanished_file_reason(tmp_path):
    with pytest.raises(ImageReadError, match="file not found"):
        read_bytes(tmp_path / "gone.jpg")
