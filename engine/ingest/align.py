"""Aligned face chips: a face rotated, scaled and moved so that its five landmarks sit
where dlib's face networks expect them.

MTCNN gives five landmarks per face (in this order, image left to right: left eye
centre, right eye centre, nose tip, left mouth corner, right mouth corner); the
catalog stores them in full-size, EXIF-upright photo pixels. A least-squares
similarity transform (rotation, uniform scale, translation; never a reflection,
Umeyama's method) maps them onto dlib's template for a 150 px chip with 0.25
padding, scaled to the chip size asked for, and the photo is warped through it.

One function, :func:`face_chip`, cuts every chip: the lazily built chip cache of a
project (cut from the full-size photo), ``facelab predict`` (the full-size photo)
and the webcam (the camera frame), so a model sees faces framed the same way in
training, evaluation, prediction and live.

Faces without landmarks (a whole-image sample of a photo with no face found, or a
face found by the Haar cascade) cannot be aligned: they get a centred square crop
of the same chip size instead, and :attr:`engine.catalog.Face.alignable` says which.

Pixels past the photo's edges are black (a constant border), as dlib's own chips
and FaceLab's square crops are: a face network trained on dlib chips has seen black
borders, and replicated edge pixels would smear hair or collars into streaks that
exist in no photo.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
from collections import defaultdict
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from engine.catalog import CatalogError, Face
from engine.ingest.images import ImageReadError, decode
from engine.storage import atomic_write, write_error_reason
from engine.tasks import TaskContext, null_context

log = logging.getLogger(__name__)

FACE_FRAMINGS = ("crop", "aligned")  # see ArchSpec.face_framing

# dlib's 5-point template for a 150 px chip with 0.25 padding (x, y), in MTCNN's
# landmark order: left eye, right eye, nose tip, left mouth corner, right mouth corner.
TEMPLATE_SIZE = 150
TEMPLATE_150 = np.array([(47.549, 46.599), (100.476, 46.599), (74.013, 76.562),
                         (50.415, 103.023), (97.610, 103.023)], dtype=np.float64)
TEMPLATE_NAME = "dlib5-pad0.25"

# A face without landmarks is framed by a square around its box centre this many times
# the box side: about what an aligned chip shows of an MTCNN box (measured on lfw20:
# the chip's side is 0.93-1.04x the box side, median 0.97).
FALLBACK_BOX_SCALE = 1.0

# Shrinking by more than this in one bilinear warp skips source pixels (aliasing):
# larger faces are first reduced with area averaging, then warped.
_MAX_WARP_SHRINK = 1.5


@dataclass(frozen=True)
class AlignSettings:
    """How aligned chips are cut. Recorded with every run trained on them."""
    chip_size: int = TEMPLATE_SIZE   # chips are chip_size x chip_size; the template scales
    template: str = TEMPLATE_NAME
    jpeg_quality: int = 95

    def __post_init__(self) -> None:
        if isinstance(self.chip_size, bool) or not isinstance(self.chip_size, int) \
                or self.chip_size < 32:
            raise ValueError(f"chip_size must be a whole number >= 32, not {self.chip_size!r}")
        if self.template != TEMPLATE_NAME:
            raise ValueError(f"unknown alignment template {self.template!r} "
                             f"(FaceLab knows {TEMPLATE_NAME!r})")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict | None) -> AlignSettings:
        if values is None:
            return cls()
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known) if isinstance(values, dict) else ["format"]
        if unknown:
            raise ValueError(f"Alignment settings not understood (unexpected "
                             f"{', '.join(unknown)}); update FaceLab.")
        return cls(**values)

    @property
    def key(self) -> str:
        """A folder name that changes whenever a setting that changes the pixels does."""
        return f"{self.template}-{self.chip_size}-q{self.jpeg_quality}"

    def template_points(self) -> np.ndarray:
        return TEMPLATE_150 * (self.chip_size / TEMPLATE_SIZE)


def similarity_transform(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """The 2x3 matrix of the rotation + uniform scale + translation that maps the points
    ``src`` onto ``dst`` with the least squared error (Umeyama 1991), never a reflection:
    a face seen in a mirror is still the face, but a chip must not flip it."""
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    if src.shape != dst.shape or src.ndim != 2 or src.shape[1] != 2 or len(src) < 2:
        raise ValueError(f"need matching (N, 2) point sets, N >= 2, not {src.shape} "
                         f"and {dst.shape}")
    src_mean, dst_mean = src.mean(axis=0), dst.mean(axis=0)
    src_c, dst_c = src - src_mean, dst - dst_mean
    src_var = (src_c ** 2).sum() / len(src)
    if src_var <= 1e-12:
        raise ValueError("the landmarks coincide: no transform can be fitted")
    covariance = dst_c.T @ src_c / len(src)
    u, singular, vt = np.linalg.svd(covariance)
    signs = np.ones(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        signs[-1] = -1.0  # the best fit would mirror the face: take the best rotation
    rotation = u @ np.diag(signs) @ vt
    scale = float((singular * signs).sum() / src_var)
    translation = dst_mean - scale * rotation @ src_mean
    return np.hstack([scale * rotation, translation[:, None]])


def landmark_transform(landmarks: Sequence[Sequence[float]], settings: AlignSettings
                       ) -> np.ndarray:
    """Photo pixels -> chip pixels for a face's five landmarks."""
    points = np.asarray(landmarks, dtype=np.float64)
    if points.shape != (5, 2) or not np.all(np.isfinite(points)):
        raise ValueError(f"alignment needs 5 finite (x, y) landmarks, not {points.shape}")
    return similarity_transform(points, settings.template_points())


def fallback_transform(box: Sequence[float], whole_image: bool, image_size: tuple[int, int],
                       settings: AlignSettings) -> np.ndarray:
    """Photo pixels -> chip pixels for a face without landmarks: a centred square.

    A whole-image sample shows the largest square at the photo's centre; a face box a
    square FALLBACK_BOX_SCALE times its side around its centre (the face about as large
    as in an aligned chip, upright as the photo is)."""
    if whole_image:
        width, height = image_size
        side, cx, cy = min(width, height), width / 2, height / 2
    else:
        x1, y1, x2, y2 = box
        side = max(x2 - x1, y2 - y1) * FALLBACK_BOX_SCALE
        cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    side = max(side, 1.0)
    scale = settings.chip_size / side
    # Pixel centres: the square's edges, cx +- side/2, land on the chip's edges -0.5, size-0.5.
    offset = (settings.chip_size - 1) / 2
    return np.array([[scale, 0.0, offset - scale * cx], [0.0, scale, offset - scale * cy]])


def warp_chip(image: np.ndarray, matrix: np.ndarray, size: int) -> np.ndarray:
    """``image`` (RGB uint8) warped through ``matrix`` (image -> chip pixels) into a
    size x size chip: bilinear, black past the edges, area-averaged first where the chip
    is much smaller than the face so that no detail aliases."""
    import cv2

    matrix = np.asarray(matrix, dtype=np.float64)
    scale = float(np.sqrt(abs(np.linalg.det(matrix[:, :2]))))  # chip px per image px
    if scale * _MAX_WARP_SHRINK < 1.0:
        image, matrix = _reduced_region(image, matrix, size, scale)
    return cv2.warpAffine(image, matrix, (size, size), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))


def _reduced_region(image: np.ndarray, matrix: np.ndarray, size: int, scale: float
                    ) -> tuple[np.ndarray, np.ndarray]:
    """The part of ``image`` the chip shows, area-reduced to about the chip's resolution,
    and the matrix that maps the reduced region onto the chip."""
    import cv2

    inverse = cv2.invertAffineTransform(matrix)
    corners = np.array([[0, 0, 1], [size, 0, 1], [0, size, 1], [size, size, 1]], np.float64)
    footprint = corners @ inverse.T
    height, width = image.shape[:2]
    x0 = int(max(0, np.floor(footprint[:, 0].min()) - 2))
    y0 = int(max(0, np.floor(footprint[:, 1].min()) - 2))
    x1 = int(min(width, np.ceil(footprint[:, 0].max()) + 3))
    y1 = int(min(height, np.ceil(footprint[:, 1].max()) + 3))
    if x1 - x0 < 2 or y1 - y0 < 2:  # the chip lies off the image: all border anyway
        return image, matrix
    region = image[y0:y1, x0:x1]
    new_w = max(1, round((x1 - x0) * scale))
    new_h = max(1, round((y1 - y0) * scale))
    reduced = cv2.resize(region, (new_w, new_h), interpolation=cv2.INTER_AREA)
    fx, fy = new_w / (x1 - x0), new_h / (y1 - y0)
    # A reduced pixel x_r covers the region's pixels around (x_r + 0.5) / fx - 0.5.
    back = np.array([[1 / fx, 0.0, x0 + 0.5 / fx - 0.5], [0.0, 1 / fy, y0 + 0.5 / fy - 0.5],
                     [0.0, 0.0, 1.0]])
    return reduced, matrix @ back


def face_chip(image: np.ndarray, landmarks: Sequence[Sequence[float]] | None,
              box: Sequence[float], whole_image: bool, settings: AlignSettings
              ) -> tuple[np.ndarray, bool]:
    """The chip of one face of ``image`` (the full-size upright photo, or a camera frame,
    RGB uint8) and whether it is aligned (False: a centred crop, no landmarks).

    The one function that cuts aligned chips: import, prediction and the webcam."""
    if landmarks is not None and not whole_image:
        matrix, aligned = landmark_transform(landmarks, settings), True
    else:
        matrix = fallback_transform(box, whole_image, (image.shape[1], image.shape[0]),
                                    settings)
        aligned = False
    return warp_chip(image, matrix, settings.chip_size), aligned


# ---------------------------------------------------------------- the chip cache
# aligned/<settings key>/<sha256[:2]>/<sha256>_<face index>_<geometry>.jpg
# The name holds everything the pixels depend on: the photo's content (sha256), the
# face's landmarks and box (geometry), and the alignment settings (the folder). A
# changed photo, a re-detected face or other settings give another name, so a stale
# chip is never read. Each chip is written atomically: a killed process leaves whole
# chips only, and the next run cuts the rest.
ALIGNED_DIR = "aligned"


def chip_relpath(face: Face, photo_sha256: str, settings: AlignSettings) -> str:
    geometry = json.dumps([face.landmarks, face.box, face.whole_image], separators=(",", ":"))
    digest = hashlib.sha256(geometry.encode()).hexdigest()[:12]
    return (f"{ALIGNED_DIR}/{settings.key}/{photo_sha256[:2]}/"
            f"{photo_sha256}_{face.face_index}_{digest}.jpg")


class ChipSourceError(CatalogError):
    """Photos whose faces must be aligned cannot be read (moved, deleted, damaged)."""


def _cut_photo_chips(path: Path, faces: list[Face], targets: list[Path],
                     settings: AlignSettings) -> None:
    image, _ = decode(path)  # full size, EXIF-upright, RGB: as the crops were cut
    for face, target in zip(faces, targets):
        chip, _ = face_chip(image, face.landmarks, face.box, face.whole_image, settings)
        target.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(target, lambda file, chip=chip: Image.fromarray(chip).save(
            file, "JPEG", quality=settings.jpeg_quality))


def ensure_chips(project, faces: Sequence[Face], settings: AlignSettings,
                 ctx: TaskContext | None = None, workers: int | None = None
                 ) -> dict[int, Path]:
    """The chip file of every face in ``faces``, cutting those not cut yet from their
    full-size photos (one decode per photo, in worker threads).

    Resumable: chips already on disk are kept, a cancel stops between photos, and the
    next call cuts only the rest. Raises ChipSourceError naming the photos that could
    not be read (the chips cut from the others are kept).
    """
    ctx = ctx or null_context()
    catalog = project.catalog
    photos = {}
    paths: dict[int, Path] = {}
    todo: dict[int, list[Face]] = defaultdict(list)
    for face in faces:
        photo = photos.get(face.photo_id) or photos.setdefault(
            face.photo_id, catalog.photo(face.photo_id))
        paths[face.id] = project.resolve_inside(chip_relpath(face, photo.sha256, settings))
        if not paths[face.id].exists():
            todo[face.photo_id].append(face)
    if not todo:
        return paths
    total = len(todo)
    ctx.report("cache", 0, total, "aligning faces")
    failed: dict[str, str] = {}
    workers = max(1, min(workers or os.cpu_count() or 2, total))
    with ThreadPoolExecutor(workers) as pool:
        queue = iter(todo.items())
        in_flight: dict[Future, str] = {}
        done = 0
        try:
            while True:
                while len(in_flight) < 2 * workers:  # a cancel is felt within a photo or two
                    item = next(queue, None)
                    if item is None:
                        break
                    photo_id, photo_faces = item
                    photo = photos[photo_id]
                    future = pool.submit(_cut_photo_chips, project.resolve(photo.path),
                                         photo_faces, [paths[f.id] for f in photo_faces],
                                         settings)
                    in_flight[future] = photo.path
                if not in_flight:
                    break
                finished, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                for future in finished:
                    photo_path = in_flight.pop(future)
                    try:
                        future.result()
                    except ImageReadError as exc:
                        failed[photo_path] = exc.reason
                    except OSError as exc:
                        raise ChipSourceError(
                            f"{project.root / ALIGNED_DIR}: cannot save aligned faces: "
                            f"{write_error_reason(exc)}. The faces aligned so far are kept."
                        ) from exc
                    done += 1
                    ctx.report("cache", done, total, f"aligning faces: {photo_path}")
                ctx.check()
        finally:
            for future in in_flight:
                future.cancel()
    if failed:
        first, reason = next(iter(failed.items()))
        raise ChipSourceError(
            f"{len(failed)} photo(s) could not be read to align their faces, e.g. {first}: "
            f"{reason}. Put the photos back (or import their folder again) and retry; "
            f"the faces aligned so far are kept.")
    return paths
