"""`--arch auto`: the best training configuration this machine can run, offline.

1. Pretrained weights on disk win: a face network (dlib's face ResNet, then FaceNet,
   both learned on millions of faces) before any ImageNet CNN. A face network stays
   frozen: each face's features are computed once and a classifier head is trained
   on them in seconds (`--freeze-epochs N` below `--epochs` fine-tunes the whole
   network after N epochs). An ImageNet CNN trains the new head with the backbone
   frozen, then fine-tunes everything at a tenth of the learning rate.
2. Without weights (they are never downloaded), a ResNet-18 from scratch on the
   face crops at a reduced resolution: on a CPU every halving of the side makes an
   epoch about 4x cheaper, and faces stay recognisable at 64 px. It is trained with
   augmentation, label smoothing, AdamW and a cosine schedule, for as many epochs
   as fit a time budget, measured on this device with a few real training steps.

Measured on this project's 2-core machine (bench/accuracy.py, lfw20, 62 persons):
see the module's constants for the choices those measurements led to.

Options the user gives explicitly (`--epochs 30`, `--lr 1e-3`, `--scratch`...) win
over the automatic choice: `auto_config` takes them as the settings typed, whatever
their values (`engine.cli_training.given_train_settings`).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Mapping
from typing import Any

import torch

from engine.data.splits import DEFAULT_SPLIT, ensure_split
from engine.models import build_model, get_spec, list_architectures, weights_status
from engine.models.errors import WeightsUnavailableError
from engine.project import Project
from engine.training.config import TrainConfig
from engine.training.device import resolve_device

log = logging.getLogger(__name__)

# What `--arch auto` is called wherever an architecture name goes.
AUTO_ARCH = "auto"
# Face-specific weights first; then ImageNet CNNs, cheapest first on a CPU.
FACE_WEIGHTS = ("faceresnet", "facenet")
IMAGENET_BY_DEVICE = {
    "cpu": ("resnet18", "efficientnet_b0", "mobilenet_v3_large", "resnet50", "densenet121",
            "resnet101", "vit_b_16"),
    "gpu": ("resnet50", "efficientnet_b0", "resnet18", "densenet121", "resnet101", "vit_b_16",
            "mobilenet_v3_large"),
}
SCRATCH_ARCH = "resnet18"
SCRATCH_INPUT_SIZE = {"cpu": 96, "gpu": 128}
# Wall-clock training budget the epochs are fitted to, and the bounds around it.
TIME_BUDGET_S = {"cpu": 10 * 60, "gpu": 10 * 60}
EPOCH_RANGE = {"scratch": (8, 60), "transfer": (6, 25)}
TRANSFER_FREEZE_EPOCHS = 3
# A head trained on a frozen face network's cached features: epochs take milliseconds,
# so a fixed count (no timing, the same on every machine) with early stopping.
# Measured on bench/accuracy.py's lfw20 split (62 persons): dlib's descriptors are short
# (norm about 1.4), so at lr 1e-2 the head was still far from its best after 40 epochs
# (5celeb: validation loss 0.71, most faces below the 'unknown' threshold). At 0.1, on
# aligned faces, validation accuracy is 100% by epoch 5 (test 99.7%) and the loss still
# falls slowly to epoch 50; on crops it peaks near epoch 25 and 0.3 or more jumps about.
INSTANT_EPOCHS = 50
INSTANT_PATIENCE = 10
INSTANT_LR = 0.1
# The instant settings that hold whatever the number of epochs.
INSTANT_FIXED = ("pretrained", "lr", "optimizer", "weight_decay", "scheduler", "label_smoothing",
                 "augment", "batch_size")
# Fine-tuning a face network after its head (`--freeze-epochs` below `--epochs`): the
# backbone's learning rate. dlib's network under AdamW blew up at 1e-3 (train loss in
# the tens of thousands); at 1e-4 the loss still jumped fourfold in the first steps on
# 5celeb (Adam's first steps move every weight by about the lr); 1e-5 stays smooth. The
# factor is chosen to land here whatever the head's learning rate.
FINETUNE_BACKBONE_LR = 1e-5
# bfloat16 must save at least this share of the time to be worth its rounding.
BF16_MIN_SPEEDUP_RATIO = 0.8


def architecture_config(arch: str, chosen: Mapping[str, Any]) -> TrainConfig:
    """TrainConfig for ``arch`` with the settings a person chose, and the architecture's
    own for the rest: TrainConfig's defaults, except for a pretrained face network, whose
    own are the instant way (frozen, a head on its cached features, `_instant_settings`),
    with its backbone fine-tuned at FINETUNE_BACKBONE_LR when `freeze_epochs` is below
    `epochs`. Trained whole at an ordinary learning rate from the first epoch, dlib's
    network is destroyed (train loss above 50,000 in one epoch, then chance)."""
    spec = get_spec(arch)
    settings = dict(chosen)
    settings.setdefault("pretrained", spec.has_pretrained_weights)
    if settings["pretrained"] and spec.embedder_path is not None:
        instant, _why = _instant_settings(arch)
        for name in (*INSTANT_FIXED, "epochs", "early_stopping_patience"):
            settings.setdefault(name, instant[name])
        settings.setdefault("freeze_epochs", settings["epochs"])
        settings.setdefault("finetune_lr_factor", FINETUNE_BACKBONE_LR / settings["lr"])
    return TrainConfig(arch=arch, **settings)


def form_config(arch: str, shown: Mapping[str, Any]) -> TrainConfig:
    """TrainConfig for ``arch`` from a form that shows every setting (the Train page):
    values still at TrainConfig's defaults count as not chosen, since a form cannot tell
    a default it shows from one the person chose, so `architecture_config` gives them the
    architecture's own (the same rule as `facelab train --arch faceresnet`). The starting
    weights are always the form's."""
    TrainConfig(arch=arch, **shown)  # invalid settings: a sentence naming them
    defaults = TrainConfig(arch=arch).to_dict()
    chosen = {name: value for name, value in shown.items()
              if name == "pretrained" or value != defaults.get(name)}
    return architecture_config(arch, chosen)


def transfer_or_scratch(arch: str, epochs: int) -> dict:
    """TrainConfig settings for `arch`: freeze-then-fine-tune when its weights are on this
    machine (a face network stays frozen: a head on its cached features, as `--arch auto`
    trains it), plain training from scratch otherwise."""
    if not weights_status(arch).available:
        return {"pretrained": False, "freeze_epochs": 0}
    if get_spec(arch).embedder_path is not None:
        settings, _why = _instant_settings(arch)
        return {name: settings[name] for name in INSTANT_FIXED} | {"freeze_epochs": epochs}
    return {"pretrained": True, "freeze_epochs": min(TRANSFER_FREEZE_EPOCHS, max(0, epochs - 1))}


def auto_config(project: Project, given: Mapping[str, Any] | None = None, *,
                split_name: str = DEFAULT_SPLIT,
                time_budget_s: float | None = None) -> tuple[TrainConfig, str]:
    """(config, why) for training on the project's split `split_name` on this machine.

    `given` holds the TrainConfig settings the user chose (by field name; `facelab
    train` passes the options typed); they win over the automatic choice.
    `time_budget_s` replaces the device's default training budget (TIME_BUDGET_S).
    """
    wanted = dict(given or {})
    device = resolve_device(wanted.get("device", "auto"))
    kind = "gpu" if device.type in ("cuda", "mps") else "cpu"
    split = ensure_split(project.catalog, split_name)
    num_train, num_val = len(split.train), len(split.val)
    num_persons = len({person for _, person in split.train})
    pretrained_arch, missing = _pretrained_candidate(kind)
    if wanted.get("pretrained") is True and pretrained_arch is None:
        raise WeightsUnavailableError("--pretrained was asked for, but no pretrained weights are on "
                                      "this machine: " + " ".join(missing), arch="auto",
                                      filename=None)
    instant = False
    if pretrained_arch is not None and wanted.get("pretrained") is not False:
        instant = get_spec(pretrained_arch).embedder_path is not None
        settings, why = (_instant_settings if instant else _transfer_settings)(pretrained_arch)
    else:
        settings, why = _scratch_settings(kind, num_train, num_persons)
        why = (("--scratch given" if wanted.get("pretrained") is False
                else "no pretrained weights on this machine") + f": {why}")
    if "epochs" not in wanted and not instant:
        budget = TIME_BUDGET_S[kind] if time_budget_s is None else time_budget_s
        epochs, timing = _epochs_for_budget(settings, budget, device, num_train, num_val,
                                            max(num_persons, 2))
        settings["epochs"] = epochs
        why += f"; {timing}"
    settings.update(wanted)
    if instant and "finetune_lr_factor" not in wanted:
        settings["finetune_lr_factor"] = FINETUNE_BACKBONE_LR / settings["lr"]
    if "freeze_epochs" not in wanted:
        if instant:  # frozen throughout, however many epochs
            settings["freeze_epochs"] = settings["epochs"]
        elif settings.get("freeze_epochs"):
            # At least one epoch is left to fine-tune the whole network.
            settings["freeze_epochs"] = min(settings["freeze_epochs"], settings["epochs"] - 1)
    config = TrainConfig(**settings)
    chosen = sorted(set(wanted) - {"pretrained"})
    if chosen:
        why += f"; your own {', '.join(chosen)} kept"
    log.info("auto: %s", why)
    return config, why


def offer_order(names: list[str]) -> list[str]:
    """`names` (architectures) in the order to offer them: the face networks whose weights
    are on this machine first (nothing trained here comes near them), then the rest as
    given."""
    ready = [name for name in FACE_WEIGHTS if name in names and weights_status(name).available]
    return ready + [name for name in names if name not in ready]


def auto_preview(device: str = "auto") -> str:
    """What `auto_config` will choose on this machine, in a sentence, before any project
    or timing: which network and why (the Train page shows it on its "auto" row)."""
    kind = "gpu" if resolve_device(device).type in ("cuda", "mps") else "cpu"
    arch, _missing = _pretrained_candidate(kind)
    if arch is None:
        spec = get_spec(SCRATCH_ARCH)
        return (f"No pretrained weights here: {spec.display_name} from scratch at "
                f"{SCRATCH_INPUT_SIZE[kind]} px, for as many epochs as fit "
                f"{TIME_BUDGET_S[kind] // 60} minutes on this {kind.upper()}.")
    spec = get_spec(arch)
    name = spec.display_name.split(" (")[0]  # "Face ResNet": the list row is two lines
    if spec.embedder_path is not None:
        return (f"Picks {name}, frozen: learned on millions of faces, it needs "
                "only a classifier on top (seconds).")
    return (f"Picks {name} with its {spec.pretrained_dataset} weights (the best "
            f"pretrained network here): head first, then fine-tuning.")


def _pretrained_candidate(kind: str) -> tuple[str | None, list[str]]:
    """The preferred architecture whose weights are on disk, and why others were not used."""
    missing = []
    registered = {spec.name for spec in list_architectures()}
    for arch in FACE_WEIGHTS + IMAGENET_BY_DEVICE[kind]:
        if arch not in registered:
            continue
        status = weights_status(arch)
        if status.available:
            return arch, missing
        missing.append(f"{arch}: no {status.filename}.")
    return None, missing


def _transfer_settings(arch: str) -> tuple[dict, str]:
    spec = get_spec(arch)
    settings = dict(arch=arch, pretrained=True, freeze_epochs=TRANSFER_FREEZE_EPOCHS,
                    finetune_lr_factor=0.1, lr=1e-3, optimizer="adamw", weight_decay=1e-4,
                    scheduler="cosine", label_smoothing=0.1, augment="standard",
                    batch_size=32, early_stopping_patience=6)
    return settings, (f"{spec.display_name} with its {spec.pretrained_dataset} weights: train the "
                      "new head first with the backbone frozen, then "
                      "fine-tune everything at lr x 0.1")


def _instant_settings(arch: str) -> tuple[dict, str]:
    spec = get_spec(arch)
    settings = dict(arch=arch, pretrained=True, epochs=INSTANT_EPOCHS,
                    freeze_epochs=INSTANT_EPOCHS, lr=INSTANT_LR, optimizer="adamw",
                    weight_decay=1e-4, scheduler="none", label_smoothing=0.0, augment="none",
                    batch_size=32, early_stopping_patience=INSTANT_PATIENCE)
    return settings, (f"{spec.display_name} with its {spec.pretrained_dataset} weights, frozen: "
                      "each face's features are computed once, then a classifier on them "
                      "trains in seconds (--freeze-epochs below --epochs fine-tunes the "
                      f"whole network at lr {FINETUNE_BACKBONE_LR:g})")


def _scratch_settings(kind: str, num_train: int, num_persons: int) -> tuple[dict, str]:
    size = SCRATCH_INPUT_SIZE[kind]
    per_person = num_train / max(num_persons, 1)
    settings = dict(arch=SCRATCH_ARCH, pretrained=False, input_size=size, lr=2e-3,
                    optimizer="adamw", weight_decay=5e-4, scheduler="cosine",
                    label_smoothing=0.1, augment="standard", batch_size=32,
                    # The cosine schedule needs its whole run; the best checkpoint (by
                    # validation loss) is kept anyway.
                    early_stopping_patience=None)
    return settings, (f"{get_spec(SCRATCH_ARCH).display_name} from scratch at {size}x{size} px "
                      f"on {kind.upper()} ({num_train} training faces, {per_person:.0f} per person), "
                      "augmentation, label smoothing 0.1, AdamW + cosine schedule")


def _epochs_for_budget(settings: dict, budget_s: float, device: torch.device, num_train: int,
                       num_val: int, num_classes: int) -> tuple[int, str]:
    """As many epochs as fit the budget, from a few timed training steps on `device`.

    On a CPU it times float32 and bfloat16 autocast and keeps the faster (sets
    `settings["amp"]`): CPUs with bf16 instructions train about twice as fast with it,
    others slower.
    """
    mode = "transfer" if settings.get("pretrained") else "scratch"
    low, high = EPOCH_RANGE[mode]
    size = settings.get("input_size") or get_spec(settings["arch"]).input_size

    def seconds_per_image(amp_dtype: torch.dtype | None) -> float:
        return measure_seconds_per_image(settings["arch"], size, num_classes, device,
                                         batch_size=settings["batch_size"], amp_dtype=amp_dtype)

    precision = ""
    if device.type == "cpu":
        float32, bfloat16 = seconds_per_image(None), seconds_per_image(torch.bfloat16)
        use_bf16 = bfloat16 < BF16_MIN_SPEEDUP_RATIO * float32
        settings["amp"] = use_bf16
        per_image = bfloat16 if use_bf16 else float32
        precision = (f", bfloat16 ({float32 / bfloat16:.1f}x faster than float32 here)" if use_bf16
                     else ", float32 (bfloat16 is no faster here)")
    elif device.type == "cuda":  # the trainer's "auto" mixed precision
        per_image = seconds_per_image(torch.bfloat16 if torch.cuda.is_bf16_supported()
                                      else torch.float16)
    else:
        per_image = seconds_per_image(None)
    # A validation pass is forward-only: about a third of a training step per face.
    epoch_s = per_image * (num_train + num_val / 3)
    epochs = int(min(high, max(low, budget_s // max(epoch_s, 1e-6))))
    return epochs, (f"{epochs} epochs (about {epoch_s:.0f} s each measured here{precision}; "
                    f"budget {budget_s / 60:.0f} min)")


def measure_seconds_per_image(arch: str, size: int, num_classes: int, device: torch.device,
                              batch_size: int = 32, amp_dtype: torch.dtype | None = None,
                              steps: int = 2) -> float:
    """Training seconds per face, timed on a few random batches after one warm-up step."""
    def precision() -> contextlib.AbstractContextManager:
        return (torch.autocast(device.type, dtype=amp_dtype) if amp_dtype is not None
                else contextlib.nullcontext())

    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        model = build_model(arch, num_classes, pretrained=False).to(device)
        optimizer = torch.optim.AdamW(model.parameters())
        images = torch.randn(batch_size, 3, size, size, device=device)
        labels = torch.randint(0, num_classes, (batch_size,), device=device)
        started = 0.0
        for step in range(steps + 1):
            if step == 1:
                _synchronize(device)
                started = time.perf_counter()
            with precision():
                loss = torch.nn.functional.cross_entropy(model(images), labels)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        _synchronize(device)
    return (time.perf_counter() - started) / (steps * batch_size)


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
