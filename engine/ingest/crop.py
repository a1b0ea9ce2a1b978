"""Face auto-crop: detect on a fast reduced-size decode, crop from the full-size photo.

Per photo: decode at about 1024 px on the long side (JPEG DCT scaling) and run the
detector there; map the boxes back to full-size pixels and cut square crops with a
margin from the full-size decode; save fixed-size crops and thumbnails. A photo with
no face keeps a whole-image sample flagged "no face found", so pre-cropped sets stay
usable and nothing silently disappears.

Photos are processed by worker threads (one per core), and the results are committed
photo by photo from the calling thread: a cancelled or killed crop leaves the rest
'pending', and the next crop resumes there.
"""

from __future__ import annotations

import logging
import math
import os
import threading
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from engine.catalog import NewFace, Photo
from engine.ingest.detect import FaceDetector, make_detector, resolve_detector
from engine.ingest.images import ImageReadError, decode
from engine.project import Project
from engine.storage import atomic_write_bytes
from engine.tasks import Cancelled, TaskContext, null_context

log = logging.getLogger(__name__)


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
    import io

    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, "JPEG", quality=quality)
    atomic_write_bytes(path, buffer.getvalue())


def _write_sample(root: Path, sha256: str, index: int, crop: np.ndarray,
                  settings: CropSettings) -> tuple[str, str]:
    import cv2

    name = f"{sha256[:2]}/{sha256}_{index}.jpg"
    _save_jpeg(root / "crops" / name, crop, settings.jpeg_quality)
    thumb = cv2.resize(crop, (settings.thumb_size, settings.thumb_size),
                       interpolation=cv2.INTER_AREA)
    _save_jpeg(root / "thumbs" / name, thumb, 85)
    return f"crops/{name}", f"thumbs/{name}"


def crop_photo(photo: Photo, path: Path, root: Path, settings: CropSettings,
               detector: FaceDetector) -> PhotoCropResult:
    """Detect, crop and save one photo's samples. Pure function of its inputs + files."""
    if not path.exists():
        return PhotoCropResult(photo.id, error="file not found (moved or deleted?)",
                               missing=True)
    try:
        data = path.read_bytes()
        small, scale = decode(path, data, max_side=settings.detect_side)
        detections = detector.detect(small)
        full = small if scale >= 1.0 else decode(path, data)[0]
    except ImageReadError as exc:
        return PhotoCropResult(photo.id, error=exc.reason)
    except OSError as exc:
        return PhotoCropResult(photo.id, error=f"cannot read the file ({exc.strerror or exc})")
    height, width = full.shape[:2]
    faces: list[NewFace] = []
    if detections:
        to_full = 1.0 / scale
        ranked = sorted(detections, key=lambda d: d.box[0])  # stable left-to-right order
        for index, det in enumerate(ranked):
            box = tuple(v * to_full for v in det.box)
            marks = (tuple((x * to_full, y * to_full) for x, y in det.landmarks)
                     if det.landmarks else None)
            crop = square_crop(full, box, settings.margin, settings.crop_size)
            crop_path, thumb_path = _write_sample(root, photo.sha256, index, crop, settings)
            faces.append(NewFace(box, marks, det.score, False, crop_path, thumb_path))
        best = max(range(len(faces)),
                   key=lambda i: plausibility(faces[i].box, faces[i].score, width, height))
    else:
        crop = letterbox(full, settings.crop_size)
        crop_path, thumb_path = _write_sample(root, photo.sha256, 0, crop, settings)
        faces.append(NewFace((0.0, 0.0, float(width), float(height)), None, None, True,
                             crop_path, thumb_path))
        best = 0
    return PhotoCropResult(photo.id, tuple(faces), best)


# ------------------------------------------------------------------ worker threads
# Threads rather than processes: decoding (PIL), resizing (OpenCV) and MTCNN's convolutions
# release the GIL, so threads use every core without the seconds each spawned process
# spends importing torch, and nothing has to be pickled. Each thread owns a detector.


@contextmanager
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


def crop_pending(project: Project, settings: CropSettings = CropSettings(),
                 ctx: TaskContext | None = None, workers: int | None = None,
                 retry_failed: bool = True) -> CropReport:
    """Crop every photo not cropped yet; resumable after a cancel or a kill."""
    ctx = ctx or null_context()
    catalog = project.catalog
    todo = catalog.photos("pending")
    if retry_failed:
        todo += catalog.photos("error") + catalog.photos("missing")
    workers = max(1, min(default_workers() if workers is None else workers, len(todo) or 1))
    kind, notice = resolve_detector(settings.detector)
    report = CropReport(detector=kind, notice=notice)
    total = len(todo)
    ctx.report("crop", 0, total, notice or "finding faces")
    local = threading.local()

    def work(photo: Photo) -> PhotoCropResult:
        detector = getattr(local, "detector", None)
        if detector is None:
            detector = local.detector = make_detector(
                kind, min_face_size=settings.min_face_size, min_score=settings.min_score)[0]
        return crop_photo(photo, project.resolve(photo.path), project.root, settings, detector)

    queue = iter(todo)
    in_flight: dict[Future, Photo] = {}
    done = 0
    with _single_threaded_kernels(workers), ThreadPoolExecutor(workers) as pool:
        try:
            while True:
                # A bounded number in flight: a cancel takes effect within a photo or two.
                while len(in_flight) < 2 * workers:
                    photo = next(queue, None)
                    if photo is None:
                        break
                    in_flight[pool.submit(work, photo)] = photo
                if not in_flight:
                    break
                finished, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                for future in finished:
                    photo = in_flight.pop(future)
                    _commit(project, photo, future.result(), report)
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
