"""Where and how a run computes: device, mixed precision, memory layout, transfers,
and how the host's memory allocator behaves while a CPU run trains."""

from __future__ import annotations

import contextlib
import ctypes
import functools
import logging
import os
import sys
import threading
from collections.abc import Iterator
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
    cuda_graphs: bool = False  # training steps replayed as CUDA graphs (engine/training/step.py)

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
    # channels_last (NHWC) lets cuDNN use tensor-core kernels, and oneDNN its blocked CPU
    # kernels: a CustomCNN1 step on a CPU takes 10-30% less CPU time in it, and none of
    # the zoo's CNNs measured slower (ViT, nearly conv-free, within noise either way).
    on_onednn_cpu = device.type == "cpu" and torch.backends.mkldnn.is_available()
    use_channels_last = ((on_cuda or on_onednn_cpu) if config.channels_last == "auto"
                         else config.channels_last)
    grad_scaling = amp_dtype == torch.float16
    # A small batch on a fast GPU is bound by launching kernels, not by running them
    # (ResNet-50 at batch 32 on an H100: about 1,100 img/s launched one by one);
    # a graph launches the whole step at once. fp16's loss scaling decides on the
    # host whether to skip a step, which a graph cannot replay, so it stays eager.
    use_graphs = on_cuda and not grad_scaling and config.cuda_graphs is not False
    if config.cuda_graphs is True and not use_graphs:
        log.info("CUDA graphs were asked for but need a CUDA device without fp16 loss "
                 "scaling; training steps run one kernel at a time.")
    return DeviceSetup(device=device, amp_dtype=amp_dtype, grad_scaling=grad_scaling,
                       channels_last=bool(use_channels_last), cuda_graphs=use_graphs)


def to_device(tensor: torch.Tensor, setup: DeviceSetup) -> torch.Tensor:
    """Copy a CPU batch to the device; from pinned memory the copy overlaps compute."""
    if tensor.device == setup.device:
        return tensor
    if setup.pins_memory and tensor.device.type == "cpu":
        return tensor.pin_memory().to(setup.device, non_blocking=True)
    return tensor.to(setup.device)


# -- host memory while a CPU run trains ------------------------------------------

# glibc mallopt() parameters, and glibc's defaults for them (malloc/malloc.c).
_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4
_DEFAULT_TRIM_THRESHOLD = 128 * 1024
_DEFAULT_MMAP_MAX = 65536
_INT_MAX = 2**31 - 1
# Set by a user who tuned malloc (or replaced it) themselves: then it is left alone.
_USER_MALLOC_SETTINGS = ("MALLOC_MMAP_MAX_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_",
                         "MALLOC_TOP_PAD_")

_memory_lock = threading.Lock()
_memory_users = 0


@functools.lru_cache(maxsize=1)
def _glibc() -> ctypes.CDLL | None:
    """The process's glibc, when malloc is glibc's and nobody tuned or replaced it."""
    if not sys.platform.startswith("linux"):
        return None
    if any(name in os.environ for name in _USER_MALLOC_SETTINGS):
        return None
    if any("malloc" in os.environ.get(name, "") for name in ("GLIBC_TUNABLES", "LD_PRELOAD")):
        return None  # tuned, or e.g. jemalloc/tcmalloc preloaded: glibc's malloc is not in use
    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version  # only glibc has it  # noqa: B018
        libc.mallopt.argtypes, libc.mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
        libc.malloc_trim.argtypes, libc.malloc_trim.restype = [ctypes.c_size_t], ctypes.c_int
    except (OSError, AttributeError):
        return None
    return libc


def reuses_host_memory(setup: DeviceSetup) -> bool:
    """Whether `training_memory` changes anything for a run on this setup."""
    return setup.device.type == "cpu" and _glibc() is not None


@contextlib.contextmanager
def training_memory(setup: DeviceSetup) -> Iterator[None]:
    """While a CPU run trains, keep freed memory in the process for the next step.

    A CPU training step allocates and frees large tensors (CustomCNN1 at batch 32:
    about 100 MB per activation and per gradient). glibc serves every block above its
    mmap threshold (never more than 32 MB) with a fresh mmap and unmaps it on free, so
    each step page-faults all of them in again and the kernel zeroes them: measured on
    a 2-core machine, about 300,000 page faults a step and 40% of its CPU time. Here
    big blocks come from the heap and freed memory stays with the process (what
    jemalloc or tcmalloc do, as PyTorch's CPU performance guide recommends); on
    leaving, glibc's default limits come back and the memory kept is returned to the
    system (malloc_trim).

    In the main thread (the CLI, the benchmark) nearly all those page faults go. In a
    worker thread (the app's training jobs) about half go: glibc still maps blocks
    over 64 MB itself there, its per-thread heaps being no bigger.

    Process-wide and counted, so overlapping runs share it. Nothing happens off
    Linux/glibc, where malloc was tuned or replaced (MALLOC_*_ variables,
    GLIBC_TUNABLES, LD_PRELOAD), or for GPU runs, whose big tensors are not in host
    memory.
    """
    global _memory_users
    if not reuses_host_memory(setup):
        yield
        return
    libc = _glibc()
    with _memory_lock:
        _memory_users += 1
        if _memory_users == 1:
            libc.mallopt(_M_MMAP_MAX, 0)
            libc.mallopt(_M_TRIM_THRESHOLD, _INT_MAX)
    try:
        yield
    finally:
        with _memory_lock:
            _memory_users -= 1
            if _memory_users == 0:
                libc.mallopt(_M_MMAP_MAX, _DEFAULT_MMAP_MAX)
                libc.mallopt(_M_TRIM_THRESHOLD, _DEFAULT_TRIM_THRESHOLD)
                libc.malloc_trim(0)
