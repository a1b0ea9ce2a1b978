"""The order in which one epoch visits the training faces, and class balancing."""

from __future__ import annotations

import torch


def inverse_frequency_weights(labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """One weight per class, n / (classes present x count): rare persons weigh more.

    The weights average to 1 over the training samples, so weighting the loss keeps
    its scale (sklearn's "balanced"). A class with no training sample gets 0.
    """
    counts = torch.bincount(labels.cpu(), minlength=num_classes).double()
    present = int((counts > 0).sum())
    weights = torch.zeros(num_classes, dtype=torch.float64)
    if present:
        weights[counts > 0] = labels.numel() / (present * counts[counts > 0])
    return weights.float()


def epoch_order(labels: torch.Tensor, generator: torch.Generator,
                class_weights: torch.Tensor | None = None) -> torch.Tensor:
    """Indices of the training samples for one epoch.

    Without class weights: a shuffled permutation (each face once). With them: as
    many draws with replacement, each face picked with its class's weight, so every
    person is seen about equally often (a weighted sampler).
    """
    count = labels.numel()
    if class_weights is None:
        return torch.randperm(count, generator=generator, device=generator.device)
    sample_weights = class_weights.to(generator.device)[labels.to(generator.device)]
    return torch.multinomial(sample_weights, count, replacement=True, generator=generator)
