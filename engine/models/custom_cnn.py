"""The lab's two hand-written networks, CustomCNN1 and CustomCNN2.

Both keep the lab's layers and names (`conv`, `fc`); the only addition is a
Dropout before the last Linear (p=0 unless asked for), always present so a
checkpoint's keys do not depend on the dropout setting.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

LAB_INPUT_SIZE = 224
CONV_CHANNELS = 32
# Two 2x2 max-pools: 224 -> 112 -> 56.
CONV_GRID = LAB_INPUT_SIZE // 4
# CustomCNN2 averages the 56x56 map down to 14x14 before attention: 196 tokens
# instead of 3,136 keeps the attention matrix (tokens x tokens) small enough to
# train on a laptop CPU, and matches ViT-B/16's 14x14 grid.
ATTENTION_GRID = 14
HIDDEN_UNITS = 128


def lab_conv_features() -> nn.Sequential:
    """Conv(3,16)-ReLU-Pool, Conv(16,32)-ReLU-Pool: the feature extractor both lab models share."""
    return nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(16, CONV_CHANNELS, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
    )


def lab_classifier(in_features: int, num_classes: int, dropout: float) -> nn.Sequential:
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(in_features, HIDDEN_UNITS),
        nn.ReLU(),
        nn.Dropout(dropout),
        nn.Linear(HIDDEN_UNITS, num_classes),
    )


class CustomCNN1(nn.Module):
    """The lab's LeNet-like CNN: two conv blocks and two fully connected layers."""

    def __init__(self, num_classes: int, dropout: float = 0.0):
        super().__init__()
        self.conv = lab_conv_features()
        self.fc = lab_classifier(CONV_CHANNELS * CONV_GRID * CONV_GRID, num_classes, dropout)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.fc(self.conv(images))


class SelfAttention(nn.Module):
    """The lab's single-head self-attention: softmax(q k^T / sqrt(d)) v over a token sequence.

    Input and output are (batch, tokens, in_dim).
    """

    def __init__(self, in_dim: int):
        super().__init__()
        self.query = nn.Linear(in_dim, in_dim)
        self.key = nn.Linear(in_dim, in_dim)
        self.value = nn.Linear(in_dim, in_dim)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        q = self.query(tokens)
        k = self.key(tokens)
        v = self.value(tokens)
        # Scaling by sqrt(d) keeps the softmax from saturating as the dimension grows.
        weights = F.softmax(q @ k.transpose(-2, -1) / (tokens.size(-1) ** 0.5), dim=-1)
        return weights @ v


class CustomCNN2(nn.Module):
    """CustomCNN1's conv features, then self-attention between the positions of the feature map.

    Every cell of the (pooled) feature map is one token whose features are the
    32 channels, so each position can gather evidence from every other
    position (left eye from right eye) before the classifier sees it.
    """

    def __init__(self, num_classes: int, dropout: float = 0.0):
        super().__init__()
        self.conv = lab_conv_features()
        self.pool = nn.AdaptiveAvgPool2d(ATTENTION_GRID)
        self.attention = SelfAttention(CONV_CHANNELS)
        self.fc = lab_classifier(CONV_CHANNELS * ATTENTION_GRID * ATTENTION_GRID, num_classes, dropout)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        feature_map = self.pool(self.conv(images))
        # (B, C, H, W) -> (B, H*W, C): one token per spatial position.
        tokens = feature_map.flatten(2).transpose(1, 2)
        attended = self.attention(tokens)
        return self.fc(attended)
