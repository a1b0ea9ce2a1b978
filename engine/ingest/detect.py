"""Face detectors: facenet-pytorch's MTCNN, or OpenCV's bundled Haar cascade when
facenet-pytorch is not installed (less accurate, no landmarks; the user is told)."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Protocol

import numpy as np

log = logging.getLogger(__name__)

HAAR_NOTICE = ("facenet-pytorch is not installed, so faces are found with OpenCV's Haar "
               "cascade: it misses turned and small faces and gives no landmarks. Install "
               "facenet-pytorch for MTCNN detection.")


@dataclass(frozen=True)
class Detection:
    box: tuple[float, float, float, float]  # x1, y1, x2, y2 in the detection image's pixels
    score: float | None
    landmarks: tuple[tuple[float, float], ...] | None = None


class FaceDetector(Protocol):
    name: str

    def detect(self, rgb: np.ndarray, scale: float = 1.0) -> list[Detection]:
        """Faces in ``rgb``, a decode of a photo at ``scale`` of its full size."""
        ...


def mtcnn_available() -> bool:
    try:
        import facenet_pytorch  # noqa: F401
    except ImportError:
        return False
    return True


# MTCNN's own final threshold: a photo with no box at min_score keeps its best one above it.
FALLBACK_SCORE = 0.7


def confident_detections(candidates: list[Detection], min_score: float) -> list[Detection]:
    """The boxes scored ``min_score`` or more; where there is none, the single best box
    scored ``FALLBACK_SCORE`` or more (see MtcnnDetector)."""
    confident = [d for d in candidates if d.score >= min_score]
    if confident:
        return confident
    weaker = [d for d in candidates if d.score >= FALLBACK_SCORE]
    return [max(weaker, key=lambda d: d.score)] if weaker else []


class MtcnnDetector:
    """MTCNN with two adjustments for real lab photos.

    Small photos (web images of 200-400 px) get a smaller minimum face size, down to
    MTCNN's 12 px floor, so their background faces are not missed. Boxes below
    ``min_score`` are dropped, except that a photo whose only candidates are weaker
    keeps its single best one (MTCNN's own final threshold is 0.7): photos imported
    from a person's folder nearly always show that person, and the user can still
    mark the box "not a face".

    ``adaptive_min_face_size=False`` keeps ``min_face_size`` as given (the webcam wants
    to skip small background faces, and a larger minimum makes MTCNN faster).

    On a reduced decode of a larger photo, the minimum face size is nudged (by less than
    one pyramid step) so that MTCNN's image pyramid uses exactly the levels it would use
    on the full-size photo: see ``aligned_min_face_size``.
    """

    name = "mtcnn"
    # MTCNN's default minimum face on a full-size photo: the pyramid reduced decodes align to.
    FULL_SIZE_MIN_FACE = 20

    def __init__(self, *, min_face_size: int = 20, min_score: float = 0.9,
                 device: str = "cpu", adaptive_min_face_size: bool = True) -> None:
        from facenet_pytorch import MTCNN

        self.min_score = min_score
        self.min_face_size = min_face_size
        self.adaptive_min_face_size = adaptive_min_face_size
        # post_process/select_largest only matter for MTCNN's own cropping, which we skip.
        self._mtcnn = MTCNN(keep_all=True, min_face_size=min_face_size, device=device)

    def aligned_min_face_size(self, wanted: float, scale: float) -> float:
        """The minimum face size nearest ``wanted`` whose pyramid, on a decode at ``scale``
        of the photo, is made of levels of the full-size photo's own pyramid.

        MTCNN scans an image pyramid whose levels are (12 / min_face) * factor**k of the
        image it is given. Run on a quarter-size decode with min_face 20, its levels fall
        between those it would scan on the full-size photo, so the proposal network sees
        the face at other sizes and borderline faces (and even a large, slightly blurred
        one) can score differently from a full-size run. With min_face = 20 * scale /
        factor**k, every level is one the full-size run has: the reduced decode then only
        skips the full-size run's finest levels (faces smaller than the minimum here).
        """
        if scale >= 1.0:
            return wanted
        factor = self._mtcnn.factor
        step = round(math.log(wanted / (self.FULL_SIZE_MIN_FACE * scale)) / math.log(1 / factor))
        return self.FULL_SIZE_MIN_FACE * scale / factor ** step

    def detect(self, rgb: np.ndarray, scale: float = 1.0) -> list[Detection]:
        import torch

        long_side = max(rgb.shape[:2])
        wanted = (min(self.min_face_size, max(12, long_side // 25))
                  if self.adaptive_min_face_size else self.min_face_size)
        self._mtcnn.min_face_size = self.aligned_min_face_size(wanted, scale)
        if min(rgb.shape[:2]) < self._mtcnn.min_face_size:
            # No face of the minimum size fits (a 1-pixel image, a thin sliver): MTCNN's
            # image pyramid would be empty and facenet-pytorch fails on it (torch.cat of
            # an empty list), which used to stop a whole crop.
            return []
        with torch.inference_mode():
            boxes, probs, points = self._mtcnn.detect(rgb, landmarks=True)
        if boxes is None:
            return []
        candidates = [Detection(tuple(float(v) for v in box), float(prob),
                                tuple((float(x), float(y)) for x, y in marks))
                      for box, prob, marks in zip(boxes, probs, points) if prob is not None]
        return confident_detections(candidates, self.min_score)


class HaarDetector:
    name = "haar"

    def __init__(self, *, min_face_size: int = 20, **_ignored) -> None:
        import cv2

        path = cv2.data.haarcascades + "haarcascade_frontalface_default.xml"
        self._cascade = cv2.CascadeClassifier(path)
        if self._cascade.empty():
            raise RuntimeError(f"OpenCV's face cascade is missing ({path})")
        self._min = (min_face_size, min_face_size)

    def detect(self, rgb: np.ndarray, scale: float = 1.0) -> list[Detection]:
        import cv2

        grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        boxes, _, weights = self._cascade.detectMultiScale3(
            grey, scaleFactor=1.1, minNeighbors=5, minSize=self._min, outputRejectLevels=True)
        return [Detection((float(x), float(y), float(x + w), float(y + h)),
                          float(1 / (1 + np.exp(-wt))))  # level weight squashed to (0, 1)
                for (x, y, w, h), wt in zip(boxes, np.ravel(weights))]


def resolve_detector(kind: str = "auto") -> tuple[str, str | None]:
    """The detector ``kind`` stands for here and, when it is the fallback, a notice."""
    if kind == "auto":
        if mtcnn_available():
            return "mtcnn", None
        log.warning(HAAR_NOTICE)
        return "haar", HAAR_NOTICE
    if kind == "mtcnn" and not mtcnn_available():
        raise RuntimeError("MTCNN needs facenet-pytorch, which is not installed")
    if kind not in ("mtcnn", "haar"):
        raise ValueError(f"unknown face detector {kind!r} (auto, mtcnn, haar)")
    return kind, None


def make_detector(kind: str = "auto", **kwargs) -> tuple[FaceDetector, str | None]:
    """The detector to use and, when it is the fallback, a notice for the user."""
    resolved, notice = resolve_detector(kind)
    detector = MtcnnDetector(**kwargs) if resolved == "mtcnn" else HaarDetector(**kwargs)
    return detector, notice
