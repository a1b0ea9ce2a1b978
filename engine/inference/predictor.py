"""Naming the faces in a photo with a trained model, framed as the project's faces were.

A photo goes through the import's own steps: decode (EXIF rotation, colour
conversion), face detection on a reduced decode of about ``detect_side`` pixels,
a square crop with the project's margin cut from the full-size image (or, for a
run trained on aligned faces, the aligned chip cut by engine/ingest/align.py with
the run's alignment settings), the tensor cache's resize to the model's input,
and the trainer's normalisation. Any step
done differently (another margin, another resize) would show the model faces
framed unlike those it learned from, and its confidence would mean little.

The detector and the model stay loaded between calls: the webcam calls this once
per frame. A Predictor is not thread-safe; use each from one thread at a time.
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from engine.data.cache import model_input
from engine.ingest.align import AlignSettings
from engine.ingest.crop import (
    CropSettings,
    FaceCrop,
    find_face_crops,
    project_crop_settings,
)
from engine.ingest.detect import FaceDetector, make_detector
from engine.project import Project
from engine.training.config import run_alignment
from engine.training.device import resolve_device
from engine.training.inference import TrainedModel, load_trained_model, predict_probs

log = logging.getLogger(__name__)

UNKNOWN = "unknown"
TOP_K = 3

Box = tuple[float, float, float, float]
Landmarks = tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class Classification:
    """What the model says about one face crop."""
    person: str          # UNKNOWN when the model is less sure than the threshold
    confidence: float    # the highest softmax probability
    is_unknown: bool
    top: tuple[tuple[str, float], ...]  # (person, probability), most likely first


@dataclass(frozen=True)
class FacePrediction:
    box: Box                  # full-size image pixels
    landmarks: Landmarks | None
    score: float | None       # detector confidence; None for the whole image
    person: str               # UNKNOWN below the threshold
    confidence: float
    is_unknown: bool
    top: tuple[tuple[str, float], ...]
    whole_image: bool
    # Run trained on aligned faces: whether this face was aligned on its landmarks
    # (False: a centred crop stood in). Always False for runs trained on crops.
    aligned: bool = False


def _check_threshold(threshold: float) -> float:
    # Above 1 is allowed on purpose: it marks every face unknown (a useful check).
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) \
            or math.isnan(threshold) or threshold < 0:
        raise ValueError(f"The unknown-person threshold must be a number >= 0, not {threshold!r}")
    return float(threshold)


class Predictor:
    def __init__(self, trained: TrainedModel, crop_settings: CropSettings, *,
                 threshold: float = 0.5, device: torch.device | str = "cpu") -> None:
        self.trained = trained
        self.crop_settings = crop_settings
        # The framing the model was trained on (its run's config): None = square crops.
        self.alignment: AlignSettings | None = run_alignment(trained.config)
        self.threshold = _check_threshold(threshold)
        self.device = torch.device(device)
        self._detector: FaceDetector | None = None  # made on first use, then kept

    @classmethod
    def from_checkpoint(cls, path: str | os.PathLike, crop_settings: CropSettings, *,
                        threshold: float = 0.5, device: str = "auto") -> "Predictor":
        """A predictor for a checkpoint file (loaded safely: plain data and tensors only)."""
        _check_threshold(threshold)  # before the slow part
        resolved = resolve_device(device)
        return cls(load_trained_model(path, device=resolved), crop_settings,
                   threshold=threshold, device=resolved)

    @classmethod
    def from_run(cls, project: Project, run_id: str, *, threshold: float = 0.5,
                 device: str = "auto") -> "Predictor":
        """The best model of a project's run, cropping faces with the project's settings."""
        from engine.evaluation.runs import run_checkpoint

        return cls.from_checkpoint(run_checkpoint(project, run_id), project_crop_settings(project),
                                   threshold=threshold, device=device)

    @property
    def class_names(self) -> tuple[str, ...]:
        return self.trained.class_names

    @property
    def input_size(self) -> int:
        return self.trained.spec.input_size

    # ---------------------------------------------------------------- finding faces
    def _face_detector(self) -> FaceDetector:
        if self._detector is None:
            settings = self.crop_settings
            self._detector, notice = make_detector(settings.detector,
                                                   min_face_size=settings.min_face_size,
                                                   min_score=settings.min_score)
            if notice:
                log.warning(notice)
        return self._detector

    def find_faces(self, image: str | os.PathLike | np.ndarray) -> list[FaceCrop]:
        """The faces of a photo (a path, or an RGB uint8 array), left to right, cut as at
        import (or aligned, for a model trained on aligned faces); a photo with no face
        gives one whole-image sample.

        Raises ImageReadError (with the reason) for a file that cannot be read.
        """
        if not isinstance(image, np.ndarray):
            image = Path(image)
        return find_face_crops(image, self.crop_settings, self._face_detector(),
                               alignment=self.alignment)[0]

    # ------------------------------------------------------------------- predicting
    def predict_crops(self, rgb_crops: Sequence[np.ndarray]) -> list[Classification]:
        """Classify face crops (RGB uint8, any square size) that a caller already has."""
        if len(rgb_crops) == 0:
            return []
        batch = np.stack([model_input(crop, self.input_size) for crop in rgb_crops])
        x = torch.from_numpy(batch).permute(0, 3, 1, 2).contiguous()
        probs = predict_probs(self.trained.model, x, self.trained.spec, device=self.device)
        return [self._classify(row) for row in probs]

    def predict_image(self, image: str | os.PathLike | np.ndarray) -> list[FacePrediction]:
        """Find, crop and name every face of a photo (a path, or an RGB uint8 array)."""
        faces = self.find_faces(image)
        labels = self.predict_crops([face.crop for face in faces])
        return [FacePrediction(box=face.box, landmarks=face.landmarks, score=face.score,
                               person=label.person, confidence=label.confidence,
                               is_unknown=label.is_unknown, top=label.top,
                               whole_image=face.whole_image, aligned=face.aligned)
                for face, label in zip(faces, labels)]

    def _classify(self, probs: np.ndarray) -> Classification:
        order = np.argsort(-probs, kind="stable")[:TOP_K]
        top = tuple((self.class_names[i], float(probs[i])) for i in order)
        best_name, confidence = top[0]
        unknown = confidence < self.threshold
        return Classification(person=UNKNOWN if unknown else best_name, confidence=confidence,
                              is_unknown=unknown, top=top)
