"""The training loop: one `Trainer.fit` call trains (or resumes) one run.

Data never leaves tensors: the uint8 faces (already at the model's resolution) are
indexed with a seeded permutation, copied to the device, then turned into floats,
augmented and normalised there. No JPEG decoding per epoch, no worker processes.

Failures: `fit` emits `RunFinished(status="failed", message=...)` and then re-raises
the exception, so the job runner can still show the traceback and mark the job
failed. Cancelling (`ctx.cancel()`, or a callback raising `Cancelled`) is not a
failure: `fit` returns `RunFinished(status="cancelled")` within one batch, and
`last.pt` still holds the last completed epoch for `fit(resume=True)`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch
from torch.nn import functional as F

import engine.models as models
from engine.data.augment import augment_batch, to_unit_float
from engine.data.embeddings import EmbeddingCache
from engine.storage import atomic_write_bytes
from engine.tasks import Cancelled, TaskContext, null_context
from engine.training.callbacks import tensorboard_callback
from engine.training.checkpoint import copy_checkpoint, load_checkpoint, save_checkpoint
from engine.training.config import TrainConfig, model_input_size
from engine.training.device import DeviceSetup, resolve_setup, to_device, training_memory
from engine.training.embedding import FaceEmbedder, HeadFeatures
from engine.training.events import (BatchEnded, CheckpointSaved, EpochEnded, EventCallback,
                                    RunFinished, RunStarted, RunStatus, TrainingEvent)
from engine.training.best_epoch import is_improvement
from engine.training.run_state import (RunState, build_run_state, checkpoint_payload,
                                       restore_run_state)
from engine.training.sampling import epoch_order
from engine.training.step import TrainStep, autocast, make_train_step

log = logging.getLogger(__name__)

# On a GPU the uint8 faces are kept in its memory when they take at most this share
# of what is free (ResNet-50 at batch 32 needs a few GB besides).
GPU_DATA_SHARE = 0.25

BEST_CHECKPOINT = "best.pt"
LAST_CHECKPOINT = "last.pt"
CONFIG_FILE = "config.json"


@dataclass(frozen=True)
class TrainData:
    """The faces of one split as tensors: images N×3×S×S uint8 at the model's size."""

    train_x: torch.Tensor
    train_y: torch.Tensor
    val_x: torch.Tensor
    val_y: torch.Tensor
    class_names: tuple[str, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "class_names", tuple(self.class_names))
        for split, images, labels in (("train", self.train_x, self.train_y),
                                      ("val", self.val_x, self.val_y)):
            if images.dtype != torch.uint8 or images.dim() != 4 or images.shape[1] != 3:
                raise ValueError(f"{split}_x must be a uint8 N×3×H×W tensor, got "
                                 f"{images.dtype} {tuple(images.shape)}")
            if labels.dtype != torch.int64 or labels.shape != (images.shape[0],):
                raise ValueError(f"{split}_y must be int64 with one label per image, got "
                                 f"{labels.dtype} {tuple(labels.shape)}")
            if images.shape[0] == 0:
                raise ValueError(f"The {split} split has no faces; training needs at least one.")
            if labels.min() < 0 or labels.max() >= len(self.class_names):
                raise ValueError(f"{split}_y has labels outside 0..{len(self.class_names) - 1}")
        if self.train_x.shape[1:] != self.val_x.shape[1:]:
            raise ValueError("train and val images must have the same size")

    def check_input_size(self, arch: str, input_size: int) -> None:
        height, width = self.train_x.shape[2:]
        if (height, width) != (input_size, input_size):
            raise ValueError(f"{arch} expects {input_size}×{input_size} images, "
                             f"but the tensor cache holds {height}×{width}.")


class Trainer:
    def __init__(self, config: TrainConfig, data: TrainData, run_dir: Path, run_id: str = "",
                 callbacks: Iterable[EventCallback] = (), ctx: TaskContext | None = None,
                 embedding_cache: EmbeddingCache | None = None) -> None:
        self.config = config
        self.data = data
        self.run_dir = Path(run_dir)
        self.run_id = run_id or self.run_dir.name
        self._callbacks = tuple(callbacks)
        self._ctx = ctx or null_context()
        self._active_callbacks: tuple[EventCallback, ...] = ()
        self._train_step: TrainStep | None = None
        # Where the frozen backbone's features of earlier runs are kept (None: computed
        # for this run only), and this run's features once computed.
        self._embedding_cache = embedding_cache
        self._features: HeadFeatures | None = None

    def fit(self, resume: bool = False) -> RunFinished:
        """Train until done, stopped early or cancelled; `resume` continues `last.pt`."""
        board = tensorboard_callback(self.run_dir / "tensorboard")
        self._active_callbacks = self._callbacks + ((board,) if board else ())
        cudnn_flags = (torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark)
        state = None
        try:
            torch.backends.cudnn.deterministic = self.config.deterministic
            # benchmark picks the fastest convolution per shape, not always the same one.
            torch.backends.cudnn.benchmark = not self.config.deterministic
            state = self._start(resume)
            with training_memory(state.setup):
                finished = self._finished(state, self._run_epochs(state))
        except Cancelled:
            finished = self._finished(state, RunStatus.CANCELLED)
        except Exception as error:
            log.exception("Training run %s failed", self.run_id)
            failed = self._finished(state, RunStatus.FAILED, f"{type(error).__name__}: {error}")
            with contextlib.suppress(Exception):
                self._emit(failed)
            raise
        finally:
            torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = cudnn_flags
        self._emit(finished)
        return finished

    # -- setup ---------------------------------------------------------------

    def _start(self, resume: bool) -> RunState:
        config, data = self.config, self.data
        self.data.check_input_size(config.arch, model_input_size(config))
        setup = resolve_setup(config)
        self.data = data = _faces_on_gpu(data, setup)
        state = build_run_state(config, data.class_names, data.train_y, setup)
        _check_model_takes_input_size(state.model, config, setup.device)
        last = self.run_dir / LAST_CHECKPOINT
        if resume:
            if not last.exists():
                raise FileNotFoundError(f"Cannot resume: {last} does not exist.")
            restore_run_state(state, load_checkpoint(last), str(last))
            log.info("Resuming run %s after epoch %d", self.run_id, state.epoch)
        self._train_step = make_train_step(state)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        # Beside the checkpoints, readable without FaceLab.
        config_json = json.dumps(config.to_dict(), indent=2, sort_keys=True) + "\n"
        atomic_write_bytes(self.run_dir / CONFIG_FILE, config_json.encode("utf-8"))
        self._emit(RunStarted(run_id=self.run_id, config=config.to_dict(),
                              num_train=len(data.train_y), num_val=len(data.val_y),
                              device=str(setup.device), epochs=config.epochs,
                              start_epoch=state.epoch))
        return state

    # -- epochs --------------------------------------------------------------

    def _run_epochs(self, state: RunState) -> RunStatus:
        while state.epoch < self.config.epochs:
            if state.stopping.should_stop:
                return RunStatus.EARLY_STOPPED
            started = time.perf_counter()
            lr = self._begin_epoch(state)
            train = self._train_epoch(state, lr)
            val = self._validate(state) if train is not None else None
            if train is None or val is None:
                return RunStatus.CANCELLED
            (train_loss, train_acc, images_per_sec), (val_loss, val_acc) = train, val
            state.epoch += 1
            improved = is_improvement(val_loss, state.best["val_loss"])
            if improved:
                state.best = {"epoch": state.epoch, "val_loss": val_loss, "val_acc": val_acc}
            state.stopping.observe_val_loss(val_loss)
            state.schedule.observe_val_loss(val_loss)
            ended = EpochEnded(epoch=state.epoch, train_loss=train_loss, train_acc=train_acc,
                               val_loss=val_loss, val_acc=val_acc, lr=lr,
                               seconds=time.perf_counter() - started, images_per_sec=images_per_sec)
            state.history.append(asdict(ended))
            # Captured before any callback runs, so the saved generators are the
            # epoch's own, whatever a callback does.
            payload = checkpoint_payload(state)
            self._emit(ended)
            self._save_checkpoints(state, payload, improved)
        return RunStatus.COMPLETED

    def _begin_epoch(self, state: RunState) -> float:
        frozen = state.epoch < self.config.freeze_epochs
        if frozen != state.frozen:
            models.set_backbone_frozen(state.model, self.config.arch, frozen)
            state.frozen = frozen
            log.info("Epoch %d: backbone %s", state.epoch + 1, "frozen" if frozen else "unfrozen")
        lr = state.schedule.lr_for_epoch(state.epoch)
        for group in state.optimizer.param_groups:
            group["lr"] = lr
        return lr

    def _train_epoch(self, state: RunState, lr: float) -> tuple[float, float, float] | None:
        """(loss, accuracy, images/s) of one pass over the training faces; None if cancelled."""
        if self._trains_head_only(state):
            return self._train_head_epoch(state, lr)
        config, data, model = self.config, self.data, state.model
        model.train()
        if state.frozen:
            _freeze_backbone_norms(model, config.arch)
        order = epoch_order(data.train_y, state.data_generator, state.sampler_weights)
        num_batches = _count_batches(len(order), config.batch_size, config.limit_train_batches,
                                     drop_single=True)
        totals = {"loss": 0.0, "correct": 0, "seen": 0, "busy": 0.0}
        # On a GPU a batch's loss is read back while the next batch already runs, so the
        # GPU never waits for the host (reading it at once would stall the queue every
        # batch); on the CPU the work is done when the step returns.
        pending: _PendingBatch | None = None
        for batch in range(num_batches):
            if self._ctx.cancelled:
                return None
            started = time.perf_counter()
            indices = order[batch * config.batch_size:(batch + 1) * config.batch_size]
            indices = indices.to(data.train_x.device)
            images, labels = self._to_model_input(state, data.train_x[indices],
                                                  data.train_y[indices], augment=True)
            logits, loss = self._train_step(images, labels)
            finished = _PendingBatch(batch + 1, len(labels), loss, logits, labels, started)
            if pending is not None:
                self._end_batch(state, pending, num_batches, lr, totals)
            pending = finished
            if state.setup.device.type != "cuda":
                self._end_batch(state, pending, num_batches, lr, totals)
                pending = None
        if pending is not None:
            self._end_batch(state, pending, num_batches, lr, totals)
        seen = totals["seen"]
        return totals["loss"] / seen, totals["correct"] / seen, seen / max(totals["busy"], 1e-9)

    def _end_batch(self, state: RunState, batch: _PendingBatch, num_batches: int, lr: float,
                   totals: dict) -> None:
        batch_loss, batch_correct = batch.values()
        if not math.isfinite(batch_loss):
            raise FloatingPointError(
                f"The loss became {batch_loss} in epoch {state.epoch + 1}, batch {batch.number}: "
                f"training diverged. Try a lower learning rate.")
        now = time.perf_counter()
        # From the end of the previous batch (its callbacks excluded) to this one's end.
        seconds = now - max(totals.get("mark", batch.started), batch.started)
        totals["loss"] += batch_loss * batch.count
        totals["correct"] += int(batch_correct)
        totals["seen"] += batch.count
        totals["busy"] += seconds
        self._emit(BatchEnded(epoch=state.epoch + 1, batch=batch.number, num_batches=num_batches,
                              loss=batch_loss, images_per_sec=batch.count / max(seconds, 1e-9), lr=lr))
        self._ctx.report("train", state.epoch * num_batches + batch.number,
                         self.config.epochs * num_batches, f"epoch {state.epoch + 1}/{self.config.epochs}")
        totals["mark"] = time.perf_counter()

    def _validate(self, state: RunState) -> tuple[float, float] | None:
        """(loss, accuracy) on the validation faces, un-augmented; None if cancelled.

        The loss is plain cross-entropy (no class weights, no label smoothing) so
        that runs with different settings are compared on the same measure.
        """
        if self._trains_head_only(state):
            return self._validate_head(state)
        config, data, model = self.config, self.data, state.model
        model.eval()
        size = config.batch_size
        num_batches = _count_batches(len(data.val_y), size, config.limit_val_batches, drop_single=False)
        loss_sum = torch.zeros((), device=state.setup.device)
        correct = torch.zeros((), device=state.setup.device, dtype=torch.int64)
        seen = 0
        with torch.inference_mode():
            for batch in range(num_batches):
                if self._ctx.cancelled:
                    return None
                rows = slice(batch * size, (batch + 1) * size)
                images, labels = self._to_model_input(state, data.val_x[rows], data.val_y[rows],
                                                      augment=False)
                with autocast(state.setup):
                    logits = model(images)
                loss_sum += F.cross_entropy(logits.float(), labels, reduction="sum")
                correct += (logits.argmax(dim=1) == labels).sum()
                seen += len(labels)
        return loss_sum.item() / seen, correct.item() / seen

    def _to_model_input(self, state: RunState, images: torch.Tensor, labels: torch.Tensor,
                        augment: bool) -> tuple[torch.Tensor, torch.Tensor]:
        # `images` is uint8 (TrainData checks it), so this makes a new float tensor that
        # the steps below may change in place: no extra batch-sized copies.
        images = to_unit_float(to_device(images, state.setup))
        labels = to_device(labels, state.setup)
        if augment and (state.preset.changes_geometry or state.preset.changes_colour):
            images = augment_batch(images, state.preset, state.augment_generator)
        # In place, but the same arithmetic as (images - mean) / std, bit for bit.
        images = images.sub_(state.mean).div_(state.std)
        if state.setup.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        return images, labels

    # -- head-only epochs on cached features ----------------------------------

    def _trains_head_only(self, state: RunState) -> bool:
        """True in epochs where only the head learns from features that cannot change:
        the backbone is frozen and the faces are shown as they are (no augmentation)."""
        return (state.frozen and models.get_spec(self.config.arch).embedder_path is not None
                and not (state.preset.changes_geometry or state.preset.changes_colour))

    def _head_features(self, state: RunState) -> HeadFeatures | None:
        if self._features is None:
            embed = FaceEmbedder(state.model, self.config.arch, state.mean, state.std,
                                 state.setup.device, self._embedding_cache)
            train = embed(self.data.train_x, self._ctx, "training")
            val = embed(self.data.val_x, self._ctx, "validation") if train is not None else None
            if train is None or val is None:
                return None
            device = state.setup.device
            self._features = HeadFeatures(train.to(device), val.to(device))
        return self._features

    def _train_head_epoch(self, state: RunState, lr: float) -> tuple[float, float, float] | None:
        """As `_train_epoch`, with the head alone on each face's cached features: the same
        batches, order, loss and optimizer, so the run's history reads the same way."""
        features = self._head_features(state)
        if features is None:
            return None
        config, data = self.config, self.data
        head = models.head_module(state.model, config.arch)
        head.train()
        order = epoch_order(data.train_y, state.data_generator, state.sampler_weights)
        num_batches = _count_batches(len(order), config.batch_size, config.limit_train_batches,
                                     drop_single=True)
        labels_all = data.train_y.to(state.setup.device)
        totals = {"loss": 0.0, "correct": 0, "seen": 0, "busy": 0.0}
        for batch in range(num_batches):
            if self._ctx.cancelled:
                return None
            started = time.perf_counter()
            indices = order[batch * config.batch_size:(batch + 1) * config.batch_size]
            indices = indices.to(features.train.device)
            labels = labels_all[indices]
            logits = head(features.train[indices])
            loss = state.loss_fn(logits, labels)
            state.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            state.optimizer.step()
            self._end_batch(state, _PendingBatch(batch + 1, len(labels), loss.detach(),
                                                 logits.detach(), labels, started),
                            num_batches, lr, totals)
        seen = totals["seen"]
        return totals["loss"] / seen, totals["correct"] / seen, seen / max(totals["busy"], 1e-9)

    def _validate_head(self, state: RunState) -> tuple[float, float] | None:
        features = self._head_features(state)
        if features is None:
            return None
        head = models.head_module(state.model, self.config.arch)
        head.eval()
        labels = self.data.val_y.to(state.setup.device)
        count = len(labels)
        if self.config.limit_val_batches is not None:
            count = min(count, self.config.limit_val_batches * self.config.batch_size)
        with torch.inference_mode():
            logits = head(features.val[:count])
            loss = F.cross_entropy(logits.float(), labels[:count], reduction="sum")
            correct = (logits.argmax(dim=1) == labels[:count]).sum()
        return loss.item() / count, correct.item() / count

    # -- results -------------------------------------------------------------

    def _save_checkpoints(self, state: RunState, payload: dict, improved: bool) -> None:
        last = save_checkpoint(self.run_dir / LAST_CHECKPOINT, payload)
        self._emit(CheckpointSaved(epoch=state.epoch, path=str(last), kind="last"))
        if improved:
            best = copy_checkpoint(last, self.run_dir / BEST_CHECKPOINT)
            self._emit(CheckpointSaved(epoch=state.epoch, path=str(best), kind="best"))

    def _finished(self, state: RunState | None, status: RunStatus, message: str = "") -> RunFinished:
        epochs_done = state.epoch if state else 0
        best = state.best if state else {"epoch": None, "val_loss": None, "val_acc": None}
        if not message:
            message = {
                RunStatus.COMPLETED: f"Trained {epochs_done} epochs.",
                RunStatus.EARLY_STOPPED: f"Stopped early after epoch {epochs_done}: validation loss "
                                 f"stopped improving (best at epoch {best['epoch']}).",
                RunStatus.CANCELLED: (f"Cancelled; {LAST_CHECKPOINT} holds epoch {epochs_done}." if epochs_done
                              else "Cancelled before the first epoch ended; nothing was saved."),
            }.get(status, "")
        log.info("Run %s %s: %s", self.run_id, status, message)
        return RunFinished(status=status, epochs_done=epochs_done, best_epoch=best["epoch"],
                           best_val_loss=best["val_loss"], best_val_acc=best["val_acc"],
                           message=message)

    def _emit(self, event: TrainingEvent) -> None:
        for callback in self._active_callbacks:
            callback(event)


def _faces_on_gpu(data: TrainData, setup: DeviceSetup) -> TrainData:
    """The faces in GPU memory when they fit easily: each batch is then gathered there,
    with no host-side indexing, pinning or transfer per batch (a graphed ResNet-50 step
    takes 10 ms on an H100, about what that host work takes)."""
    if setup.device.type != "cuda":
        return data
    needed = sum(t.numel() * t.element_size() for t in (data.train_x, data.val_x))
    free, _total = torch.cuda.mem_get_info(setup.device)
    if needed > GPU_DATA_SHARE * free:
        log.info("The faces (%.1f GB) stay in host memory: the GPU has %.1f GB free.",
                 needed / 1e9, free / 1e9)
        return data
    return replace(data, train_x=data.train_x.to(setup.device), train_y=data.train_y.to(setup.device),
                   val_x=data.val_x.to(setup.device), val_y=data.val_y.to(setup.device))


def _count_batches(count: int, batch_size: int, limit: int | None, drop_single: bool) -> int:
    full, rest = divmod(count, batch_size)
    # A last training batch of one face is dropped (it is reshuffled into the next
    # epoch): BatchNorm cannot compute statistics over a single image.
    keep_rest = rest > 1 or (rest == 1 and not (drop_single and full > 0))
    batches = full + int(keep_rest)
    return batches if limit is None else min(batches, limit)


def _check_model_takes_input_size(model: torch.nn.Module, config: TrainConfig,
                                  device: torch.device) -> None:
    """Fail before the first epoch, with a sentence, when `input_size` does not fit.

    Only networks that pool adaptively take another resolution than their own; the
    lab's CNNs (a Linear sized for 224 px) and ViT (fixed patch grid) do not, and
    would otherwise fail mid-batch with a bare shape error.
    """
    native = models.get_spec(config.arch).input_size
    if config.input_size is None or config.input_size == native:
        return
    size = config.input_size
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(torch.zeros(1, 3, size, size, device=device))
    except (RuntimeError, AssertionError, ValueError) as error:
        raise ValueError(f"{config.arch} cannot take {size}x{size} faces, only its own "
                         f"{native}x{native}: leave input_size unset ({error})") from error
    finally:
        model.train(was_training)


class _PendingBatch:
    """A trained batch whose loss and accuracy may still be on their way from the GPU."""

    def __init__(self, number: int, count: int, loss: torch.Tensor, logits: torch.Tensor,
                 labels: torch.Tensor, started: float) -> None:
        self.number, self.count, self.started = number, count, started
        # Computed now (the step's outputs are overwritten by the next step), read later:
        # one device->host copy for both numbers.
        stats = torch.stack([loss.detach().float(), (logits.argmax(dim=1) == labels).sum().float()])
        if stats.is_cuda:
            self._host = torch.empty(2, pin_memory=True)
            self._host.copy_(stats, non_blocking=True)
            self._ready = torch.cuda.Event()
            self._ready.record()
        else:
            self._host, self._ready = stats, None

    def values(self) -> tuple[float, float]:
        """(loss, correct faces); waits for this batch only, not for later ones."""
        if self._ready is not None:
            self._ready.synchronize()
        loss, correct = self._host.tolist()
        return loss, correct


def _freeze_backbone_norms(model: torch.nn.Module, arch: str) -> None:
    """Keep a frozen backbone's BatchNorm statistics as pretrained: `requires_grad`
    alone does not stop train mode from updating running means on the new faces."""
    head = {id(parameter) for parameter in models.head_parameters(model, arch)}
    for module in model.modules():
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            if not any(id(parameter) in head for parameter in module.parameters()):
                module.eval()
