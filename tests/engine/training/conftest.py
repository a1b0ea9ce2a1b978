"""A tiny registered architecture and synthetic faces, so trainer tests take seconds."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import engine.models as models
from engine.training.trainer import TrainData

TINY_ARCH = "tiny_test_cnn"
TINY_SIZE = 32


class TinyNet(nn.Module):
    """Conv + BatchNorm backbone (so freezing has statistics to keep) and a Dropout head."""

    def __init__(self, num_classes: int, dropout: float | None) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        )
        self.head = nn.Sequential(nn.Dropout(dropout or 0.0), nn.Linear(16, num_classes))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(images))


@pytest.fixture(autouse=True, scope="session")
def tiny_arch():
    models.register_architecture(models.ArchSpec(
        name=TINY_ARCH, display_name="Tiny test CNN", description="A test network.",
        input_size=TINY_SIZE, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5), family="cnn",
        builder=TinyNet, head_path="head",
    ))
    yield TINY_ARCH
    models.unregister_architecture(TINY_ARCH)


def coloured_faces(count: int, num_classes: int, size: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Noise images whose class is which colour channel is bright: easy to separate."""
    generator = torch.Generator().manual_seed(seed)
    labels = torch.arange(count) % num_classes
    labels = labels[torch.randperm(count, generator=generator)]
    images = torch.randint(0, 100, (count, 3, size, size), generator=generator, dtype=torch.int64)
    images[torch.arange(count), labels % 3] += 140
    return images.to(torch.uint8), labels.to(torch.int64)


def make_data(num_train: int = 48, num_val: int = 24, num_classes: int = 3, size: int = TINY_SIZE,
              shift_val_labels: bool = False) -> TrainData:
    train_x, train_y = coloured_faces(num_train, num_classes, size, seed=1)
    val_x, val_y = coloured_faces(num_val, num_classes, size, seed=2)
    if shift_val_labels:
        # Every validation face labelled as the next person: the better the model
        # learns, the higher the validation loss.
        val_y = (val_y + 1) % num_classes
    return TrainData(train_x, train_y, val_x, val_y, tuple(f"person{k}" for k in range(num_classes)))


@pytest.fixture
def data() -> TrainData:
    return make_data()
