from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Callable

import numpy as np
import onnxruntime
import pytest
import torch
from torch import nn
from torchvision.models import resnet18

import engine.export as export
import engine.models as model_zoo
from engine.export import (ONNX_INPUT_NAME, ExportError, ExportResult, ExportVerificationError,
                           export_onnx, export_torchscript)
from engine.storage import sha256_file
from tests.engine.evaluation.conftest import TinyCnn, tiny_vit

Exporter = Callable[..., ExportResult]
EXPORTERS = [pytest.param(export_torchscript, id="torchscript"), pytest.param(export_onnx, id="onnx")]


class DriftingModel(nn.Module):
    """Adds how often it has been called: a trace bakes in the count of that moment, so
    the file disagrees with the eager model, as with any output that depends on
    Python-side state the exporter cannot see."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(3, 2)
        self.calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return self.linear(x.mean(dim=(2, 3))) + self.calls


class TwoOutputs(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(3, 2)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits = self.linear(x.mean(dim=(2, 3)))
        return logits, logits


def _check_file(result: ExportResult, out: Path, file_format: str) -> None:
    assert result.path == out and result.format == file_format
    assert 0.0 <= result.max_abs_diff <= export.TOLERANCE
    assert result.size_bytes == out.stat().st_size > 0
    assert result.sha256 == hashlib.sha256(out.read_bytes()).hexdigest()
    assert [p.name for p in out.parent.iterdir()] == [out.name]  # no temp file left


@pytest.mark.parametrize("exporter", EXPORTERS)
@pytest.mark.parametrize("make_model, size", [
    pytest.param(TinyCnn, 32, id="tiny-cnn"),
    pytest.param(lambda: resnet18(weights=None, num_classes=3), 64, id="resnet18"),
    pytest.param(tiny_vit, 32, id="vit"),
])
def test_parity(exporter: Exporter, make_model: Callable[[], nn.Module], size: int,
                tmp_path: Path) -> None:
    model = make_model().train()
    out = tmp_path / "model.bin"
    result = exporter(model, size, out)
    _check_file(result, out, "onnx" if exporter is export_onnx else "torchscript")
    assert model.training  # the caller's model is left as it was


def test_onnx_batch_axis_is_dynamic(tmp_path: Path) -> None:
    model = TinyCnn().eval()
    result = export_onnx(model, (32, 48), tmp_path / "cnn.onnx")
    session = onnxruntime.InferenceSession(str(result.path), providers=["CPUExecutionProvider"])
    batch = torch.randn(7, 3, 32, 48)
    (logits,) = session.run(None, {ONNX_INPUT_NAME: batch.numpy()})
    with torch.no_grad():
        np.testing.assert_allclose(logits, model(batch).numpy(), atol=1e-4)


@pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:FutureWarning")
def test_torchscript_file_runs_other_batch_sizes(tmp_path: Path) -> None:
    model = TinyCnn().eval()
    result = export_torchscript(model, 32, tmp_path / "cnn.pt")
    loaded = torch.jit.load(str(result.path))
    batch = torch.randn(5, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(loaded(batch), model(batch), atol=1e-4, rtol=0)


def test_attention_model_exports_under_no_grad(tmp_path: Path) -> None:
    # Under no_grad, nn.MultiheadAttention switches to a fused op ONNX cannot express;
    # export must still trace the plain ops when the caller (a GUI worker) runs there.
    with torch.no_grad():
        result = export_onnx(tiny_vit(), 32, tmp_path / "vit.onnx")
    assert result.max_abs_diff <= export.TOLERANCE


@pytest.mark.skipif(not hasattr(model_zoo, "build_model"), reason="the model zoo is not there yet")
@pytest.mark.parametrize("exporter", EXPORTERS)
@pytest.mark.parametrize("arch", ["customcnn1", "customcnn2"])
def test_lab_models(exporter: Exporter, arch: str, tmp_path: Path) -> None:
    model = model_zoo.build_model(arch, 3, pretrained=False)
    result = exporter(model, model_zoo.get_spec(arch).input_size, tmp_path / arch)
    assert result.max_abs_diff <= export.TOLERANCE


@pytest.mark.parametrize("exporter", EXPORTERS)
def test_mismatch_is_caught_and_nothing_is_written(exporter: Exporter, tmp_path: Path) -> None:
    out = tmp_path / "model.bin"
    out.write_bytes(b"an earlier good export")
    with pytest.raises(ExportVerificationError, match="differs"):
        exporter(DriftingModel(), 8, out)
    assert out.read_bytes() == b"an earlier good export"
    assert [p.name for p in tmp_path.iterdir()] == ["model.bin"]


def test_corrupt_torchscript_file_is_caught(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.jit, "save", lambda _module, path: Path(path).write_bytes(b"junk"))
    with pytest.raises(ExportVerificationError, match="does not load"):
        export_torchscript(TinyCnn(), 16, tmp_path / "cnn.pt")
    assert list(tmp_path.iterdir()) == []


def test_corrupt_onnx_file_is_caught(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(export, "_export_onnx_file",
                        lambda _model, _example, path: path.write_bytes(b"junk"))
    with pytest.raises(ExportVerificationError, match="does not load"):
        export_onnx(TinyCnn(), 16, tmp_path / "cnn.onnx")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("exporter", EXPORTERS)
def test_multi_output_model_is_refused(exporter: Exporter, tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="one logits tensor"):
        exporter(TwoOutputs(), 8, tmp_path / "two.bin")
    assert list(tmp_path.iterdir()) == []


def test_sha256_file(tmp_path: Path) -> None:
    path = tmp_path / "data"
    path.write_bytes(b"x" * 3_000_000)
    assert sha256_file(path, chunk_bytes=1 << 16) == hashlib.sha256(b"x" * 3_000_000).hexdigest()
