"""What the webcam does with one frame: find the faces (or reuse the last ones), cut
them as the import cuts them, and name them with the run's model.

Detection is the slow step (MTCNN), so it does not run on every frame. While the
scene is steady the last detection's boxes are reused, re-cut from each new frame;
MTCNN runs again every ``detect_every`` frames, or at once when the picture moves
(the mean difference of a small grey thumbnail, over the whole frame and inside
each face box, since the last detection). New boxes inherit the track id of the
old box they overlap most, so the GUI can follow a face from frame to frame.

Faces are cut by :func:`engine.ingest.crop.find_face_crops` (a detection frame) or
its own :func:`square_crop` (a reused box) with the project's recorded margin and
size, and classified by :meth:`Predictor.predict_crops`: the model sees live faces
framed and preprocessed exactly like the faces it was trained on. A model trained
on aligned faces gets chips cut by :func:`engine.ingest.align.face_chip` from the
frame, on the landmarks MTCNN found (a reused box keeps its detection's landmarks).

A FramePipeline owns the Predictor (model and detector): use it from one thread.
Its threshold and Grad-CAM switch may be changed from any thread while it runs.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from engine.display import confidence_text
from engine.inference.camera import Frame
from engine.ingest.align import face_chip
from engine.ingest.crop import find_face_crops, square_crop
from engine.ingest.detect import FaceDetector, make_detector

if TYPE_CHECKING:  # torch is imported when a pipeline is made, not for `facelab --help`
    from engine.inference.predictor import Predictor

log = logging.getLogger(__name__)

Box = tuple[float, float, float, float]
MOTION_THUMB = (64, 48)  # grey thumbnail compared between frames (width, height)


@dataclass(frozen=True)
class LiveSettings:
    detect_side: int = 480          # frames are downscaled to this long side for MTCNN
    min_face_size: int = 60         # smallest face looked for, in camera-frame pixels
    detect_every: int = 8           # frames between detections while the scene is steady
    motion_threshold: float = 8.0   # mean grey difference (0-255) that counts as movement
    match_iou: float = 0.3          # a new box overlapping a tracked one this much keeps its id
    gradcam_interval_s: float = 1.0  # Grad-CAM at most this often (it costs a backward pass)

    def __post_init__(self) -> None:
        problems = [f"{name} must be >= {low}" for name, low in
                    (("detect_side", 64), ("min_face_size", 12), ("detect_every", 1))
                    if getattr(self, name) < low]
        if not 0 <= self.match_iou <= 1:
            problems.append("match_iou must be between 0 and 1")
        if self.motion_threshold < 0 or self.gradcam_interval_s < 0:
            problems.append("motion_threshold and gradcam_interval_s must be >= 0")
        if problems:
            raise ValueError("Invalid webcam settings: " + "; ".join(problems) + ".")


@dataclass(frozen=True)
class LiveFace:
    box: Box                    # camera-frame pixels (x1, y1, x2, y2)
    person: str                 # UNKNOWN below the threshold
    confidence: float
    is_unknown: bool
    top: tuple[tuple[str, float], ...]
    track_id: int               # the same face keeps its id from frame to frame
    crop: np.ndarray = field(repr=False, compare=False)  # the model's view, read-only

    def caption(self) -> str:
        """What the video (and `facelab webcam`) says about the face: its person, or
        "unknown" with the model's closest guess, which is what a student wants to know
        next."""
        if self.is_unknown:
            return (f"unknown (closest: {self.top[0][0]} {confidence_text(self.top[0][1])})"
                    if self.top else "unknown")
        return f"{self.person} {confidence_text(self.confidence)}"


@dataclass(frozen=True)
class LiveGradCam:
    track_id: int               # the face it explains (LiveFace.track_id)
    person: str                 # the class explained (the model's best guess)
    overlay: np.ndarray = field(repr=False, compare=False)  # RGB uint8, the model's input size
    confidence: float = 0.0     # the model's probability for ``person``, same forward pass
    flat: bool = False          # no region stands out (gradcam.FLAT_MESSAGE)

    def caption(self) -> str:
        """What the inset says: who the map explains, from the map's own forward pass."""
        return (f"Grad-CAM: {self.person} {confidence_text(self.confidence)}"
                + (" · flat map" if self.flat else ""))


@dataclass(frozen=True)
class FrameAnalysis:
    faces: tuple[LiveFace, ...]
    detect_ran: bool
    motion: float
    gradcam: LiveGradCam | None  # only on frames where it was computed


def iou(a: Box, b: Box) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def match_tracks(old: dict[int, Box], new: list[Box], min_iou: float,
                 next_id: int) -> tuple[list[int], int]:
    """Track ids for ``new`` boxes: the best-overlapping old box's id (each old id used
    once, greedily by overlap), else a fresh id. Returns the ids and the next free id."""
    pairs = sorted(((iou(box, old_box), i, track) for i, box in enumerate(new)
                    for track, old_box in old.items()), reverse=True)
    ids: list[int | None] = [None] * len(new)
    used: set[int] = set()
    for overlap, i, track in pairs:
        if overlap < min_iou:
            break
        if ids[i] is None and track not in used:
            ids[i] = track
            used.add(track)
    for i, assigned in enumerate(ids):
        if assigned is None:
            ids[i], next_id = next_id, next_id + 1
    return ids, next_id


def grey_thumbnail(rgb: np.ndarray) -> np.ndarray:
    import cv2

    small = cv2.resize(rgb, MOTION_THUMB, interpolation=cv2.INTER_AREA)
    return cv2.cvtColor(small, cv2.COLOR_RGB2GRAY).astype(np.int16)


def motion_between(before: np.ndarray, after: np.ndarray, boxes: list[Box],
                   frame_size: tuple[int, int]) -> float:
    """How much the picture changed: the mean grey difference over the whole thumbnail
    and inside each face box, whichever is largest (a face moving in a still room
    changes little of the frame but much of its box)."""
    diff = np.abs(after - before)
    motion = float(diff.mean())
    sx, sy = MOTION_THUMB[0] / frame_size[0], MOTION_THUMB[1] / frame_size[1]
    for x1, y1, x2, y2 in boxes:
        region = diff[max(0, int(y1 * sy)):max(1, int(np.ceil(y2 * sy))),
                      max(0, int(x1 * sx)):max(1, int(np.ceil(x2 * sx)))]
        if region.size:
            motion = max(motion, float(region.mean()))
    return motion


class FramePipeline:
    def __init__(self, predictor: Predictor, settings: LiveSettings = LiveSettings()) -> None:
        self.predictor = predictor
        self.settings = settings
        self._threshold = predictor.threshold
        self._gradcam: tuple[bool, int | None] = (False, None)
        self._lock = threading.Lock()
        self._detector: FaceDetector | None = None
        self._detector_key: tuple[int, int] | None = None
        self._tracks: dict[int, Box] = {}
        self._landmarks: dict[int, tuple | None] = {}  # per track, for aligned models
        self._next_track = 1
        self._reference: np.ndarray | None = None  # thumbnail at the last detection
        self._since_detect = 0
        self._last_gradcam = -float("inf")

    # ------------------------------------------------- settings changed while running
    @property
    def threshold(self) -> float:
        return self._threshold

    def set_threshold(self, threshold: float) -> None:
        """The unknown-person threshold from the next frame on (any thread)."""
        from engine.inference.predictor import _check_threshold

        self._threshold = _check_threshold(threshold)

    def set_gradcam(self, enabled: bool, track_id: int | None = None) -> None:
        """Grad-CAM for one face (``track_id``, or the largest face), at most once per
        ``gradcam_interval_s``; off by default (any thread)."""
        with self._lock:
            self._gradcam = (bool(enabled), track_id)
            self._last_gradcam = -float("inf")

    def reset(self) -> None:
        """Forget the tracked faces (a new stream, or the camera came back)."""
        self._tracks, self._reference, self._since_detect = {}, None, 0
        self._landmarks = {}

    # --------------------------------------------------------------------- one frame
    def process(self, frame: Frame) -> FrameAnalysis:
        rgb = frame.rgb
        thumb = grey_thumbnail(rgb)
        motion = (float("inf") if self._reference is None else
                  motion_between(self._reference, thumb, list(self._tracks.values()),
                                 (rgb.shape[1], rgb.shape[0])))
        detect = (self._reference is None or self._since_detect + 1 >= self.settings.detect_every
                  or motion > self.settings.motion_threshold)
        if detect:
            ids, boxes, crops = self._detect(rgb)
            self._reference, self._since_detect = thumb, 0
        else:
            ids, boxes, crops = self._reuse(rgb)
            self._since_detect += 1
        faces = []
        for track, box, crop, label in zip(ids, boxes, crops, self._classify(crops)):
            crop.flags.writeable = False
            faces.append(LiveFace(box, label.person, label.confidence, label.is_unknown,
                                  label.top, track, crop))
        return FrameAnalysis(tuple(faces), detect, motion, self._maybe_gradcam(faces))

    def _detect(self, rgb: np.ndarray) -> tuple[list[int], list[Box], list[np.ndarray]]:
        """Find and cut the faces afresh; they keep the track ids of the boxes they overlap."""
        detector = self._face_detector(rgb.shape[1], rgb.shape[0])
        settings = dataclasses.replace(self.predictor.crop_settings,
                                       detect_side=self.settings.detect_side)
        found = [f for f in find_face_crops(rgb, settings, detector,
                                            alignment=self.predictor.alignment)[0]
                 if not f.whole_image]
        boxes = [f.box for f in found]
        ids, self._next_track = match_tracks(self._tracks, boxes, self.settings.match_iou,
                                             self._next_track)
        self._tracks = dict(zip(ids, boxes))
        self._landmarks = {track: f.landmarks for track, f in zip(ids, found)}
        return ids, boxes, [f.crop for f in found]

    def _reuse(self, rgb: np.ndarray) -> tuple[list[int], list[Box], list[np.ndarray]]:
        """The last detection's boxes, cut from this frame as the import cuts a face
        (or aligned on the last detection's landmarks, for an aligned model)."""
        crop, alignment = self.predictor.crop_settings, self.predictor.alignment
        boxes = list(self._tracks.values())
        if alignment is not None:
            chips = [face_chip(rgb, self._landmarks.get(track), box, False, alignment)[0]
                     for track, box in self._tracks.items()]
        else:
            chips = [square_crop(rgb, box, crop.margin, crop.crop_size) for box in boxes]
        return list(self._tracks), boxes, chips

    def _classify(self, crops: list[np.ndarray]):
        # The live threshold, without changing the predictor for its other users.
        saved, self.predictor.threshold = self.predictor.threshold, self._threshold
        try:
            return self.predictor.predict_crops(crops)
        finally:
            self.predictor.threshold = saved

    def _face_detector(self, width: int, height: int) -> FaceDetector:
        """The project's detector, made for this frame size (MTCNN's minimum face size is
        in detection-image pixels) and on the model's device."""
        if self._detector is None or self._detector_key != (width, height):
            crop = self.predictor.crop_settings
            scale = min(1.0, self.settings.detect_side / max(width, height))
            min_face = max(12, round(self.settings.min_face_size * scale))
            # MTCNN runs beside the model on a CUDA GPU; elsewhere (MPS too) on the CPU.
            device = self.predictor.device if self.predictor.device.type == "cuda" else "cpu"
            self._detector, notice = make_detector(
                crop.detector, min_face_size=min_face, min_score=crop.min_score,
                device=str(device), adaptive_min_face_size=False)
            if notice:
                log.warning(notice)
            self._detector_key = (width, height)
        return self._detector

    def _maybe_gradcam(self, faces: list[LiveFace]) -> LiveGradCam | None:
        with self._lock:
            (enabled, wanted), last = self._gradcam, self._last_gradcam
        now = time.monotonic()
        if not enabled or not faces or now - last < self.settings.gradcam_interval_s:
            return None
        from engine.data.cache import model_input
        from engine.evaluation.gradcam import gradcam_overlay

        chosen = [f for f in faces if f.track_id == wanted] or \
            [max(faces, key=lambda f: (f.box[2] - f.box[0]) * (f.box[3] - f.box[1]))]
        face, trained = chosen[0], self.predictor.trained
        result = gradcam_overlay(trained.model, trained.spec.name,
                                 model_input(face.crop, trained.spec.input_size),
                                 trained.spec.mean, trained.spec.std)
        with self._lock:
            self._last_gradcam = now
        result.overlay.flags.writeable = False
        return LiveGradCam(face.track_id, trained.class_names[result.predicted_index],
                           result.overlay, result.confidence, result.flat)
