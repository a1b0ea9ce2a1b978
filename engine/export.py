"""Export a trained model to TorchScript or ONNX, and prove the file is right.

An exported file is only handed over after it was loaded back (torch.jit.load, or
ONNX Runtime on CPU) and gave the same outputs as the eager model on a random batch.
The trace uses a batch of 2 and the check a batch of 3, so a file that silently
baked in the batch size fails the check too. The file is written beside its
destination and moved over it only once verified (`engine.storage.staged_file` and
`publish_staged`: same-folder temp, fsync, os.replace, folder fsync), so a failed
export never leaves a half-written or wrong file, nor destroys an earlier good one.

ONNX goes through torch's TorchScript-based exporter (``dynamo=False``). torch 2.14's
default, the torch.export-based exporter, needs the separate ``onnxscript`` package,
which the pinned requirements don't include; the TorchScript-based one ships with
torch, handles every model of the zoo (CNNs and torchvision's ViT), and the output
check above guards against anything it gets wrong. It is deprecated
upstream: when torch drops it, switch ``_export_onnx_file`` to ``dynamo=True`` (and
``dynamic_shapes``) and add onnxscript to the requirements.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import torch
from torch import nn

from engine.storage import publish_staged, sha256_file, staged_file

log = logging.getLogger(__name__)

TOLERANCE = 1e-4  # max abs difference of logits allowed between eager and exported
ONNX_OPSET = 20  # the newest opset torch's TorchScript-based exporter writes
ONNX_INPUT_NAME = "image"  # (batch, 3, H, W) float32, normalised like in training
ONNX_OUTPUT_NAME = "logits"  # (batch, num_classes) float32
_TRACE_BATCH = 2
_CHECK_BATCH = 3
_CHANNELS = 3  # RGB faces


class ExportError(Exception):
    """The model could not be exported; the message says why."""


class ExportVerificationError(ExportError):
    """The exported file does not load or does not reproduce the model's outputs."""


@dataclass(frozen=True)
class ExportResult:
    path: Path
    format: str  # "torchscript" or "onnx"
    max_abs_diff: float  # largest |eager - exported| over the check batch
    sha256: str
    size_bytes: int


def _image_size(input_size: int | tuple[int, int]) -> tuple[int, int]:
    if isinstance(input_size, int):
        return input_size, input_size
    height, width = input_size
    return int(height), int(width)


def _random_batch(batch: int, input_size: int | tuple[int, int], seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(batch, _CHANNELS, *_image_size(input_size), generator=generator)


def _cpu_eval_copy(model: nn.Module) -> nn.Module:
    """Export works on a CPU copy in eval mode: the caller's model keeps its device and
    train/eval state, and the ONNX Runtime check runs on CPU anyway."""
    return copy.deepcopy(model).to("cpu").eval()


def _eager_logits(model: nn.Module, batch: torch.Tensor) -> np.ndarray:
    with torch.no_grad():
        output = model(batch)
    if not isinstance(output, torch.Tensor):
        raise ExportError(f"the model returns {type(output).__name__}, not one logits tensor; "
                          "only single-output classifiers can be exported")
    return output.detach().float().numpy()


def _prepare(model: nn.Module, input_size: int | tuple[int, int]
             ) -> tuple[nn.Module, torch.Tensor, torch.Tensor, np.ndarray]:
    """The eager CPU copy to export, the batch to trace with, the batch to check with,
    and the eager model's logits on the check batch."""
    eager = _cpu_eval_copy(model)
    example = _random_batch(_TRACE_BATCH, input_size, seed=0)
    check = _random_batch(_CHECK_BATCH, input_size, seed=1)
    return eager, example, check, _eager_logits(eager, check)


def _max_abs_diff(expected: np.ndarray, actual: np.ndarray) -> float:
    if expected.shape != actual.shape:
        raise ExportVerificationError(
            f"the exported model outputs shape {actual.shape}, the model {expected.shape}")
    return float(np.max(np.abs(expected - actual))) if expected.size else 0.0


@contextlib.contextmanager
def _logged_warnings() -> Iterator[None]:
    """torch warns on every trace (deprecation of torch.jit and of this ONNX exporter,
    tracer remarks); the engine never prints, so they go to the debug log. Whether a
    tracer remark mattered is settled by the output check, not by reading warnings."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    for message in dict.fromkeys(str(w.message) for w in caught):
        log.debug("export warning: %s", message)


def _verify_and_publish(temp: Path, out_path: Path, file_format: str, diff: float,
                        tolerance: float) -> ExportResult:
    if not diff <= tolerance:  # also catches NaN
        raise ExportVerificationError(
            f"the exported {file_format} model differs from the original by up to {diff:.3g} "
            f"(allowed {tolerance:g}); the file was not written")
    publish_staged(temp, out_path)
    result = ExportResult(path=out_path, format=file_format, max_abs_diff=diff,
                          sha256=sha256_file(out_path), size_bytes=out_path.stat().st_size)
    log.info("exported %s to %s (max abs diff %.2e, %d bytes)", file_format, out_path, diff,
             result.size_bytes)
    return result


def export_torchscript(model: nn.Module, input_size: int | tuple[int, int],
                       out_path: str | os.PathLike[str], *,
                       tolerance: float = TOLERANCE) -> ExportResult:
    """Trace ``model`` for (N, 3, H, W) inputs of ``input_size`` (an int means square),
    save it, reload it and check its outputs; returns the verified file's details."""
    out_path = Path(out_path)
    eager, example, check, expected = _prepare(model, input_size)
    with staged_file(out_path) as temp:
        try:
            # Traced with autograd on, even when the caller runs under no_grad, so the
            # graph holds the plain portable ops: under no_grad, attention layers take
            # a fused fast path (which ONNX cannot express). Our own check below
            # replaces the tracer's, which would run the model twice more.
            with _logged_warnings(), torch.enable_grad():
                traced = torch.jit.trace(eager, example, check_trace=False)
                torch.jit.save(traced, str(temp))
        except Exception as exc:
            raise ExportError(f"cannot convert the model to TorchScript: {exc}") from exc
        try:
            with _logged_warnings(), torch.no_grad():
                loaded = torch.jit.load(str(temp), map_location="cpu")
                actual = loaded(check).detach().float().numpy()
        except Exception as exc:
            raise ExportVerificationError(f"the TorchScript file does not load or run: {exc}") from exc
        del loaded
        return _verify_and_publish(temp, out_path, "torchscript", _max_abs_diff(expected, actual), tolerance)


def _export_onnx_file(model: nn.Module, example: torch.Tensor, path: Path) -> None:
    torch.onnx.export(
        model, (example,), str(path), dynamo=False, opset_version=ONNX_OPSET,
        input_names=[ONNX_INPUT_NAME], output_names=[ONNX_OUTPUT_NAME],
        dynamic_axes={ONNX_INPUT_NAME: {0: "batch"}, ONNX_OUTPUT_NAME: {0: "batch"}},
        do_constant_folding=True)


def export_onnx(model: nn.Module, input_size: int | tuple[int, int],
                out_path: str | os.PathLike[str], *,
                tolerance: float = TOLERANCE) -> ExportResult:
    """Export ``model`` to ONNX (input ``image``, output ``logits``, batch axis dynamic),
    check it with the ONNX checker and ONNX Runtime on CPU; returns the verified file."""
    # Imported here: only ONNX export needs them, not every user of this module.
    import onnx
    import onnxruntime

    out_path = Path(out_path)
    eager, example, check, expected = _prepare(model, input_size)
    with staged_file(out_path) as temp:
        try:
            with _logged_warnings(), torch.enable_grad():  # see export_torchscript
                _export_onnx_file(eager, example, temp)
        except Exception as exc:
            raise ExportError(f"cannot convert the model to ONNX: {exc}") from exc
        try:
            onnx.checker.check_model(str(temp))
            # From bytes, so no open handle keeps the file from being moved on Windows.
            session = onnxruntime.InferenceSession(temp.read_bytes(),
                                                   providers=["CPUExecutionProvider"])
            actual = session.run([ONNX_OUTPUT_NAME], {ONNX_INPUT_NAME: check.numpy()})[0]
        except Exception as exc:
            raise ExportVerificationError(f"the ONNX file does not load or run: {exc}") from exc
        del session
        return _verify_and_publish(temp, out_path, "onnx", _max_abs_diff(expected, np.asarray(actual)),
                        tolerance)
