"""Builders for the torchvision architectures, each with a fresh head for `num_classes`.

Models are always built randomly initialised (`weights=None`); pretrained
weights are loaded afterwards from a local file by `engine.models.weights`, so
torchvision never gets a chance to download anything.

Every head is `Dropout -> Linear` (p=0 when no dropout is asked for, except
where torchvision already uses dropout) so a checkpoint's keys never depend on
the dropout setting.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import PurePosixPath
from urllib.parse import urlparse

import torch
from torch import nn
from torchvision import models as tvm


def weights_file_of(weights: tvm.WeightsEnum) -> tuple[str, str]:
    """(file name, URL) of a torchvision weights entry; reads the enum only, downloads nothing."""
    return PurePosixPath(urlparse(weights.url).path).name, weights.url


def dropout_head(in_features: int, num_classes: int, dropout: float | None) -> nn.Sequential:
    return nn.Sequential(nn.Dropout(dropout or 0.0), nn.Linear(in_features, num_classes))


def build_resnet(depth: int, num_classes: int, dropout: float | None) -> nn.Module:
    constructors = {18: tvm.resnet18, 50: tvm.resnet50, 101: tvm.resnet101}
    model = constructors[depth](weights=None)
    model.fc = dropout_head(model.fc.in_features, num_classes, dropout)
    return model


def build_densenet121(num_classes: int, dropout: float | None) -> nn.Module:
    model = tvm.densenet121(weights=None)
    model.classifier = dropout_head(model.classifier.in_features, num_classes, dropout)
    return model


def build_vit_b_16(num_classes: int, dropout: float | None) -> nn.Module:
    model = tvm.vit_b_16(weights=None)
    in_features = model.heads.head.in_features
    # Keep torchvision's "heads.head" name so its own checkpoints' keys still line up.
    model.heads = nn.Sequential(
        OrderedDict(dropout=nn.Dropout(dropout or 0.0), head=nn.Linear(in_features, num_classes))
    )
    return model


def build_mobilenet_v3_large(num_classes: int, dropout: float | None) -> nn.Module:
    model = tvm.mobilenet_v3_large(weights=None)
    # classifier = [Linear(960,1280), Hardswish, Dropout(0.2), Linear(1280,1000)]:
    # the first Linear is pretrained and worth keeping; only the last is replaced.
    if dropout is not None:
        model.classifier[2].p = dropout
    model.classifier[3] = nn.Linear(model.classifier[3].in_features, num_classes)
    return model


def build_efficientnet_b0(num_classes: int, dropout: float | None) -> nn.Module:
    model = tvm.efficientnet_b0(weights=None)
    # classifier = [Dropout(0.2), Linear(1280,1000)]
    if dropout is not None:
        model.classifier[0].p = dropout
    model.classifier[1] = nn.Linear(model.classifier[1].in_features, num_classes)
    return model


# torchvision's DenseNet checkpoints predate a rename: "denselayer1.norm.1.weight"
# in the file is "denselayer1.norm1.weight" in the model (likewise relu/conv 1/2).
_OLD_DENSELAYER_KEY = re.compile(r"(denselayer\d+\.(?:norm|relu|conv))\.([12])\.")


def adapt_densenet_state_dict(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {_OLD_DENSELAYER_KEY.sub(r"\1\2.", key): value for key, value in state_dict.items()}


def vit_tokens_to_grid(tokens: torch.Tensor) -> torch.Tensor:
    """Grad-CAM reshape for ViT: drop the class token, lay the patch tokens out as a square map.

    (B, 1 + H*W, C) -> (B, C, H, W); 197 tokens at 224 px give a 14x14 grid.
    """
    patches = tokens[:, 1:, :]
    side = int(round(patches.size(1) ** 0.5))
    if side * side != patches.size(1):
        raise ValueError(f"{patches.size(1)} patch tokens do not form a square grid")
    return patches.reshape(patches.size(0), side, side, patches.size(2)).permute(0, 3, 1, 2)
