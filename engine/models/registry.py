"""The model zoo's front door: look up an architecture and build it.

    model = build_model("resnet50", num_classes=10, pretrained=True)

Pretrained weights come only from local files (see `engine.models.weights`);
a missing file is a WeightsUnavailableError, never a silent switch to random
weights: training from scratch is `pretrained=False`.
"""

from __future__ import annotations

import logging

from torch import nn

from engine.models.zoo import register_builtin_architectures
from engine.models.errors import (
    UnknownArchitectureError,
    UnrecognizedWeightsFileError,
    UnsafeWeightsFileError,
    WeightsChecksumError,
    WeightsError,
    WeightsIncompatibleError,
    WeightsUnavailableError,
)
from engine.models.gradcam import gradcam_reshape_transform, gradcam_target_layers
from engine.models.spec import (
    ArchSpec,
    get_spec,
    list_architectures,
    register_architecture,
    unregister_architecture,
)
from engine.models.transfer import head_module, head_parameters, set_backbone_frozen
from engine.models.weights import (
    WeightsStatus,
    facelab_weights_dir,
    load_backbone_state,
    read_state_dict,
    require_weights_file,
    weight_search_dirs,
    weights_status,
)
from engine.models.weights_import import import_weights

__all__ = [
    "ArchSpec",
    "UnknownArchitectureError",
    "UnrecognizedWeightsFileError",
    "UnsafeWeightsFileError",
    "WeightsChecksumError",
    "WeightsError",
    "WeightsIncompatibleError",
    "WeightsStatus",
    "WeightsUnavailableError",
    "build_model",
    "facelab_weights_dir",
    "get_spec",
    "gradcam_reshape_transform",
    "gradcam_target_layers",
    "head_module",
    "head_parameters",
    "import_weights",
    "list_architectures",
    "register_architecture",
    "set_backbone_frozen",
    "unregister_architecture",
    "weight_search_dirs",
    "weights_status",
]

log = logging.getLogger(__name__)

register_builtin_architectures()


def build_model(name: str, num_classes: int, *, pretrained: bool, dropout: float | None = None) -> nn.Module:
    """A model for `num_classes` classes, in train mode, on the CPU.

    `dropout` is the probability of the Dropout before the final Linear; None
    keeps the architecture's own default (0 where it has none).
    """
    spec = get_spec(name)
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(f"num_classes must be a positive integer, not {num_classes!r}")
    if dropout is not None and not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1), not {dropout!r}")
    if spec.builder is None:
        raise ValueError(f"Architecture {name!r} was registered without a builder")
    # Look for the file before building: a missing file should not cost a model build.
    weights_path = require_weights_file(spec) if pretrained else None
    model = spec.builder(num_classes, dropout)
    if weights_path is not None:
        load_backbone_state(model, spec, read_state_dict(weights_path))
        log.info("Built %s with %s weights from %s", name, spec.pretrained_dataset or "pretrained", weights_path)
    else:
        log.info("Built %s with random weights (training from scratch)", name)
    return model
