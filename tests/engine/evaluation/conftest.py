"""Small models for the evaluation and export tests, built without any download."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn
from torchvision.models import VisionTransformer

MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)


class TinyCnn(nn.Module):
    """Shaped like the lab's first custom CNN: conv-bn-relu-pool twice, then a linear head."""

    def __init__(self, num_classes: int = 3) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
        )
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(16, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.pool(self.features(x)), 1))


def randomise_head(vit: VisionTransformer) -> VisionTransformer:
    # torchvision zero-initialises the ViT head, so every output would be 0 and any
    # comparison of outputs would pass trivially.
    nn.init.normal_(vit.heads.head.weight, std=0.5)
    nn.init.normal_(vit.heads.head.bias, std=0.5)
    return vit


def tiny_vit(image_size: int = 32, num_classes: int = 3) -> VisionTransformer:
    """The same class as vit_b_16, one thin layer: the same export and Grad-CAM code path."""
    torch.manual_seed(0)
    return randomise_head(VisionTransformer(image_size=image_size, patch_size=16, num_layers=1,
                                            num_heads=2, hidden_dim=16, mlp_dim=32,
                                            num_classes=num_classes))


def vit_tokens_to_grid(tokens: torch.Tensor) -> torch.Tensor:
    """(B, 1 + h*w, C) encoder tokens -> (B, C, h, w), dropping the class token."""
    patches = tokens[:, 1:, :]
    side = int(round(patches.shape[1] ** 0.5))
    return patches.reshape(tokens.shape[0], side, side, tokens.shape[2]).permute(0, 3, 1, 2)


def random_image(size: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(size, size, 3), dtype=np.uint8)


@pytest.fixture(autouse=True)
def _seeded_torch() -> None:
    torch.manual_seed(0)
