"""dlib's face recognition ResNet (public domain, CC0) as PyTorch modules.

`FaceResNet` maps a 150x150 RGB face chip to dlib's 128-number face descriptor
(two photos of one person are usually closer than 0.6, Euclidean). It is
dlib's `anet_type` (dlib/examples/dnn_face_recognition_ex.cpp) layer for layer:
29 convolutions, 5,614,592 parameters, feature maps 35 -> 17 -> 8 -> 4 -> 2,
a global average pool and a 256 -> 128 fully connected layer without bias.
Its pretrained weights come from dlib's own file, read by
`engine.models.dlib_weights` (no dlib needed).

Input: pixels normalised as dlib does, (pixel - mean) / 256 with dlib's means,
which on FaceLab's [0, 1] tensors is Normalize(FACERESNET_MEAN, FACERESNET_STD).

    embedder = load_face_embedder("cpu")          # pretrained, eval mode
    descriptors = embedder(normalize_chips(chips)) # (N, 128)
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from engine.data.augment import to_unit_float
from engine.models.errors import WeightsIncompatibleError
from engine.models.spec import get_spec
from engine.models.weights import read_state_dict, require_weights_file

FACERESNET_INPUT_SIZE = 150
EMBEDDING_SIZE = 128
# dlib's input_rgb_image_sized<150> subtracts these from 0..255 pixels, then divides by 256.
DLIB_PIXEL_MEANS = (122.782, 117.001, 104.298)
FACERESNET_MEAN = tuple(m / 255 for m in DLIB_PIXEL_MEANS)
FACERESNET_STD = (256 / 255,) * 3
# Two descriptors closer than this are usually the same person (dlib's loss_metric threshold).
SAME_PERSON_DISTANCE = 0.6

_EMBEDDER_PREFIX = "embedder."


class FrozenAffine(nn.Module):
    """dlib's `affine` layer: a batch norm with its statistics folded into a per-channel
    scale and shift, y = weight * x + bias. Unlike BatchNorm2d it never tracks
    statistics, so train mode and eval mode compute the same thing."""

    def __init__(self, channels: int):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.weight.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)

    def extra_repr(self) -> str:
        return str(self.weight.numel())


def add_zero_padded(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """a + b the way dlib's `add_prev` adds tensors of different sizes: the smaller one
    is zero-padded at the end of its channels, at the bottom and on the right.

    In a downsampling block the shortcut (average-pooled input) can be larger than
    the branch (4x4 against 3x3) and have fewer channels (128 against 256).
    """
    if a.shape == b.shape:
        return a + b
    channels = max(a.shape[1], b.shape[1])
    height = max(a.shape[2], b.shape[2])
    width = max(a.shape[3], b.shape[3])
    a = F.pad(a, (0, width - a.shape[3], 0, height - a.shape[2], 0, channels - a.shape[1]))
    b = F.pad(b, (0, width - b.shape[3], 0, height - b.shape[2], 0, channels - b.shape[1]))
    return a + b


class ResidualBlock(nn.Module):
    """dlib's `ares` (and, with `downsample`, `ares_down`) block:
    relu(affine(conv(relu(affine(conv(x))))) + shortcut(x)).

    Downsampling convolutions have stride 2 and, as in dlib, no padding; the
    shortcut is then a 2x2 average pool of x.
    """

    def __init__(self, in_channels: int, out_channels: int, *, downsample: bool = False):
        super().__init__()
        self.downsample = downsample
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=2 if downsample else 1,
                               padding=0 if downsample else 1)
        self.affine1 = FrozenAffine(out_channels)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, stride=1, padding=1)
        self.affine2 = FrozenAffine(out_channels)
        self.shortcut = nn.AvgPool2d(2, 2) if downsample else nn.Identity()
        self.relu2 = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branch = self.affine2(self.conv2(self.relu1(self.affine1(self.conv1(x)))))
        return self.relu2(add_zero_padded(branch, self.shortcut(x)))


def _stage(in_channels: int, out_channels: int, blocks: int, *, downsample: bool) -> nn.Sequential:
    layers = [ResidualBlock(in_channels, out_channels, downsample=downsample)]
    layers += [ResidualBlock(out_channels, out_channels) for _ in range(blocks - 1)]
    return nn.Sequential(*layers)


class FaceResNet(nn.Module):
    """dlib's face recognition network: a normalised 150x150 face -> 128-d descriptor.

    The stages are named by what they see: `layer1` works on 35x35 maps, `layer2`
    17x17, `layer3` 8x8, `layer4` 4x4, `layer5` 2x2.
    """

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(OrderedDict(
            conv=nn.Conv2d(3, 32, 7, stride=2, padding=0),
            affine=FrozenAffine(32),
            relu=nn.ReLU(),
            pool=nn.MaxPool2d(3, stride=2, padding=0),
        ))
        self.layer1 = _stage(32, 32, 3, downsample=False)
        self.layer2 = _stage(32, 64, 4, downsample=True)
        self.layer3 = _stage(64, 128, 3, downsample=True)
        self.layer4 = _stage(128, 256, 3, downsample=True)
        self.layer5 = _stage(256, 256, 1, downsample=True)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(256, EMBEDDING_SIZE, bias=False)

    def forward(self, faces: torch.Tensor) -> torch.Tensor:
        x = self.stem(faces)
        x = self.layer5(self.layer4(self.layer3(self.layer2(self.layer1(x)))))
        return self.fc(torch.flatten(self.pool(x), 1))


class FaceResNetClassifier(nn.Module):
    """FaceResNet's descriptor followed by a Linear head over the persons.

    `embedder` is the pretrained network, `head` the classifier; a head trained on
    cached `embedder` outputs can be dropped in as `head` unchanged.
    """

    def __init__(self, num_classes: int, dropout: float = 0.0):
        super().__init__()
        self.embedder = FaceResNet()
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(EMBEDDING_SIZE, num_classes))

    def forward(self, faces: torch.Tensor) -> torch.Tensor:
        return self.head(self.embedder(faces))


def build_faceresnet(num_classes: int, dropout: float | None) -> nn.Module:
    return FaceResNetClassifier(num_classes, dropout or 0.0)


def adapt_faceresnet_state_dict(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Map a FaceResNet state dict (FaceLab's converted dlib file) onto the classifier's keys."""
    return {_EMBEDDER_PREFIX + key: value for key, value in state_dict.items()}


def normalize_chips(chips: np.ndarray | torch.Tensor) -> torch.Tensor:
    """(N, H, W, 3) uint8 RGB chips -> the (N, 3, H, W) float input FaceResNet expects.

    The trainer's and predictor's arithmetic (uint8 -> 0..1 -> the architecture's
    mean and std), for callers that hold raw pixels.
    """
    pixels = chips if isinstance(chips, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(chips))
    if pixels.dtype != torch.uint8 or pixels.ndim != 4 or pixels.shape[-1] != 3:
        raise ValueError(f"expected (N, H, W, 3) uint8 RGB chips, got {tuple(pixels.shape)} {pixels.dtype}")
    mean = torch.tensor(FACERESNET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(FACERESNET_STD).view(1, 3, 1, 1)
    return (to_unit_float(pixels.permute(0, 3, 1, 2)) - mean) / std


def load_face_embedder(device: str | torch.device = "cpu") -> FaceResNet:
    """The pretrained FaceResNet in eval mode on `device`, its parameters frozen.

    Weights come from FaceLab's weights folder (converted from dlib's file on first
    use); WeightsUnavailableError says how to get them when they are missing.
    """
    path = require_weights_file(get_spec("faceresnet"))
    embedder = FaceResNet()
    _load_embedder_state(embedder, read_state_dict(path), path.name)
    embedder.requires_grad_(False)
    return embedder.eval().to(device)


def _load_embedder_state(embedder: FaceResNet, state_dict: Mapping[str, torch.Tensor], source: str) -> None:
    try:
        embedder.load_state_dict(state_dict, strict=True)
    except RuntimeError as error:
        raise WeightsIncompatibleError(f"{source} does not fit Face ResNet: {error}") from error
