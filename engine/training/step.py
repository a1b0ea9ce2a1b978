"""One training step on one batch: forward, loss, backward, optimizer update.

`EagerStep` launches the step's kernels one by one, as PyTorch does by default.

`GraphedStep` (CUDA) records the same step once as a CUDA graph and then replays it
for every batch of the same shape. A small batch on a fast GPU is bound by the host
launching a thousand-odd kernels, not by the GPU running them (measured on an H100:
ResNet-50 at batch 32 steps at about 1,100 img/s either in float32 or bfloat16, i.e.
the GPU mostly waits); a replay launches the whole step at once. It follows PyTorch's
"whole network capture" recipe (CUDA semantics notes):
- a few eager warm-up steps on a side stream first, so the optimizer's state exists and
  cuBLAS/cuDNN have set up their workspaces before anything is recorded;
- the capture itself only records: the batch it was made with is then trained by a
  first replay;
- inputs are copied into static tensors, the step's logits and loss are read from
  static outputs (valid until the next step);
- the learning rate is baked into the recorded optimizer kernel, and freezing or
  unfreezing changes which gradients exist, so a change of either (at an epoch
  boundary) records a new graph; a batch of another shape (the last, smaller one of
  an epoch) runs eagerly;
- autocast's weight cache is off (a cache would outlive the recording), in both
  kinds of step, so that they compute the same thing;
- dropout draws from the default CUDA generator, which a graph advances on every
  replay; a graphed run therefore resumes exactly like an uninterrupted graphed run,
  but it matches an eager run only to rounding (cuBLAS/cuDNN may choose other kernels
  inside a graph, and dropout masks come from other generator offsets).
If recording fails (a model doing something a graph cannot hold, such as reading a
value back to the host mid-forward), the run continues eagerly and says so once.
fp16's loss scaling decides on the host whether to skip a step, so runs that need it
are never graphed (engine.training.device.resolve_setup decides).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Protocol

import torch

from engine.training.device import DeviceSetup
from engine.training.run_state import RunState

log = logging.getLogger(__name__)

# Eager steps before the first recording (PyTorch's example uses three).
GRAPH_WARMUP_STEPS = 3


class TrainStep(Protocol):
    def __call__(self, images: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Train on one batch; returns (logits, loss), valid until the next call."""


def autocast(setup: DeviceSetup) -> contextlib.AbstractContextManager:
    """Mixed precision as the run's setup says; a no-op in float32."""
    if setup.amp_dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(setup.device.type, dtype=setup.amp_dtype, cache_enabled=False)


def make_train_step(state: RunState) -> TrainStep:
    return GraphedStep(state) if state.setup.cuda_graphs else EagerStep(state)


class EagerStep:
    def __init__(self, state: RunState) -> None:
        self._state = state

    def __call__(self, images: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        state = self._state
        with autocast(state.setup):
            logits = state.model(images)
            loss = state.loss_fn(logits, labels)
        state.optimizer.zero_grad(set_to_none=True)
        state.scaler.scale(loss).backward()
        state.scaler.step(state.optimizer)
        state.scaler.update()
        # Detached: a caller holding the loss must not keep this step's autograd graph
        # alive into the next step.
        return logits.detach(), loss.detach()


class GraphedStep:
    def __init__(self, state: RunState) -> None:
        self._state = state
        self._eager = EagerStep(state)
        self._warmups_left = GRAPH_WARMUP_STEPS
        self._given_up = False
        self._graph: torch.cuda.CUDAGraph | None = None
        self._key: tuple | None = None
        self._inputs: tuple[torch.Tensor, torch.Tensor] | None = None
        self._outputs: tuple[torch.Tensor, torch.Tensor] | None = None

    @property
    def graphed(self) -> bool:
        """Whether the last step was a replay (tests and benchmarks ask)."""
        return self._graph is not None and not self._given_up

    def __call__(self, images: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self._given_up:
            return self._eager(images, labels)
        key = self._graph_key(images, labels)
        if self._graph is not None and key == self._key:
            static_images, static_labels = self._inputs
            static_images.copy_(images)
            static_labels.copy_(labels)
            self._graph.replay()
            return self._outputs
        if len(labels) != self._state.config.batch_size:
            return self._eager(images, labels)  # an epoch's last, smaller batch
        if self._warmups_left > 0:
            self._warmups_left -= 1
            return self._on_side_stream(images, labels)
        try:
            return self._record(key, images, labels)
        except RuntimeError as error:
            self._release()
            self._given_up = True
            log.warning("Training steps cannot be recorded as a CUDA graph for %s (%s); "
                        "training goes on one kernel at a time.", self._state.config.arch, error)
            torch.cuda.synchronize()
            return self._eager(images, labels)

    def _graph_key(self, images: torch.Tensor, labels: torch.Tensor) -> tuple:
        optimizer = self._state.optimizer
        return (tuple(images.shape), images.stride(), images.dtype, tuple(labels.shape),
                tuple(group["lr"] for group in optimizer.param_groups),
                tuple(p.requires_grad for p in self._state.model.parameters()))

    def _on_side_stream(self, images: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        stream = torch.cuda.Stream(device=images.device)
        stream.wait_stream(torch.cuda.current_stream(images.device))
        with torch.cuda.stream(stream):
            outputs = self._eager(images, labels)
        torch.cuda.current_stream(images.device).wait_stream(stream)
        return outputs

    def _record(self, key: tuple, images: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        state = self._state
        self._release()
        static_images = images.clone(memory_format=torch.preserve_format)  # keeps channels_last
        static_labels = labels.clone()
        # Backward inside the graph must make the gradients, in the graph's own memory.
        state.optimizer.zero_grad(set_to_none=True)
        graph = torch.cuda.CUDAGraph()
        with _capturable(state.optimizer), torch.cuda.graph(graph):
            with autocast(state.setup):
                logits = state.model(static_images)
                loss = state.loss_fn(logits, static_labels)
            loss.backward()
            state.optimizer.step()
        self._graph, self._key = graph, key
        self._inputs = (static_images, static_labels)
        self._outputs = (logits.detach(), loss.detach())
        log.debug("Recorded the %s training step as a CUDA graph", state.config.arch)
        graph.replay()  # recording ran nothing: now train on this batch
        return self._outputs

    def _release(self) -> None:
        if self._graph is not None:
            torch.cuda.current_stream().synchronize()  # never free a graph mid-replay
        self._graph = self._key = self._inputs = self._outputs = None


@contextlib.contextmanager
def _capturable(optimizer: torch.optim.Optimizer) -> Iterator[None]:
    """Let the optimizer be recorded. Adam/AdamW refuse unless `capturable` is set; with
    fused kernels (what the trainer uses on CUDA) the flag changes nothing else, and
    left on it would warn on every eager step."""
    saved = [group.get("capturable") for group in optimizer.param_groups]
    for group in optimizer.param_groups:
        if "capturable" in group:
            group["capturable"] = True
    try:
        yield
    finally:
        for group, value in zip(optimizer.param_groups, saved):
            if value is not None:
                group["capturable"] = value
