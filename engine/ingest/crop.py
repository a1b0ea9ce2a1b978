"""Face auto-crop: detect on a fast reduced-size decode, crop from the full-size photo.

Per photo: decode at about 1024 px on the long side (JPEG DCT scaling) and run the
detector there; map the boxes back to full-size pixels and cut square crops with a
margin from the full-size decode; save fixed-size crops and thumbnails. A photo with
no face keeps a whole-image sample flagged "no face found", so pre-cropped sets stay
usable and nothing silently disappears.

Photos are processed by worker threads (one per core; worker processes in the app, see
crop_workers.py), and the results are committed photo by photo from the calling thread:
a cancelled or killed crop leaves the rest 'pending', and the next crop resumes there.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import math
import os
import threading
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from engine.catalog import CatalogError, NewFace, Photo
from engine.ingest.align import AlignSettings, face_chip
from engine.ingest.detect import FaceDetector, make_detector, resolve_detector
from engine.ingest.images import ImageReadError, decode, read_bytes, resize_long_side
from engine.project import Project, ProjectError
from engine.storage import atomic_write, write_error_reason
from engine.tasks import Cancelled, TaskContext, null_context

log = logging.getLogger(__name__)


class CropWriteError(ProjectError):
    """Crops cannot be written to the project (a full or read-only disk): the crop stops,
    and the photos not cropped yet stay pending."""


@dataclass(frozen=True)
class CropSettings:
    detect_side: int = 1024      # long side of the image the detector sees
    crop_size: int = 224         # saved crops are crop_size x crop_size
    margin: float = 0.4          # extra context around the face box, as a fraction of its size
    thumb_size: int = 112
    min_face_size: int = 20      # in detection-image pixels
    min_score: float = 0.9       # MTCNN probability below which a box is not a face
    detector: str = "auto"       # auto (MTCNN, else Haar), mtcnn, haar
    jpeg_quality: int = 95


@dataclass(frozen=True)
class PhotoCropResult:
    photo_id: int
    faces: tuple[NewFace, ...] = ()
    labelled_index: int | None = None
    error: str | None = None
    missing: bool = False


@dataclass
class CropReport:
    photos: int = 0
    faces: int = 0
    no_face: int = 0
    errors: dict[str, str] = field(default_factory=dict)  # path -> reason
    cancelled: bool = False
    detector: str = ""
    notice: str | None = None


def plausibility(box: tuple[float, float, float, float], score: float | None,
                 width: int, height: int) -> float:
    """How likely a box is the photo's subject: large and central faces win."""
    x1, y1, x2, y2 = box
    size = math.sqrt(max(x2 - x1, 0) * max(y2 - y1, 0)) / max(width, height)
    cx, cy = (x1 + x2) / 2 / width - 0.5, (y1 + y2) / 2 / height - 0.5
    off_centre = math.hypot(cx, cy) / math.hypot(0.5, 0.5)
    return size * (1.0 - 0.5 * off_centre) * (score if score is not None else 1.0)


def square_crop(image: np.ndarray, box: tuple[float, float, float, float], margin: float,
                out_size: int) -> np.ndarray:
    """A square region around ``box`` grown by ``margin``, padded black past the edges."""
    import cv2

    x1, y1, x2, y2 = box
    side = max(x2 - x1, y2 - y1) * (1.0 + margin)
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    left, top = int(round(cx - side / 2)), int(round(cy - side / 2))
    side_px = max(1, int(round(side)))
    h, w = image.shape[:2]
    canvas = np.zeros((side_px, side_px, 3), dtype=np.uint8)
    sx1, sy1 = max(left, 0), max(top, 0)
    sx2, sy2 = min(left + side_px, w), min(top + side_px, h)
    if sx2 > sx1 and sy2 > sy1:
        canvas[sy1 - top:sy2 - top, sx1 - left:sx2 - left] = image[sy1:sy2, sx1:sx2]
    interp = cv2.INTER_AREA if side_px > out_size else cv2.INTER_CUBIC
    return cv2.resize(canvas, (out_size, out_size), interpolation=interp)


def letterbox(image: np.ndarray, out_size: int) -> np.ndarray:
    """The whole image fitted into a square (for photos with no detectable face)."""
    h, w = image.shape[:2]
    return square_crop(image, (0, 0, w, h), 0.0, out_size) if h == w else square_crop(
        image, ((w - max(w, h)) / 2, (h - max(w, h)) / 2,
                (w + max(w, h)) / 2, (h + max(w, h)) / 2), 0.0, out_size)


def _save_jpeg(path: Path, rgb: np.ndarray, quality: int) -> None:
    atomic_write(path, lambda file: Image.fromarray(rgb).save(file, "JPEG", quality=quality))


def _write_sample(root: Path, sha256: str, index: int, crop: np.ndarray,
                  settings: CropSettings) -> tuple[str, str]:
    import cv2

    name = f"{sha256[:2]}/{sha256}_{index}.jpg"
    _save_jpeg(root / "crops" / name, crop, settings.jpeg_quality)
    thumb = cv2.resize(crop, (settings.thumb_size, settings.thumb_size),
                       interpolation=cv2.INTER_AREA)
    _save_jpeg(root / "thumbs" / name, thumb, 85)
    return f"crops/{name}", f"thumbs/{name}"


def _crop_source(path: Path, data: bytes, small: np.ndarray, scale: float,
                 boxes: list[tuple[float, float, float, float]], full_size: tuple[int, int],
                 settings: CropSettings) -> tuple[np.ndarray, float]:
    """The image to cut crops from, and its scale relative to the full-size photo.

    Crops are cut at full resolution *as needed*: from the smallest decode in which every
    crop region still spans at least ``crop_size`` pixels. When the faces are large in the
    detection image (the common case for 12 MP photos) that image already holds more
    pixels than the crop keeps, so a second decode would only be downsampled away; small
    faces get a larger (up to full-size) decode. The crop is then the same as one cut
    from the full-size photo and resized, minus the full decode.
    """
    if scale >= 1.0:
        return small, 1.0
    sides = [max(x2 - x1, y2 - y1) * (1.0 + settings.margin) for x1, y1, x2, y2 in boxes]
    needed = settings.crop_size / min(sides) if sides else (
        settings.crop_size / max(full_size))
    if needed <= scale:
        return small, scale
    if needed >= 0.5:  # DCT scaling gives 1/2 at best: beyond that, decode full size
        return decode(path, data)[0], 1.0
    larger, larger_scale = decode(path, data, min_long_side=math.ceil(max(full_size) * needed))
    return larger, larger_scale


@dataclass(frozen=True)
class FaceCrop:
    """A face found in an image, cut as the import cuts it (or the whole image)."""
    box: tuple[float, float, float, float]  # full-size upright image pixels
    landmarks: tuple[tuple[float, float], ...] | None
    score: float | None       # detector confidence; None for the whole image
    whole_image: bool         # no face was found: the letterboxed image stands in
    crop: np.ndarray          # crop_size x crop_size RGB uint8, or the aligned chip
    # With alignment: True where ``crop`` is aligned on the landmarks, False where it
    # is the centred fallback (no landmarks). Always False for square crops.
    aligned: bool = False


def find_face_crops(image: Path | np.ndarray, settings: CropSettings, detector: FaceDetector,
                    data: bytes | None = None, alignment: AlignSettings | None = None
                    ) -> tuple[list[FaceCrop], tuple[int, int]]:
    """Detect and cut the faces of a photo file (or an RGB uint8 frame), left to right;
    an image with no face gives one whole-image sample. Also returns the full size.

    The one place faces are found and cut: import, prediction and the webcam all use
    it, so a model sees its faces cut exactly as it was trained on. With ``alignment``
    the faces are aligned chips cut from the full-size image by align.face_chip, as
    the project's chips are (engine/ingest/align.py). Raises ImageReadError for a file
    that cannot be read.
    """
    if isinstance(image, np.ndarray):
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise ValueError("an image array must be RGB uint8 of shape (height, width, 3), "
                             f"not {image.dtype} {image.shape}")
        long_side = max(image.shape[:2])
        small = (resize_long_side(image, settings.detect_side)
                 if long_side > settings.detect_side else image)
        scale = max(small.shape[:2]) / long_side
    else:
        data = read_bytes(image) if data is None else data
        small, scale = decode(image, data, max_side=settings.detect_side)
    detections = detector.detect(small, scale)
    width, height = round(small.shape[1] / scale), round(small.shape[0] / scale)
    to_full = 1.0 / scale
    boxes = [tuple(v * to_full for v in d.box) for d in detections]
    if alignment is not None:
        return _aligned_faces(image, data, small, scale, detections, boxes, alignment), (
            width, height)
    if isinstance(image, np.ndarray):
        source, source_scale = image, 1.0  # a frame is already in memory at full size
    else:
        source, source_scale = _crop_source(image, data, small, scale, boxes, (width, height),
                                            settings)
    if not detections:
        return [FaceCrop((0.0, 0.0, float(width), float(height)), None, None, True,
                         letterbox(source, settings.crop_size))], (width, height)
    order = sorted(range(len(detections)), key=lambda i: boxes[i][0])
    crops = []
    for i in order:
        det, box = detections[i], boxes[i]
        marks = (tuple((x * to_full, y * to_full) for x, y in det.landmarks)
                 if det.landmarks else None)
        crop = square_crop(source, tuple(v * source_scale for v in box), settings.margin,
                           settings.crop_size)
        crops.append(FaceCrop(box, marks, det.score, False, crop))
    return crops, (width, height)


def _aligned_faces(image: Path | np.ndarray, data: bytes | None, small: np.ndarray,
                   scale: float, detections, boxes, alignment: AlignSettings) -> list[FaceCrop]:
    """The faces as aligned chips, cut from the full-size image like the project's chips."""
    full = image if isinstance(image, np.ndarray) else (
        small if scale >= 1.0 else decode(image, data)[0])
    height, width = full.shape[:2]
    if not detections:
        box = (0.0, 0.0, float(width), float(height))
        chip, _ = face_chip(full, None, box, True, alignment)
        return [FaceCrop(box, None, None, True, chip, False)]
    to_full = 1.0 / scale
    faces = []
    for i in sorted(range(len(detections)), key=lambda i: boxes[i][0]):
        det, box = detections[i], boxes[i]
        marks = (tuple((x * to_full, y * to_full) for x, y in det.landmarks)
                 if det.landmarks else None)
        chip, aligned = face_chip(full, marks, box, False, alignment)
        faces.append(FaceCrop(box, marks, det.score, False, chip, aligned))
    return faces


def crop_photo(photo: Photo, path: Path, root: Path, settings: CropSettings,
               detector: FaceDetector) -> PhotoCropResult:
    """Detect, crop and save one photo's samples. Pure function of its inputs + files."""
    if not path.exists():
        return PhotoCropResult(photo.id, error="file not found (moved or deleted?)",
                               missing=True)
    try:
        found, (width, height) = find_face_crops(path, settings, detector)
    except ImageReadError as exc:
        return PhotoCropResult(photo.id, error=exc.reason)
    except OSError as exc:
        return PhotoCropResult(photo.id, error=f"cannot read the file ({exc.strerror or exc})")
    faces: list[NewFace] = []
    for index, face in enumerate(found):
        try:
            crop_path, thumb_path = _write_sample(root, photo.sha256, index, face.crop, settings)
        except OSError as exc:  # the project's disk, not the photo: no use going on
            raise CropWriteError(
                f"{root / 'crops'}: cannot save face crops: {write_error_reason(exc)}. The "
                "photos cropped so far are kept; crop again once the disk can be written."
            ) from exc
        faces.append(NewFace(face.box, face.landmarks, face.score, face.whole_image, crop_path,
                             thumb_path))
    best = max(range(len(faces)),
               key=lambda i: plausibility(faces[i].box, faces[i].score, width, height))
    return PhotoCropResult(photo.id, tuple(faces), best)


# ------------------------------------------------------------------ worker threads
# Threads by default: decoding (PIL), resizing (OpenCV) and MTCNN's convolutions release
# the GIL, so threads use every core without the seconds each spawned process spends
# importing torch, and nothing has to be pickled. Each thread owns a detector. The app
# asks for processes, which keep the GIL free for its window (crop_workers.py).


@contextlib.contextmanager
def _single_threaded_kernels(threads: int):
    """One intra-op thread per worker thread: otherwise N workers x N kernel threads
    fight over N cores. Restored afterwards (the setting is process-wide)."""
    import cv2
    import torch

    saved_torch, saved_cv2 = torch.get_num_threads(), cv2.getNumThreads()
    if threads > 1:
        torch.set_num_threads(1)
        cv2.setNumThreads(1)
    try:
        yield
    finally:
        torch.set_num_threads(saved_torch)
        cv2.setNumThreads(saved_cv2)


def default_workers() -> int:
    return max(1, min(os.cpu_count() or 1, 8))


class CropWorkerError(ProjectError):
    """A crop worker process died (killed, out of memory): the crop stops, and the
    photos not cropped yet stay pending."""


def crop_pending(project: Project, settings: CropSettings = CropSettings(),
                 ctx: TaskContext | None = None, workers: int | None = None,
                 retry_failed: bool = True, processes: bool = False) -> CropReport:
    """Crop every photo not cropped yet; resumable after a cancel or a kill.

    ``processes=True`` finds the faces in worker processes rather than threads (the
    desktop app: see engine/ingest/crop_workers.py); results are committed from here
    either way.
    """
    ctx = ctx or null_context()
    catalog = project.catalog
    todo = catalog.photos("pending")
    if retry_failed:
        todo += catalog.photos("error") + catalog.photos("missing")
    workers = max(1, min(default_workers() if workers is None else workers, len(todo) or 1))
    kind, notice = resolve_detector(settings.detector)
    if todo:  # before any crop is committed, so even a killed crop leaves them recorded
        record_crop_settings(project, dataclasses.replace(settings, detector=kind))
    report = CropReport(detector=kind, notice=notice)
    total = len(todo)
    ctx.report("crop", 0, total, notice or "finding faces")
    pool = None
    if processes:
        from engine.ingest import crop_workers

        if crop_workers.use_processes(total):
            try:
                pool = crop_workers.open_crop_pool(kind, settings, workers)
            except OSError as exc:  # no /dev/shm, no Unix sockets, no processes allowed...
                log.warning("Worker processes cannot be started here (%s): the faces are "
                            "found in threads instead.", exc)
    if pool is not None:
        def submit(photo: Photo) -> Future:
            return pool.submit(crop_workers.crop_in_worker, photo,
                               project.resolve(photo.path), project.root)
        kernels = contextlib.nullcontext()
    else:
        pool = ThreadPoolExecutor(workers)
        local = threading.local()

        def work(photo: Photo) -> PhotoCropResult:
            detector = getattr(local, "detector", None)
            if detector is None:
                detector = local.detector = make_detector(
                    kind, min_face_size=settings.min_face_size, min_score=settings.min_score)[0]
            return crop_photo(photo, project.resolve(photo.path), project.root, settings,
                              detector)

        def submit(photo: Photo) -> Future:
            return pool.submit(work, photo)
        kernels = _single_threaded_kernels(workers)

    queue = iter(todo)
    in_flight: dict[Future, Photo] = {}
    done = 0
    with kernels, pool:
        try:
            while True:
                # A bounded number in flight: a cancel takes effect within a photo or two.
                while len(in_flight) < 2 * workers:
                    photo = next(queue, None)
                    if photo is None:
                        break
                    in_flight[submit(photo)] = photo
                if not in_flight:
                    break
                finished, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                for future in finished:
                    photo = in_flight.pop(future)
                    try:
                        result = future.result()
                    except BrokenProcessPool as exc:
                        raise CropWorkerError(
                            "A face-finding worker process stopped unexpectedly (out of "
                            "memory, or killed). The photos cropped so far are kept; crop "
                            "again to go on with the rest.") from exc
                    _commit(project, photo, result, report)
                    done += 1
                    ctx.report("crop", done, total, photo.path)
                ctx.check()
        except Cancelled:
            report.cancelled = True
        finally:
            for future in in_flight:
                future.cancel()
    return report


def _commit(project: Project, photo: Photo, result: PhotoCropResult, report: CropReport) -> None:
    catalog = project.catalog
    report.photos += 1
    if result.error is not None:
        catalog.mark_photo(photo.id, "missing" if result.missing else "error", result.error)
        report.errors[photo.path] = result.error
        log.warning("%s: %s", photo.path, result.error)
        return
    catalog.store_faces(photo.id, result.faces, result.labelled_index)
    if all(f.whole_image for f in result.faces):
        report.no_face += 1
    else:
        report.faces += len(result.faces)


# ------------------------------------------------------------ recorded crop settings
# Prediction must find and cut faces exactly as the import did (detector, margin, crop
# size): a model only knows faces framed the way it was trained on.
CROP_SETTINGS_KEY = "crop_settings"


def record_crop_settings(project: Project, settings: CropSettings) -> None:
    """Remember the settings the project's faces are cropped with (the latest crop's)."""
    project.catalog.set_setting(CROP_SETTINGS_KEY, json.dumps(dataclasses.asdict(settings),
                                                              sort_keys=True))


def project_crop_settings(project: Project) -> CropSettings:
    """The settings the project's faces were cropped with; the defaults if never recorded."""
    stored = project.catalog.get_setting(CROP_SETTINGS_KEY)
    if stored is None:
        return CropSettings()
    values = json.loads(stored)
    known = {f.name for f in dataclasses.fields(CropSettings)}
    unknown = sorted(set(values) - known) if isinstance(values, dict) else []
    if not isinstance(values, dict) or unknown:
        raise CatalogError(f"The project's recorded crop settings are not understood "
                           f"(unexpected {', '.join(unknown) or 'format'}); re-crop the "
                           f"photos or update FaceLab.")
    return CropSettings(**values)
