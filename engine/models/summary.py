"""Layer-by-layer summaries of a model, for students to see what they are training."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import torch
from torch import nn

from engine.models.spec import get_spec
from engine.models.weights import weights_status

log = logging.getLogger(__name__)

DESCRIBE_NUM_CLASSES = 10  # the lab's ten Prime Ministers


@dataclass(frozen=True)
class LayerRow:
    name: str
    type_name: str
    output_shape: tuple[int, ...]  # for one image: the batch dimension is left out
    params: int


@dataclass(frozen=True)
class ModelSummary:
    rows: tuple[LayerRow, ...]
    total_params: int
    trainable_params: int


def _is_leafish(module: nn.Module) -> bool:
    # Leaves, plus containers that own parameters directly (ViT's class token,
    # MultiheadAttention's in_proj): otherwise those parameters would be in no row.
    has_children = next(module.children(), None) is not None
    owns_parameters = next(module.parameters(recurse=False), None) is not None
    return not has_children or owns_parameters


def _first_tensor(output: object) -> torch.Tensor | None:
    if isinstance(output, torch.Tensor):
        return output
    if isinstance(output, (tuple, list)):
        for item in output:
            if isinstance(item, torch.Tensor):
                return item
    return None


def _unique_parameter_count(model: nn.Module, trainable_only: bool = False) -> int:
    # model.parameters() already yields a shared (tied) parameter only once.
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def summarize(model: nn.Module, input_size: int | tuple[int, int]) -> ModelSummary:
    """Run one blank image through `model` (eval mode, no gradients) and record each layer.

    Rows come in execution order; a module run twice is listed once, and each
    parameter is counted in the first row that uses it.
    """
    height, width = (input_size, input_size) if isinstance(input_size, int) else input_size
    first_parameter = next(model.parameters(), None)
    device = first_parameter.device if first_parameter is not None else torch.device("cpu")
    names = {module: name for name, module in model.named_modules()}
    rows: list[LayerRow] = []
    seen_modules: set[int] = set()
    counted_parameters: set[int] = set()

    def record(module: nn.Module, _inputs: object, output: object) -> None:
        if id(module) in seen_modules:
            return
        seen_modules.add(id(module))
        new_parameters = [p for p in module.parameters() if id(p) not in counted_parameters]
        counted_parameters.update(id(p) for p in new_parameters)
        tensor = _first_tensor(output)
        shape = tuple(tensor.shape[1:]) if tensor is not None else ()
        rows.append(
            LayerRow(
                name=names[module] or type(module).__name__,
                type_name=type(module).__name__,
                output_shape=shape,
                params=sum(p.numel() for p in new_parameters),
            )
        )

    # Restore each module's own mode afterwards: some may be in eval on purpose (frozen BatchNorm).
    training_modes = {module: module.training for module in model.modules()}
    handles = [module.register_forward_hook(record) for module in model.modules() if _is_leafish(module)]
    try:
        model.eval()
        with torch.no_grad():
            model(torch.zeros(1, 3, height, width, device=device))
    finally:
        for handle in handles:
            handle.remove()
        for module, was_training in training_modes.items():
            module.training = was_training
    return ModelSummary(
        rows=tuple(rows),
        total_params=_unique_parameter_count(model),
        trainable_params=_unique_parameter_count(model, trainable_only=True),
    )


def _format_shape(shape: tuple[int, ...]) -> str:
    return " x ".join(str(size) for size in shape) if shape else "-"


def format_summary(summary: ModelSummary) -> str:
    """A plain-text table: one line per layer, then the parameter totals."""
    header = ("Layer", "Type", "Output shape", "Parameters")
    body = [(row.name, row.type_name, _format_shape(row.output_shape), f"{row.params:,}") for row in summary.rows]
    widths = [max(len(line[column]) for line in [header, *body]) for column in range(len(header))]

    def line(cells: tuple[str, ...]) -> str:
        left = [cell.ljust(width) for cell, width in zip(cells[:3], widths[:3])]
        return "  ".join([*left, cells[3].rjust(widths[3])]).rstrip()

    rule = "-" * len(line(header))
    frozen = summary.total_params - summary.trainable_params
    return "\n".join(
        [
            line(header),
            rule,
            *(line(cells) for cells in body),
            rule,
            f"Total parameters:     {summary.total_params:,}",
            f"Trainable parameters: {summary.trainable_params:,}",
            f"Frozen parameters:    {frozen:,}",
        ]
    )


def parameter_count(name: str, num_classes: int = DESCRIBE_NUM_CLASSES) -> int | None:
    """Parameters of the architecture with a `num_classes` head; None without a builder."""
    spec = get_spec(name)
    if spec.builder is None:
        return None
    # On the meta device parameters have shapes but no memory, so counting
    # ViT's 86M parameters costs no RAM and little time.
    try:
        with torch.device("meta"):
            model = spec.builder(num_classes, None)
    except Exception:  # a builder that cannot run on meta tensors: build it for real
        log.debug("Building %s on the meta device failed; counting on the CPU", name, exc_info=True)
        model = spec.builder(num_classes, None)
    return _unique_parameter_count(model)


def describe_architecture(name: str, num_classes: int = DESCRIBE_NUM_CLASSES) -> str:
    """A few sentences about an architecture: what it is, its input, its weights, its size."""
    spec = get_spec(name)
    count = parameter_count(name, num_classes)
    mean = ", ".join(f"{value:.3f}" for value in spec.mean)
    std = ", ".join(f"{value:.3f}" for value in spec.std)
    lines = [
        f"{spec.display_name} ({spec.name}, {spec.family})",
        spec.description,
        f"Input: {spec.input_size}x{spec.input_size} RGB, normalised with mean ({mean}) and std ({std}).",
        f"Weights: {weights_status(name).message}",
    ]
    if count is not None:
        lines.append(f"Parameters: {count:,} (with a {num_classes}-class head).")
    return "\n".join(lines)
