"""Pretrained weights: never downloaded unasked, found in local folders, imported only when verified."""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from torch import nn
from torchvision import models as tvm

from engine.models import (
    ArchSpec,
    UnrecognizedWeightsFileError,
    UnsafeWeightsFileError,
    WeightsChecksumError,
    WeightsUnavailableError,
    build_model,
    facelab_weights_dir,
    import_weights,
    register_architecture,
    unregister_architecture,
    weight_search_dirs,
    weights_status,
)
from engine.models import weights as weights_module
from engine.models.facenet_classifier import FaceNetClassifier
from engine.models.weights_import import expected_sha256_prefix

TINY = "tiny_weights_test"


def _tiny_net(num_classes: int, dropout: float | None) -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, num_classes))


def _save_with_hash_name(obj: object, folder: Path, stem: str) -> Path:
    """Save `obj` as `<stem>-<first 8 hex digits of its sha256>.pth`, torchvision's naming."""
    folder.mkdir(parents=True, exist_ok=True)
    staging = folder / "staging.pth"
    torch.save(obj, staging)
    digest = hashlib.sha256(staging.read_bytes()).hexdigest()
    return staging.rename(folder / f"{stem}-{digest[:8]}.pth")


def _register_tiny(weights_filename: str) -> None:
    register_architecture(
        ArchSpec(
            name=TINY,
            display_name="Tiny",
            description="A tiny network for weights tests.",
            input_size=16,
            mean=(0.5, 0.5, 0.5),
            std=(0.5, 0.5, 0.5),
            family="cnn",
            pretrained_source="torchvision",
            weights_filename=weights_filename,
            builder=_tiny_net,
            head_path="3",
            pretrained_dataset="Test",
        )
    )


@pytest.fixture
def tiny_arch() -> Iterator[None]:
    yield
    unregister_architecture(TINY)


def _installed_files(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir()) if folder.exists() else []


def test_search_dirs_in_priority_order(weights_home: Path, tmp_path: Path):
    dirs = weight_search_dirs()
    assert dirs[0] == weights_home == facelab_weights_dir()
    assert tmp_path / "torch-home" / "hub" / "checkpoints" in dirs  # torchvision's cache
    assert tmp_path / "torch-home" / "checkpoints" in dirs  # facenet-pytorch's cache
    assert dirs[-1] == tmp_path / "bundled"


def test_default_and_frozen_locations(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    import platformdirs

    monkeypatch.delenv("FACELAB_WEIGHTS_DIR", raising=False)
    assert facelab_weights_dir() == Path(platformdirs.user_data_dir("FaceLab")) / "weights"
    assert weights_module.bundled_weights_dir().parts[-2:] == ("resources", "weights")
    monkeypatch.setattr("sys.frozen", True, raising=False)
    monkeypatch.setattr("sys._MEIPASS", str(tmp_path), raising=False)
    assert weights_module.bundled_weights_dir() == tmp_path / "resources" / "weights"


def test_missing_weights_raise_with_instructions(weights_home: Path):
    with pytest.raises(WeightsUnavailableError) as raised:
        build_model("resnet18", 5, pretrained=True)
    message = str(raised.value)
    assert "resnet18-f37072fd.pth" in message
    assert "facelab weights import" in message
    assert "facelab weights download resnet18" in message  # for machines with internet
    assert str(weights_home) in message
    assert raised.value.filename == "resnet18-f37072fd.pth"

    status = weights_status("resnet18")
    assert not status.available and status.path is None
    assert status.filename == "resnet18-f37072fd.pth"
    assert "resnet18-f37072fd.pth" in status.message and "facelab weights import" in status.message


def test_architecture_without_pretrained_weights_never_falls_back(weights_home: Path):
    with pytest.raises(WeightsUnavailableError, match="pretrained=False"):
        build_model("customcnn1", 5, pretrained=True)
    status = weights_status("customcnn1")
    assert not status.available and "from scratch" in status.message


def test_weights_in_torch_hub_cache_are_loaded(weights_home: Path, tmp_path: Path):
    reference = tvm.resnet18(weights=None)
    hub_checkpoints = tmp_path / "torch-home" / "hub" / "checkpoints"
    hub_checkpoints.mkdir(parents=True)
    torch.save(reference.state_dict(), hub_checkpoints / "resnet18-f37072fd.pth")

    status = weights_status("resnet18")
    assert status.available and status.path == hub_checkpoints / "resnet18-f37072fd.pth"
    assert "ImageNet weights found at" in status.message

    model = build_model("resnet18", 5, pretrained=True)
    expected = reference.state_dict()
    for key, value in model.state_dict().items():
        if not key.startswith("fc."):
            assert torch.equal(value, expected[key]), key
    assert model.fc[1].weight.shape == (5, 512)


def test_densenet_files_with_the_old_key_layout_load(weights_home: Path):
    reference = tvm.densenet121(weights=None)
    # torchvision's published DenseNet file spells "norm1" as "norm.1" (and so on).
    old_layout = {
        key.replace(".norm1.", ".norm.1.").replace(".conv1.", ".conv.1.")
        .replace(".norm2.", ".norm.2.").replace(".conv2.", ".conv.2."): value
        for key, value in reference.state_dict().items()
    }
    assert any(".norm.1." in key for key in old_layout)
    weights_home.mkdir(parents=True)
    torch.save(old_layout, weights_home / "densenet121-a639ec97.pth")

    model = build_model("densenet121", 3, pretrained=True)
    assert torch.equal(
        model.features.denseblock4.denselayer16.conv2.weight,
        reference.features.denseblock4.denselayer16.conv2.weight,
    )


def test_import_accepts_a_file_whose_checksum_matches(weights_home: Path, tmp_path: Path, tiny_arch):
    reference = _tiny_net(1000, None)
    source = _save_with_hash_name(reference.state_dict(), tmp_path / "downloads", "tinynet")
    assert expected_sha256_prefix(source.name) == source.name.split("-")[1][:8]
    _register_tiny(source.name)
    assert not weights_status(TINY).available

    installed = import_weights(source)

    assert installed == weights_home / source.name
    assert installed.read_bytes() == source.read_bytes()
    assert _installed_files(weights_home) == [source.name]  # no temp file left behind
    assert weights_status(TINY).path == installed
    model = build_model(TINY, 2, pretrained=True)
    assert torch.equal(model[0].weight, reference[0].weight)


def test_import_refuses_a_checksum_mismatch(weights_home: Path, tmp_path: Path, tiny_arch):
    genuine = _save_with_hash_name(_tiny_net(10, None).state_dict(), tmp_path / "genuine", "tinynet")
    _register_tiny(genuine.name)
    impostor = tmp_path / "impostor" / genuine.name
    impostor.parent.mkdir()
    torch.save(_tiny_net(10, None).state_dict(), impostor)  # other random values: other hash

    with pytest.raises(WeightsChecksumError, match="SHA-256"):
        import_weights(impostor)
    assert _installed_files(weights_home) == []


def test_import_refuses_a_real_architecture_file_with_wrong_content(weights_home: Path, tmp_path: Path):
    fake = tmp_path / "resnet18-f37072fd.pth"
    torch.save({"weight": torch.zeros(3)}, fake)
    with pytest.raises(WeightsChecksumError, match="f37072fd"):
        import_weights(fake)
    assert _installed_files(weights_home) == []


class _RunsCodeWhenUnpickled:
    """Pickles as 'call os.mkdir(marker)': a stand-in for a malicious checkpoint."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (str(self.marker),))


def test_import_refuses_a_file_that_needs_pickle(weights_home: Path, tmp_path: Path, tiny_arch):
    marker = tmp_path / "code-ran"
    payload = {"0.weight": torch.zeros(4, 3, 3, 3), "extra": _RunsCodeWhenUnpickled(marker)}
    # The checksum matches, so only the safe-loading check stands in the way.
    source = _save_with_hash_name(payload, tmp_path / "downloads", "tinynet")
    _register_tiny(source.name)

    with pytest.raises(UnsafeWeightsFileError):
        import_weights(source)
    assert not marker.exists()
    assert _installed_files(weights_home) == []

    # Nor does building a model from such a file run it, however it got into the folder.
    weights_home.mkdir(parents=True, exist_ok=True)
    shutil.copy(source, weights_home / source.name)
    with pytest.raises(UnsafeWeightsFileError):
        build_model(TINY, 2, pretrained=True)
    assert not marker.exists()


def test_import_refuses_unknown_and_missing_files(weights_home: Path, tmp_path: Path):
    stranger = tmp_path / "my-model.pth"
    torch.save({"weight": torch.zeros(1)}, stranger)
    with pytest.raises(UnrecognizedWeightsFileError, match="resnet50-11ad3fa6.pth"):
        import_weights(stranger)
    with pytest.raises(FileNotFoundError):
        import_weights(tmp_path / "resnet50-11ad3fa6.pth")


def _facenet_stand_in() -> dict[str, torch.Tensor]:
    upstream = FaceNetClassifier(num_classes=2).embedder.state_dict()
    # facenet-pytorch's file also holds its 8,631-identity classifier; a small stand-in will do.
    upstream["logits.weight"] = torch.zeros(7, 512)
    upstream["logits.bias"] = torch.zeros(7)
    return upstream


def test_facenet_file_in_the_weights_folder_is_loaded(weights_home: Path):
    upstream = _facenet_stand_in()
    weights_home.mkdir(parents=True)
    torch.save(upstream, weights_home / "20180402-114759-vggface2.pt")

    model = build_model("facenet", 4, pretrained=True)
    assert torch.equal(model.embedder.conv2d_1a.conv.weight, upstream["conv2d_1a.conv.weight"])
    assert model.head[1].weight.shape == (4, 512)


def test_facenet_import_checks_the_published_sha256(weights_home: Path, tmp_path: Path):
    """Its name carries no hash, so a loadable file of the right shape that is not the
    published one is refused by the full SHA-256 the spec knows."""
    source = tmp_path / "20180402-114759-vggface2.pt"
    torch.save(_facenet_stand_in(), source)
    with pytest.raises(WeightsChecksumError, match="not the official file.*281cebca"):
        import_weights(source)
    assert _installed_files(weights_home) == []


def test_file_without_any_hash_is_verified_by_structure(weights_home: Path, tmp_path: Path, tiny_arch):
    """Neither a hash in its name nor a known SHA-256: the file must load into the
    architecture, every key and shape."""
    _register_tiny("tinynet-weights.pt")
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    source = downloads / "tinynet-weights.pt"
    reference = _tiny_net(1000, None)
    torch.save(reference.state_dict(), source)

    installed = import_weights(source)
    assert installed == weights_home / source.name
    assert torch.equal(build_model(TINY, 2, pretrained=True)[0].weight, reference[0].weight)

    installed.unlink()
    torch.save(tvm.resnet18(weights=None).state_dict(), source)
    with pytest.raises(WeightsChecksumError, match="does not contain Tiny weights"):
        import_weights(source)
    assert _installed_files(weights_home) == []
