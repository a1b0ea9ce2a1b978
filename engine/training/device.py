"""Where and how a run computes: device, mixed precision, memory layout, transfers."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import torch

from engine.training.config import TrainConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeviceSetup:
    device: torch.device
    amp_dtype: torch.dtype | None  # None = full float32
    # fp16 needs its loss scaled so small gradients do not round to zero; bf16 does not.
    grad_scaling: bool
    channels_last: bool

    @property
    def pins_memory(self) -> bool:
        return self.device.type == "cuda"


def resolve_device(name: str) -> torch.device:
    """"auto" picks cuda, then mps, then cpu; anything else is taken as written."""
    if name != "auto":
        device = torch.device(name)
        if device.type == "cuda" and not torch.cuda.is_available():
            raise RuntimeError(f"device {name!r} was asked for, but this machine has no usable CUDA GPU.")
        if device.type == "mps" and not torch.backends.mps.is_available():
            raise RuntimeError(f"device {name!r} was asked for, but MPS is not available here.")
        return device
    if torch.cuda.is_available():
        return torch.device("cuda", torch.cuda.current_device())
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def resolve_setup(config: TrainConfig) -> DeviceSetup:
    device = resolve_device(config.device)
    on_cuda = device.type == "cuda"
    use_amp = on_cuda if config.amp == "auto" else config.amp
    amp_dtype = None
    if use_amp:
        if on_cuda:
            amp_dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        elif device.type == "cpu":
            amp_dtype = torch.bfloat16
        else:
            log.warning("Mixed precision is not supported on %s; training in float32.", device)
    use_channels_last = on_cuda if config.channels_last == "auto" else config.channels_last
    return DeviceSetup(device=device, amp_dtype=amp_dtype,
                       grad_scaling=amp_dtype == torch.float16,
                       channels_last=bool(use_channels_last))


def to_device(tensor: torch.Tensor, setup: DeviceSetup) -> torch.Tensor:
    """Copy a CPU batch to the device; from pinned memory the copy overlaps compute."""
    if tensor.device == setup.device:
        return tensor
    if setup.pins_memory and tensor.device.type == "cpu":
        return tensor.pin_memory().to(setup.device, non_blocking=True)
    return tensor.to(setup.device)
