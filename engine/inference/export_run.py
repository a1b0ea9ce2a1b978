"""Exporting a run's best model for use outside FaceLab, with what it takes to use it.

Beside the verified model file (`engine.export`) goes a small JSON sidecar,
``OUT.json`` (``faces.onnx`` -> ``faces.onnx.json``): the persons in output
order, the input size, the normalisation and the crop settings. Without them an
exported file is a black box that outputs numbers for faces framed who knows how.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from engine.export import (
    ONNX_INPUT_NAME,
    ONNX_OUTPUT_NAME,
    ExportResult,
    export_onnx,
    export_torchscript,
)
from engine.ingest.align import TEMPLATE_150
from engine.ingest.crop import project_crop_settings
from engine.project import Project
from engine.storage import atomic_write_bytes
from engine.training.config import run_alignment

log = logging.getLogger(__name__)

EXPORT_FORMATS = ("onnx", "torchscript")
SIDECAR_VERSION = 1
PREPROCESSING = ("Cut a square face crop as described by crop_settings (face box grown by "
                 "margin, padded black past the image edges), resize it to input_size x "
                 "input_size (bilinear), scale RGB values to 0..1, subtract mean and divide by "
                 "std per channel; feed float32 in NCHW layout. The output is one logit per "
                 "person, in the order of persons; softmax gives probabilities.")
ALIGNED_PREPROCESSING = (
    "Find the face's 5 landmarks (MTCNN: left eye, right eye, nose tip, left and right "
    "mouth corner, image left to right); fit the least-squares similarity transform "
    "(rotation, uniform scale, translation, no reflection) onto template_150 scaled by "
    "alignment.chip_size / 150, warp the upright photo through it into a chip_size chip "
    "(bilinear, black past the image edges); a face without landmarks is a centred "
    "square instead. Resize the chip to input_size x input_size (bilinear), scale RGB "
    "values to 0..1, subtract mean and divide by std per channel; feed float32 in NCHW "
    "layout. The output is one logit per person, in the order of persons; softmax gives "
    "probabilities.")


@dataclass(frozen=True)
class RunExport:
    model: ExportResult
    sidecar: Path


def sidecar_path(out_path: str | os.PathLike) -> Path:
    out_path = Path(out_path)
    return out_path.with_name(out_path.name + ".json")


def export_run(project: Project, run_id: str, file_format: str,
               out_path: str | os.PathLike) -> RunExport:
    """Export the best model of a run to ONNX or TorchScript (verified), plus its sidecar."""
    from engine.evaluation.runs import run_checkpoint
    from engine.training.inference import load_trained_model

    if file_format not in EXPORT_FORMATS:
        raise ValueError(f"Unknown export format {file_format!r} ({', '.join(EXPORT_FORMATS)})")
    trained = load_trained_model(run_checkpoint(project, run_id), device="cpu")
    exporter = export_onnx if file_format == "onnx" else export_torchscript
    result = exporter(trained.model, trained.spec.input_size, out_path)
    spec = trained.spec
    alignment = run_alignment(trained.config)
    sidecar = {
        "facelab_sidecar": SIDECAR_VERSION,
        "model_file": result.path.name,
        "format": result.format,
        "sha256": result.sha256,
        "run_id": run_id,
        "arch": spec.name,
        "epoch": trained.epoch,
        "persons": list(trained.class_names),
        "input_size": spec.input_size,
        "mean": list(spec.mean),
        "std": list(spec.std),
        "input_name": ONNX_INPUT_NAME if file_format == "onnx" else None,
        "output_name": ONNX_OUTPUT_NAME if file_format == "onnx" else None,
        "preprocessing": PREPROCESSING if alignment is None else ALIGNED_PREPROCESSING,
        "crop_settings": dataclasses.asdict(project_crop_settings(project)),
        "face_framing": "crop" if alignment is None else "aligned",
    }
    if alignment is not None:
        sidecar["alignment"] = alignment.to_dict()
        sidecar["template_150"] = TEMPLATE_150.round(3).tolist()
    path = atomic_write_bytes(sidecar_path(result.path),
                              json.dumps(sidecar, indent=2, ensure_ascii=False).encode("utf-8"))
    log.info("wrote the sidecar of %s to %s", result.path, path)
    return RunExport(result, path)
