"""The augmentation presets as plain data (no torch), so the command line and the app
can list them without loading PyTorch. engine/data/augment.py applies them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AugmentPreset:
    """One named augmentation strength. Ranges are symmetric unless they say otherwise."""

    name: str
    description: str
    flip: bool = False
    max_rotation_deg: float = 0.0
    # RandomResizedCrop's `scale`: the fraction of the image area a crop keeps (zoom in).
    crop_area: tuple[float, float] = (1.0, 1.0)
    # RandomResizedCrop's `ratio`: the crop's width/height, drawn log-uniformly.
    crop_aspect: tuple[float, float] = (1.0, 1.0)
    brightness: float = 0.0
    contrast: float = 0.0
    saturation: float = 0.0

    @property
    def changes_geometry(self) -> bool:
        return (self.flip or self.max_rotation_deg > 0
                or self.crop_area != (1.0, 1.0) or self.crop_aspect != (1.0, 1.0))

    @property
    def changes_colour(self) -> bool:
        return self.brightness > 0 or self.contrast > 0 or self.saturation > 0


# Hue is left out on purpose: a hue shift turns skin green or blue, which no real
# photo of a face does, so it teaches the model nothing useful.
PRESETS: dict[str, AugmentPreset] = {
    preset.name: preset
    for preset in (
        AugmentPreset(
            "none",
            "No augmentation: the model sees every training face exactly as it is.",
        ),
        AugmentPreset(
            "light",
            "Small changes: mirror, tilt up to 5°, zoom up to 10%, slightly different lighting.",
            flip=True, max_rotation_deg=5.0, crop_area=(0.9, 1.0),
            brightness=0.1, contrast=0.1,
        ),
        AugmentPreset(
            "standard",
            "The lab's recipe: mirror, tilt up to 15°, zoom up to 20%, lighting and colour changes.",
            flip=True, max_rotation_deg=15.0, crop_area=(0.8, 1.0), crop_aspect=(0.9, 1.1),
            brightness=0.2, contrast=0.2, saturation=0.2,
        ),
        AugmentPreset(
            "strong",
            "Big changes for very small datasets: mirror, tilt up to 25°, zoom up to 40%, "
            "stretch, strong lighting and colour changes.",
            flip=True, max_rotation_deg=25.0, crop_area=(0.6, 1.0), crop_aspect=(0.75, 4 / 3),
            brightness=0.4, contrast=0.4, saturation=0.4,
        ),
    )
}
