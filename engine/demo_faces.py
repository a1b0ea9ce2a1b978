"""Faces FaceLab may show anywhere: drawn procedurally, so no photo licence applies.

Each drawn person has a fixed identity (face shape, skin tone, hair colour and cut,
eye colour, eyebrows, nose, glasses, beard, shirt); each photo of them varies the pose
(shift, scale, tilt, a slight turn), the lighting, the expression, the exposure and
the background, so a classifier has something to learn and something to get wrong.
MTCNN finds these faces, so they go through FaceLab's real import and crop. The demo
project is built from them when no real photos are at hand (engine/demo.py), and so
are the README's screenshots (scripts/screenshots.py --synthetic). Everything is drawn
from seeds: the same seed gives the same photos, pixel for pixel.

    python -m engine.demo_faces sheet.png   # a contact sheet, face boxes drawn
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

SUPERSAMPLE = 3  # drawn larger, then scaled down: smooth edges without an antialiasing API
PHOTO_SIZE = (400, 480)
Box = tuple[float, float, float, float]
RGB = tuple[int, int, int]


@dataclass(frozen=True)
class Identity:
    name: str
    face_width: float        # half-width of the face oval, as a fraction of its half-height
    skin: RGB
    hair: RGB
    hair_style: str          # short, long, curly, bun, bald
    iris: RGB
    brow_weight: float       # eyebrow thickness, as a fraction of the face height
    nose_width: float        # as a fraction of the face width
    lips: RGB
    glasses: bool
    beard: bool
    shirt: RGB


PERSONS = (
    Identity("Ada Moreno", 0.74, (233, 190, 160), (92, 52, 28), "long", (70, 110, 60),
             0.018, 0.16, (190, 90, 95), False, False, (170, 40, 60)),
    Identity("Bao Tran", 0.82, (222, 178, 130), (25, 22, 20), "short", (60, 40, 25),
             0.026, 0.19, (170, 100, 90), True, False, (40, 90, 160)),
    Identity("Chidi Okafor", 0.80, (120, 78, 52), (40, 29, 22), "curly", (45, 30, 20),
             0.024, 0.23, (110, 60, 55), False, True, (230, 180, 40)),
    Identity("Dana Lindqvist", 0.70, (246, 214, 192), (226, 190, 110), "bun", (70, 130, 190),
             0.014, 0.15, (205, 110, 120), True, False, (60, 150, 110)),
    Identity("Emil Novak", 0.86, (214, 160, 128), (120, 120, 118), "bald", (90, 100, 110),
             0.030, 0.21, (160, 90, 80), False, True, (90, 80, 70)),
    # Ada's look-alike (long dark hair, a red top) with Bao's and Dana's glasses: the
    # confusions a classifier really makes.
    Identity("Farah Haddad", 0.74, (205, 156, 120), (62, 38, 26), "long", (60, 45, 30),
             0.020, 0.17, (175, 85, 90), True, False, (150, 45, 80)),
)


@dataclass(frozen=True)
class Variation:
    """One photo's departures from the person's usual look."""
    centre: tuple[float, float]  # face centre, as fractions of the photo
    scale: float                 # face height, as a fraction of the photo height
    tilt: float                  # degrees, positive = counter-clockwise
    turn: float                  # the head turned a little: -1 (to its right) .. 1
    light: float                 # light from the left (-1) to the right (+1)
    exposure: float              # overall brightness factor
    smile: float                 # -0.2 (frown) .. 1 (wide smile)
    mouth_open: float            # 0 .. 1
    gaze: float                  # iris shift, -1 (left) .. 1 (right)

    @staticmethod
    def random(rng: np.random.Generator, centre_x: float = 0.5, scale: float = 0.5,
               shift: float = 0.1) -> Variation:
        return Variation(
            centre=(centre_x + float(rng.uniform(-shift, shift)),
                    float(rng.uniform(0.42, 0.55))),
            scale=scale * float(rng.uniform(0.84, 1.16)), tilt=float(rng.uniform(-12, 12)),
            turn=float(rng.uniform(-1, 1)), light=float(rng.uniform(-1, 1)),
            exposure=float(rng.uniform(0.78, 1.15)), smile=float(rng.uniform(-0.2, 1.0)),
            mouth_open=float(rng.uniform(0, 1) ** 3), gaze=float(rng.uniform(-1, 1)))


def _shade(rgb: RGB, factor: float) -> RGB:
    return tuple(int(max(0, min(255, c * factor))) for c in rgb)


def _ellipse(draw: ImageDraw.ImageDraw, x: float, y: float, rx: float, ry: float,
             fill: RGB) -> None:
    draw.ellipse((x - rx, y - ry, x + rx, y + ry), fill=fill)


def _bezier(p0, p1, p2, steps: int = 16) -> list[tuple[float, float]]:
    """Points along a quadratic Bezier curve (PIL draws polygons, not curves)."""
    return [((1 - t) ** 2 * p0[0] + 2 * (1 - t) * t * p1[0] + t ** 2 * p2[0],
             (1 - t) ** 2 * p0[1] + 2 * (1 - t) * t * p1[1] + t ** 2 * p2[1])
            for t in np.linspace(0, 1, steps)]


def _background(size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """A vertical gradient between two colours with a few soft blobs: a room, a wall."""
    width, height = size
    top, bottom = (rng.integers(40, 230, 3).astype(np.float32) for _ in range(2))
    t = np.linspace(0, 1, height, dtype=np.float32)[:, None, None]
    image = np.broadcast_to(top * (1 - t) + bottom * t, (height, width, 3)).copy()
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    for _ in range(4):
        cx, cy = rng.uniform(0, width), rng.uniform(0, height)
        radius = rng.uniform(0.1, 0.35) * width
        weight = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * radius ** 2))[..., None]
        image = image * (1 - 0.5 * weight) + rng.integers(30, 240, 3) * 0.5 * weight
    return image


def _hair_cap(cx: float, cy: float, rx: float, ry: float) -> list[tuple[float, float]]:
    """The hair over the top of the head down to a curved hairline (lower at the
    temples than over the forehead)."""
    top = [(cx + rx * 1.05 * math.cos(a), cy - ry * 0.05 + ry * 1.04 * math.sin(a))
           for a in np.linspace(math.pi, 2 * math.pi, 40)]
    hairline = [(cx + rx * 1.02 * u, cy - ry * (0.30 + 0.16 * (1 - u * u)))
                for u in np.linspace(1, -1, 30)]
    return top + hairline


def _draw_hair_back(draw: ImageDraw.ImageDraw, person: Identity, cx: float, cy: float,
                    rx: float, ry: float) -> None:
    """Hair behind the head (long hair falls past the face, a bun sits on top)."""
    hair = person.hair
    if person.hair_style == "long":
        draw.rounded_rectangle((cx - rx * 1.28, cy - ry * 1.1, cx + rx * 1.28, cy + ry * 1.4),
                               radius=rx * 0.9, fill=hair)
    elif person.hair_style == "curly":
        for a in np.linspace(math.radians(165), math.radians(375), 16):
            x, y = cx + rx * 1.0 * math.cos(a), cy - ry * 0.2 + ry * 0.9 * math.sin(a)
            _ellipse(draw, x, y, rx * 0.33, rx * 0.33, hair)
    elif person.hair_style == "bun":
        _ellipse(draw, cx, cy - ry * 1.22, rx * 0.42, rx * 0.38, hair)
    elif person.hair_style == "bald":  # a horseshoe of hair round the back, above the ears
        _ellipse(draw, cx, cy - ry * 0.12, rx * 1.05, ry * 0.42, hair)


def _draw_hair_front(draw: ImageDraw.ImageDraw, person: Identity, cx: float, cy: float,
                     rx: float, ry: float) -> None:
    hair = person.hair
    if person.hair_style == "bald":
        return
    draw.polygon(_hair_cap(cx, cy, rx, ry), fill=hair)
    if person.hair_style == "long":  # the fringe swept to one side
        draw.polygon(_bezier((cx - rx * 1.0, cy - ry * 0.25), (cx - rx * 0.1, cy - ry * 0.55),
                             (cx + rx * 0.7, cy - ry * 0.6))
                     + [(cx + rx * 0.5, cy - ry * 0.9), (cx - rx * 0.9, cy - ry * 0.8)],
                     fill=hair)
    elif person.hair_style == "curly":
        for a in np.linspace(math.radians(195), math.radians(345), 8):
            x, y = cx + rx * 0.92 * math.cos(a), cy - ry * 0.5 + ry * 0.5 * math.sin(a)
            _ellipse(draw, x, y, rx * 0.2, rx * 0.2, _shade(hair, 1.6))
    elif person.hair_style == "short":  # a short fringe
        for u in np.linspace(-0.7, 0.5, 6):
            x = cx + rx * u
            draw.polygon([(x - rx * 0.12, cy - ry * 0.5), (x + rx * 0.12, cy - ry * 0.5),
                          (x + rx * 0.16, cy - ry * 0.38)], fill=hair)


def _draw_eye(draw: ImageDraw.ImageDraw, person: Identity, x: float, y: float, w: float,
              gaze: float) -> None:
    h = w * 0.46
    lid = _shade(person.skin, 0.45)
    draw.ellipse((x - w / 2, y - h / 2, x + w / 2, y + h / 2), fill=(240, 236, 232))
    ix = x + gaze * w * 0.16
    r = h * 0.47
    draw.ellipse((ix - r, y - r, ix + r, y + r), fill=person.iris)
    draw.ellipse((ix - r * 0.5, y - r * 0.5, ix + r * 0.5, y + r * 0.5), fill=(12, 10, 10))
    _ellipse(draw, ix + r * 0.35, y - r * 0.35, r * 0.2, r * 0.2, (255, 255, 255))
    draw.line(_bezier((x - w * 0.55, y + h * 0.05), (x, y - h * 1.05), (x + w * 0.55, y)),
              fill=lid, width=max(1, int(w * 0.09)), joint="curve")  # the upper lid
    draw.line(_bezier((x - w * 0.45, y + h * 0.25), (x, y + h * 0.75),
                      (x + w * 0.45, y + h * 0.25)),
              fill=_shade(person.skin, 0.8), width=max(1, int(w * 0.03)))  # the lower lid


def _draw_mouth(draw: ImageDraw.ImageDraw, person: Identity, variation: Variation,
                mx: float, my: float, rx: float, ry: float) -> None:
    width = rx * 0.52 + rx * 0.1 * variation.smile
    lift = ry * 0.07 * variation.smile  # smiling lifts the corners
    opening = ry * 0.09 * variation.mouth_open
    left, right = (mx - width / 2, my - lift), (mx + width / 2, my - lift)
    upper = (_bezier(left, (mx - width * 0.25, my - ry * 0.06), (mx, my - ry * 0.025), 10)
             + _bezier((mx, my - ry * 0.025), (mx + width * 0.25, my - ry * 0.06), right, 10))
    lower = _bezier(right, (mx, my + ry * 0.1 + opening + lift * 0.5), left)
    draw.polygon(upper + lower, fill=person.lips)
    parting = _bezier(left, (mx, my + opening * 0.6 + lift * 0.6), right)
    if opening > ry * 0.015:
        inner = _bezier(right, (mx, my + opening * 1.2 + lift * 0.4), left)
        draw.polygon(parting + inner, fill=(60, 20, 25))
        draw.polygon(parting + _bezier(right, (mx, my + opening * 0.5 + lift * 0.5), left),
                     fill=(235, 230, 220))  # the teeth
    draw.line(parting, fill=_shade(person.lips, 0.5), width=max(1, int(ry * 0.014)),
              joint="curve")


def _draw_person(draw: ImageDraw.ImageDraw, person: Identity, variation: Variation,
                 cx: float, cy: float, ry: float) -> None:
    rx = ry * person.face_width
    skin = person.skin
    turn = variation.turn
    draw.rectangle((cx - rx * 0.5, cy + ry * 0.5, cx + rx * 0.5, cy + ry * 1.6),
                   fill=_shade(skin, 0.8))  # the neck
    draw.chord((cx - rx * 2.6, cy + ry * 1.2, cx + rx * 2.6, cy + ry * 3.6), 180, 360,
               fill=person.shirt)  # the shoulders
    draw.polygon([(cx - rx * 0.45, cy + ry * 1.26), (cx + rx * 0.45, cy + ry * 1.26),
                  (cx, cy + ry * 1.7)], fill=_shade(skin, 0.8))  # the collar's opening
    _draw_hair_back(draw, person, cx, cy, rx, ry)
    for side in (-1, 1):  # ears: the one the head turns away from shows more
        ex = cx + side * rx * (0.97 - 0.05 * side * turn)
        _ellipse(draw, ex, cy, rx * 0.13, ry * 0.2, _shade(skin, 0.92))
    _ellipse(draw, cx, cy, rx, ry, skin)
    if person.beard:  # the jaw below a U from sideburn to sideburn, under the mouth
        jaw = [(cx + rx * 1.01 * math.cos(a), cy + ry * 1.01 * math.sin(a))
               for a in np.linspace(math.radians(-5), math.radians(185), 40)]
        draw.polygon(jaw + _bezier((cx - rx * 0.99, cy + ry * 0.15), (cx, cy + ry * 0.85),
                                   (cx + rx * 0.99, cy + ry * 0.15)), fill=person.hair)
    _draw_hair_front(draw, person, cx, cy, rx, ry)

    # Features shift towards the side the head turns to; the nose shifts most.
    fx = cx + turn * rx * 0.12
    eye_y, eye_dx, eye_w = cy - ry * 0.06, rx * 0.4, rx * 0.4
    brow_w = max(1, int(ry * person.brow_weight * 2))
    raise_brows = ry * 0.04 * max(variation.smile, 0)
    for side in (-1, 1):
        x = fx + side * eye_dx
        _draw_eye(draw, person, x, eye_y, eye_w * (1 - 0.08 * side * turn), variation.gaze)
        brow_y = eye_y - ry * 0.2 - raise_brows
        draw.line(_bezier((x - side * eye_w * 0.55, brow_y + ry * 0.04),
                          (x, brow_y - ry * 0.05), (x + side * eye_w * 0.65, brow_y + ry * 0.02)),
                  fill=_shade(person.hair, 0.7), width=brow_w, joint="curve")
    if person.glasses:
        frame_colour, lens = (28, 28, 34), eye_w * 0.7
        thick = max(1, int(ry * 0.024))
        for side in (-1, 1):
            x = fx + side * eye_dx
            draw.rounded_rectangle((x - lens, eye_y - lens * 0.68, x + lens, eye_y + lens * 0.68),
                                   radius=lens * 0.3, outline=frame_colour, width=thick)
            draw.line((x + side * lens, eye_y - lens * 0.3, cx + side * rx * 0.98,
                       eye_y - lens * 0.45), fill=frame_colour, width=thick)  # the arms
        draw.line(_bezier((fx - eye_dx + lens, eye_y - lens * 0.2), (fx, eye_y - lens * 0.5),
                          (fx + eye_dx - lens, eye_y - lens * 0.2)),
                  fill=frame_colour, width=thick)

    nose_x, nose_y = cx + turn * rx * 0.2, cy + ry * 0.24
    nose_w = rx * person.nose_width * 2.2
    draw.line(_bezier((fx - turn * rx * 0.05, eye_y + ry * 0.06),
                      (nose_x + turn * rx * 0.1, nose_y - ry * 0.1), (nose_x, nose_y)),
              fill=_shade(skin, 0.75), width=max(1, int(ry * 0.02)))
    _ellipse(draw, nose_x, nose_y + nose_w * 0.05, nose_w / 2, nose_w * 0.28, _shade(skin, 0.9))
    for side in (-1, 1):
        _ellipse(draw, nose_x + side * nose_w * 0.22, nose_y + nose_w * 0.1,
                 nose_w * 0.09, nose_w * 0.05, _shade(skin, 0.55))

    mouth_x, mouth_y = cx + turn * rx * 0.15, cy + ry * 0.52
    if person.beard:  # a moustache
        draw.polygon(_bezier((mouth_x - rx * 0.4, mouth_y - ry * 0.01),
                             (mouth_x, mouth_y - ry * 0.2),
                             (mouth_x + rx * 0.4, mouth_y - ry * 0.01))
                     + [(mouth_x, mouth_y - ry * 0.05)], fill=_shade(person.hair, 0.85))
    _draw_mouth(draw, person, variation, mouth_x, mouth_y, rx, ry)


def _face_box(person: Identity, variation: Variation, cx: float, cy: float,
              ry: float) -> Box:
    """Brow to chin and cheek to cheek (about what MTCNN reports), turned with the tilt."""
    rx = ry * person.face_width
    a = math.radians(variation.tilt)
    half_w = math.hypot(rx * math.cos(a), ry * 0.8 * math.sin(a))
    half_h = math.hypot(rx * math.sin(a), ry * 0.8 * math.cos(a))
    # The box's centre sits a little below the head's (brows to chin) and turns with
    # it: PIL turns counter-clockwise on screen, so the chin swings to the right.
    bx, by = cx + ry * 0.18 * math.sin(a), cy + ry * 0.18 * math.cos(a)
    return (bx - half_w, by - half_h, bx + half_w, by + half_h)


def draw_photo(people: Sequence[tuple[Identity, Variation]],
               size: tuple[int, int] = PHOTO_SIZE, seed: int = 0) -> tuple[Image.Image,
                                                                           list[Box]]:
    """A photo of one or more persons, and each face's box in its pixels."""
    rng = np.random.default_rng(seed)
    big = (size[0] * SUPERSAMPLE, size[1] * SUPERSAMPLE)
    image = _background(size, rng)
    yy, xx = np.mgrid[0:size[1], 0:size[0]].astype(np.float32)
    boxes = []
    light = people[0][1].light  # one light for the whole photo
    for person, variation in people:
        layer = Image.new("RGBA", big, (0, 0, 0, 0))
        cx, cy = variation.centre[0] * big[0], variation.centre[1] * big[1]
        ry = variation.scale * big[1] / 2
        _draw_person(ImageDraw.Draw(layer), person, variation, cx, cy, ry)
        fcx, fcy, fry = cx / SUPERSAMPLE, cy / SUPERSAMPLE, ry / SUPERSAMPLE
        # Averaged down first, then turned: turning the supersampled layer cost 9 times
        # as much, the most of a photo's time, for no difference after the final blur.
        layer = layer.reduce(SUPERSAMPLE).rotate(variation.tilt, resample=Image.BICUBIC,
                                                 center=(fcx, fcy))
        rgba = np.asarray(layer, np.float32)
        alpha = rgba[..., 3:] / 255
        # A round head: darker towards its edge, and on the side away from the light.
        dx, dy = (xx - fcx) / (fry * 1.2), (yy - fcy) / (fry * 1.3)
        rounding = (1.0 - 0.2 * np.clip(dx ** 2 + 0.5 * dy ** 2, 0, 1.5)
                    + 0.16 * light * np.clip(dx, -1.2, 1.2))[..., None]
        image = image * (1 - alpha) + rgba[..., :3] * rounding * alpha
        boxes.append(tuple(v / SUPERSAMPLE for v in _face_box(person, variation, cx, cy, ry)))
    exposure = float(np.mean([v.exposure for _, v in people]))
    image *= exposure * (1.0 + 0.12 * light * (xx / size[0] - 0.5))[..., None]
    image += rng.normal(0, 2.5, image.shape)  # faint sensor noise: noise bloats PNG screenshots
    photo = Image.fromarray(np.clip(image, 0, 255).astype(np.uint8))
    return photo.filter(ImageFilter.GaussianBlur(0.6)), boxes


def _person_variations(person_index: int, count: int, seed: int
                       ) -> Iterator[tuple[Variation, int]]:
    """Each photo's variation and drawing seed, without drawing it (cheap)."""
    rng = np.random.default_rng([seed, person_index])
    for _ in range(count):
        variation = Variation.random(rng)
        yield variation, int(rng.integers(1 << 31))


def person_photos(person_index: int, count: int, *, seed: int = 0
                  ) -> Iterator[tuple[Image.Image, Box]]:
    """``count`` portraits of one person with their face boxes, the same for a seed."""
    for variation, photo_seed in _person_variations(person_index, count, seed):
        photo, boxes = draw_photo([(PERSONS[person_index], variation)], seed=photo_seed)
        yield photo, boxes[0]


def group_photo(person_indices: Sequence[int], seed: int = 0) -> tuple[Image.Image, list[Box]]:
    """Several persons side by side in one wider photo."""
    rng = np.random.default_rng([seed, 1000, *person_indices])
    n = len(person_indices)
    people = [(PERSONS[i], Variation.random(rng, centre_x=(k + 0.5) / n, scale=0.42,
                                            shift=0.03))
              for k, i in enumerate(person_indices)]
    return draw_photo(people, (300 * n, 420), seed=int(rng.integers(1 << 31)))


def write_photo_folders(root: Path, photos_per_person: int, *, seed: int = 0,
                        mislabelled: int = 0,
                        progress: Callable[[int, int], None] | None = None) -> Path:
    """root/PERSON NAME/photo-NNN.jpg for every drawn person (what `facelab import
    --labels-from-folders` reads). Each person's last ``mislabelled`` photos go into the
    next person's folder, as a hurried student sorts them: the error gallery and the
    label-mistake finder get real mistakes to show.

    A photo already there is not drawn again (the same seed draws the same photo), so
    an interrupted run resumes; each is written whole or not at all. ``progress(done,
    total)`` is called after each photo (it may raise to stop)."""
    total = len(PERSONS) * photos_per_person
    done = 0
    for index, person in enumerate(PERSONS):
        for n, (variation, photo_seed) in enumerate(
                _person_variations(index, photos_per_person, seed)):
            folder = person.name
            if n >= photos_per_person - mislabelled:
                folder = PERSONS[(index + 1) % len(PERSONS)].name
            path = root / folder / f"photo-{n:03d}.jpg"
            if not path.is_file():
                photo, _ = draw_photo([(person, variation)], seed=photo_seed)
                path.parent.mkdir(parents=True, exist_ok=True)
                partial = path.with_name(path.name + ".part")
                photo.save(partial, "JPEG", quality=90)
                os.replace(partial, path)
            done += 1
            if progress is not None:
                progress(done, total)
    return root


def contact_sheet(photos_per_person: int = 4, seed: int = 0, thumb: int = 160) -> Image.Image:
    """Every person in a row, face boxes drawn, then a group photo: a quick look."""
    rows = []
    for index in range(len(PERSONS)):
        row = []
        for photo, box in person_photos(index, photos_per_person, seed=seed):
            ImageDraw.Draw(photo).rectangle(box, outline=(0, 255, 0), width=2)
            photo.thumbnail((thumb, thumb * 2))
            row.append(photo)
        rows.append(row)
    group, boxes = group_photo([0, 2, 3], seed)
    for box in boxes:
        ImageDraw.Draw(group).rectangle(box, outline=(0, 255, 0), width=2)
    group.thumbnail((thumb * photos_per_person, thumb * 2))
    rows.append([group])
    width = max(sum(p.width for p in row) for row in rows)
    height = sum(max(p.height for p in row) for row in rows)
    sheet = Image.new("RGB", (width, height), "white")
    y = 0
    for row in rows:
        x = 0
        for photo in row:
            sheet.paste(photo, (x, y))
            x += photo.width
        y += max(p.height for p in row)
    return sheet


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="A contact sheet of the drawn persons")
    parser.add_argument("out", help="image file to write")
    parser.add_argument("--photos", type=int, default=4, help="photos per person")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    contact_sheet(args.photos, args.seed).save(args.out)
    print(args.out)
