"""A model's embedder run over face images: the features its head reads.

Used by the trainer for head-only epochs (see `ArchSpec.embedder_path`): the
features are computed once per face in float32, in eval mode, and kept in an
`EmbeddingCache` when one is given, so a second run on the same faces starts at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

import engine.models as models
from engine.data.augment import to_unit_float
from engine.data.embeddings import EmbeddingCache, image_keys
from engine.models.spec import resolve_module_path
from engine.tasks import TaskContext

def pretrained_embedding_cache(project_root: Path, arch: str, size: int) -> EmbeddingCache | None:
    """The project's cache of ``arch``'s pretrained features at ``size`` px, or None when
    this machine has no weights for it. Keyed by the weights file's name and size, so
    features of other weights are never handed out; training runs and the label-mistake
    finder share it."""
    status = models.weights_status(arch)
    if status.path is None:
        return None
    weights = f"{status.path.name}-{status.path.stat().st_size}"
    return EmbeddingCache.for_backbone(project_root, arch, weights, size)


# Faces embedded per forward pass: large enough to keep a CPU's cores busy, small
# enough that a 150 px batch stays well under a gigabyte of activations.
EMBED_BATCH = 64


@dataclass(frozen=True)
class HeadFeatures:
    """The training and validation faces' features, on the training device."""

    train: torch.Tensor
    val: torch.Tensor


class FaceEmbedder:
    def __init__(self, model: nn.Module, arch: str, mean: torch.Tensor, std: torch.Tensor,
                 device: torch.device, cache: EmbeddingCache | None = None) -> None:
        path = models.get_spec(arch).embedder_path
        if path is None:
            raise ValueError(f"{arch} declares no embedder: its features cannot be cached")
        self.module = resolve_module_path(model, path)
        self.mean, self.std = mean, std
        self.device = device
        self.cache = cache

    def __call__(self, images: torch.Tensor, ctx: TaskContext, what: str) -> torch.Tensor | None:
        """N x D float32 features (on the CPU) of uint8 N x 3 x S x S faces; None if cancelled."""
        vectors, missing = None, list(range(len(images)))
        if self.cache is not None:
            keys = image_keys(images)
            vectors, found = self.cache.lookup(keys)
            missing = [i for i in missing if not found[i]]
        computed = self._compute(images, missing, ctx, what)
        if computed is None:
            return None
        if vectors is None:  # nothing was cached: every row was computed, in order
            features = computed
        else:
            features = torch.from_numpy(vectors)
            if missing:
                features[torch.tensor(missing)] = computed
        if self.cache is not None and missing:
            self.cache.add(keys[missing], computed.numpy())
        return features

    def _compute(self, images: torch.Tensor, rows: list[int], ctx: TaskContext,
                 what: str) -> torch.Tensor | None:
        was_training = self.module.training
        self.module.eval()
        parts = []
        try:
            with torch.inference_mode():
                for start in range(0, len(rows), EMBED_BATCH):
                    if ctx.cancelled:
                        return None
                    ctx.report("embed", start, len(rows), f"face features of the {what} faces")
                    batch = images[torch.tensor(rows[start:start + EMBED_BATCH])]
                    parts.append(self._forward(batch).float().cpu())
        finally:
            self.module.train(was_training)
        if rows:
            ctx.report("embed", len(rows), len(rows), f"face features of the {what} faces")
        return torch.cat(parts) if parts else torch.zeros(0, 0)

    def _forward(self, batch: torch.Tensor) -> torch.Tensor:
        pixels = to_unit_float(batch.to(self.device))
        return self.module((pixels - self.mean) / self.std).flatten(1)
