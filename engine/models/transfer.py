"""Transfer-learning helpers: which parameters form the classification head."""

from __future__ import annotations

from torch import nn

from engine.models.spec import get_spec, resolve_module_path, resolved_module_name


def head_module(model: nn.Module, arch: str) -> nn.Module:
    return resolve_module_path(model, get_spec(arch).head_path)


def head_parameters(model: nn.Module, arch: str) -> list[nn.Parameter]:
    """The classification head's parameters (e.g. for a larger learning rate than the backbone's)."""
    return list(head_module(model, arch).parameters())


def set_backbone_frozen(model: nn.Module, arch: str, frozen: bool) -> None:
    """Freeze (or unfreeze) every parameter except the classification head's.

    Only `requires_grad` changes: BatchNorm layers still update their running
    statistics in train mode; call `.eval()` on them as well to freeze those.
    """
    head_prefix = resolved_module_name(model, get_spec(arch).head_path) + "."
    for name, parameter in model.named_parameters():
        parameter.requires_grad = name.startswith(head_prefix) or not frozen
