from __future__ import annotations

import math

import pytest
import torch

from engine.training.config import TrainConfig
from engine.training.sampling import epoch_order, inverse_frequency_weights
from engine.training.schedule import EarlyStopping, LrSchedule


def test_inverse_frequency_weights():
    labels = torch.tensor([0] * 6 + [1] * 2)  # 8 faces; class 2 has none
    weights = inverse_frequency_weights(labels, 3)
    # n / (classes present x count): 8 / (2 x 6) and 8 / (2 x 2).
    assert torch.allclose(weights, torch.tensor([2 / 3, 2.0, 0.0]))
    assert weights[labels].mean().item() == pytest.approx(1.0)


def test_epoch_order_is_a_seeded_permutation_without_weights():
    labels = torch.arange(20) % 4
    order = epoch_order(labels, torch.Generator().manual_seed(0))
    assert sorted(order.tolist()) == list(range(20))
    assert torch.equal(order, epoch_order(labels, torch.Generator().manual_seed(0)))


def test_weighted_sampler_sees_persons_about_equally():
    labels = torch.tensor([0] * 90 + [1] * 10)
    weights = inverse_frequency_weights(labels, 2)
    drawn = torch.cat([epoch_order(labels, torch.Generator().manual_seed(s), weights) for s in range(20)])
    share_of_rare = (labels[drawn] == 1).float().mean().item()
    assert 0.4 < share_of_rare < 0.6


def lrs(**changes) -> list[float]:
    config = TrainConfig(arch="x", epochs=6, lr=1.0, **changes)
    return [LrSchedule(config).lr_for_epoch(epoch) for epoch in range(6)]


def test_lr_shapes():
    assert lrs() == [1.0] * 6
    assert lrs(scheduler="step") == pytest.approx([1, 1, 0.1, 0.1, 0.01, 0.01])
    cosine = lrs(scheduler="cosine")
    assert cosine[0] == 1.0 and all(a > b for a, b in zip(cosine, cosine[1:]))
    assert cosine[3] == pytest.approx(0.5 * (1 + math.cos(math.pi / 2)))
    assert lrs(freeze_epochs=2, finetune_lr_factor=0.1) == pytest.approx([1, 1, 0.1, 0.1, 0.1, 0.1])


def test_plateau_cuts_the_rate_after_two_epochs_without_a_new_low():
    schedule = LrSchedule(TrainConfig(arch="x", lr=1.0, scheduler="plateau"))
    for loss in (1.0, 0.9, 0.95, 0.92):
        schedule.observe_val_loss(loss)
    assert schedule.lr_for_epoch(4) == pytest.approx(0.1)
    restored = LrSchedule(TrainConfig(arch="x", lr=1.0, scheduler="plateau"))
    restored.load_state_dict(schedule.state_dict())
    assert restored.lr_for_epoch(4) == pytest.approx(0.1)


def test_early_stopping_counts_epochs_without_enough_improvement():
    stopping = EarlyStopping(patience=2, min_delta=0.05)
    for loss in (1.0, 0.9, 0.88):  # 0.88 is not 0.05 better than 0.9
        stopping.observe_val_loss(loss)
    assert not stopping.should_stop
    stopping.observe_val_loss(0.87)
    assert stopping.should_stop
    assert not EarlyStopping(None, 0.0).should_stop
