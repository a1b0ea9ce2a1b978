from __future__ import annotations

import pytest
import torch

from engine.data.augment import PRESETS, AugmentPreset, augment_batch, get_preset


def faces(count: int = 6, height: int = 32, width: int = 32) -> torch.Tensor:
    generator = torch.Generator().manual_seed(0)
    return torch.randint(0, 256, (count, 3, height, width), generator=generator, dtype=torch.uint8)


def test_presets_are_the_four_named_ones_with_readable_descriptions():
    assert list(PRESETS) == ["none", "light", "standard", "strong"]
    for name, preset in PRESETS.items():
        assert preset.name == name and preset.description.endswith(".")
    with pytest.raises(ValueError, match="Valid presets: none, light, standard, strong"):
        get_preset("extreme")


@pytest.mark.parametrize("name", list(PRESETS))
@pytest.mark.parametrize("as_float", [False, True])
def test_presets_keep_shape_dtype_and_range(name, as_float):
    images = faces(height=32, width=40)  # not square: the warp must handle both axes
    batch = images.float() / 255 if as_float else images
    original = batch.clone()

    out = augment_batch(batch, name, torch.Generator().manual_seed(1))

    assert out.shape == images.shape and out.dtype == torch.float32
    assert out.min() >= 0.0 and out.max() <= 1.0
    assert torch.equal(batch, original)  # the input is left alone


def test_none_is_the_identity_and_strong_changes_every_image():
    images = faces()
    unit = images.float() / 255
    assert torch.equal(augment_batch(images, "none", torch.Generator()), unit)
    changed = augment_batch(images, "strong", torch.Generator().manual_seed(3))
    assert ((changed - unit).abs().flatten(1).mean(dim=1) > 0.01).all()


@pytest.mark.parametrize("name", ["light", "standard", "strong"])
def test_same_generator_state_gives_the_same_batch(name):
    images = faces()
    first = augment_batch(images, name, torch.Generator().manual_seed(5))
    again = augment_batch(images, name, torch.Generator().manual_seed(5))
    other = augment_batch(images, name, torch.Generator().manual_seed(6))
    assert torch.equal(first, again)
    assert not torch.equal(first, other)


def test_parameters_differ_per_image():
    same_face = faces(count=1).repeat(8, 1, 1, 1)
    out = augment_batch(same_face, "standard", torch.Generator().manual_seed(0))
    assert len({tuple(image.flatten()[:50].tolist()) for image in out}) == 8


def test_flip_alone_mirrors_about_half_of_the_images_exactly():
    flip_only = AugmentPreset("flip", "Mirror only.", flip=True)
    images = faces(count=64).float() / 255

    out = augment_batch(images, flip_only, torch.Generator().manual_seed(0))

    kept = torch.isclose(out, images, atol=1e-5).flatten(1).all(dim=1)
    mirrored = torch.isclose(out, images.flip(-1), atol=1e-5).flatten(1).all(dim=1)
    assert (kept ^ mirrored).all()
    assert 16 < int(mirrored.sum()) < 48


def test_brightness_alone_scales_pixels_by_one_factor_per_image():
    brighter = AugmentPreset("bright", "Brightness only.", brightness=0.5)
    images = torch.full((4, 3, 8, 8), 0.4)

    out = augment_batch(images, brighter, torch.Generator().manual_seed(0))

    per_image = out.flatten(1)
    assert torch.allclose(per_image, per_image[:, :1].expand_as(per_image))
    assert ((per_image[:, 0] >= 0.2 - 1e-6) & (per_image[:, 0] <= 0.6 + 1e-6)).all()
