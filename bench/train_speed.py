"""Training speed on the same face crops: the lab's notebook recipe vs FaceLab's engine.

  recipe: torchvision ImageFolder over a folder of face crop JPEGs (one sub-folder per
          person), Compose([Resize((S, S)), ToTensor(), Normalize([0.5]*3, [0.5]*3)])
          (every JPEG decoded again every epoch), DataLoader(batch_size=32, shuffle=True)
          (num_workers=0, as in a notebook), Adam(lr=1e-3), CrossEntropyLoss and the
          plain loop: to(device), zero_grad, forward, loss, backward, step, loss.item().
  engine: engine.training.Trainer with TrainConfig(arch, batch_size=32, lr=1e-3,
          augment="none", pretrained=False, early_stopping_patience=None) on TrainData
          from the project's uint8 tensor cache (engine.training.runner.prepare_data).

Both train the same architecture (engine.models.build_model, from scratch) on the same
faces: a FaceLab project is made from ../shared/datasets/DATASET (import with labels
from folders, then face crop; kept in --cache and reused), and the crop files of its
training split are copied into the recipe's ImageFolder tree, so both sides decode the
very same JPEG files (the script checks the pixels are identical).

Figures are training images per second over whole epochs, after a short warm-up of
each side. The sides alternate in this one process (recipe then engine, then engine
then recipe, ...) so that a busy machine slows both alike. Reported separately:
- the one-off tensor cache build (decoding every train + val crop once);
- the engine's whole epoch, which also validates on the validation split and writes
  its checkpoints (the recipe does neither);
- "compute only": the same model, optimizer and precision stepping on one batch that
  already sits on the device, i.e. the ceiling without any data loading.

On the CPU much of the engine's lead comes from how it keeps freed host memory while
training (engine.training.device.training_memory); `--recipe-keeps-memory` gives the
recipe that same setting (as a Python with jemalloc or tcmalloc preloaded would) for
the allocator-neutral ratio.

    .venv/bin/python bench/train_speed.py                       # customcnn1 on the CPU
    .venv/bin/python bench/train_speed.py --device cuda --arch resnet50
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import random
import re
import resource
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

import engine.models as models  # noqa: E402
from engine.data.augment import to_unit_float  # noqa: E402
from engine.data.splits import SplitData, ensure_split  # noqa: E402
from engine.ingest import crop_pending, import_paths  # noqa: E402
from engine.project import Project  # noqa: E402
from engine.tasks import null_context  # noqa: E402
from engine.training import TrainConfig, Trainer  # noqa: E402
from engine.training.device import resolve_setup, reuses_host_memory, training_memory  # noqa: E402
from engine.training.step import make_train_step  # noqa: E402
from engine.training.events import BatchEnded, RunFinished  # noqa: E402
from engine.training.run_state import build_run_state  # noqa: E402
from engine.training.runner import prepare_data  # noqa: E402
from engine.training.trainer import TrainData  # noqa: E402

BATCH_SIZE = 32
LR = 1e-3
TARGET = 1.5  # engine / recipe on customcnn1, CPU
GPU_TARGET = 5.0  # engine / recipe on resnet50, CUDA
GPU_COMPUTE_TARGET = 1.2  # engine epoch time / compute-only time, CUDA


# -- helpers -------------------------------------------------------------------


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def page_faults() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


@dataclass
class Epoch:
    images: int
    seconds: float  # the training pass
    whole_seconds: float | None = None  # engine: + validation + checkpoints
    faults: int = 0  # minor page faults during the training pass (this process)

    @property
    def rate(self) -> float:
        return self.images / self.seconds

    @property
    def whole_rate(self) -> float:
        return self.images / (self.whole_seconds or self.seconds)


@dataclass
class Side:
    name: str
    epochs: list[Epoch] = field(default_factory=list)
    compute: list[float] = field(default_factory=list)  # img/s, one resident batch

    def rate(self) -> float:
        return sum(e.images for e in self.epochs) / sum(e.seconds for e in self.epochs)

    def whole_rate(self) -> float:
        return (sum(e.images for e in self.epochs)
                / sum(e.whole_seconds or e.seconds for e in self.epochs))


# -- the data ------------------------------------------------------------------


def cropped_project(datasets: Path, name: str, cache: Path) -> tuple[Path, float]:
    """The project for `name`, imported and cropped (resumed/reused when already there)."""
    root = cache / name
    started = time.perf_counter()
    with Project.open_or_create(root) as project:
        import_paths(project, [datasets / name], labels_from_folders=True)
        report = crop_pending(project)
        if report.errors:
            print(f"  (crop: {len(report.errors)} photo(s) unusable, left out)")
    return root, time.perf_counter() - started


def write_image_folder(project: Project, split: SplitData, out: Path) -> list[Path]:
    """The recipe's ImageFolder tree: the project's own crop file of every training face.

    Returns the copied file of each training face, in the split's order (the order of
    the engine's train tensors).
    """
    if out.exists():
        shutil.rmtree(out)
    names = {p.id: p.name for p in project.catalog.persons()}
    crop_of = {face_id: path for face_id, _, path in project.catalog.labelled_faces()}
    files = []
    for face_id, person_id in split.train:
        folder = out / (re.sub(r"[^\w.-]+", "_", names[person_id]) or f"person{person_id}")
        folder.mkdir(parents=True, exist_ok=True)
        source = project.resolve(crop_of[face_id])
        target = folder / f"{face_id}{source.suffix.lower()}"
        shutil.copyfile(source, target)
        files.append(target)
    return files


def identical_pixels(files: list[Path], data: TrainData, size: int, sample: int) -> tuple[int, int]:
    """How many of `sample` faces the recipe's loader decodes to exactly the engine's pixels."""
    from torchvision import transforms
    from torchvision.datasets.folder import default_loader

    resize = transforms.Resize((size, size))
    rows = random.Random(0).sample(range(len(files)), min(sample, len(files)))
    same = sum(np.array_equal(np.asarray(resize(default_loader(str(files[i])))),
                              data.train_x[i].permute(1, 2, 0).numpy()) for i in rows)
    return same, len(rows)


# -- the lab's recipe ----------------------------------------------------------


def recipe_loader(folder: Path, size: int):
    from torch.utils.data import DataLoader
    from torchvision import datasets, transforms

    transform = transforms.Compose([
        transforms.Resize((size, size)),
        transforms.ToTensor(),
        transforms.Normalize([0.5] * 3, [0.5] * 3),
    ])
    dataset = datasets.ImageFolder(str(folder), transform=transform)
    return DataLoader(dataset, batch_size=BATCH_SIZE, shuffle=True), len(dataset.classes)


def recipe_model(arch: str, num_classes: int, device: torch.device, seed: int):
    torch.manual_seed(seed)
    model = models.build_model(arch, num_classes, pretrained=False).to(device)
    return model, nn.CrossEntropyLoss(), torch.optim.Adam(model.parameters(), lr=LR)


def recipe_train(loader, num_classes: int, arch: str, device: torch.device, epochs: int,
                 seed: int, limit_batches: int | None = None) -> list[Epoch]:
    model, criterion, optimizer = recipe_model(arch, num_classes, device, seed)
    result = []
    for _ in range(epochs):
        model.train()
        running_loss, seen = 0.0, 0
        faults = page_faults()
        started = time.perf_counter()
        for batch, (images, labels) in enumerate(loader):
            if limit_batches is not None and batch == limit_batches:
                break
            images, labels = images.to(device), labels.to(device)
            optimizer.zero_grad()
            outputs = model(images)
            loss = criterion(outputs, labels)
            loss.backward()
            optimizer.step()
            running_loss += loss.item()
            seen += len(labels)
        synchronize(device)
        result.append(Epoch(seen, time.perf_counter() - started, faults=page_faults() - faults))
    return result


def recipe_compute(arch: str, num_classes: int, device: torch.device, batch: torch.Tensor,
                   labels: torch.Tensor, warmup: int, steps: int) -> float:
    """img/s of the recipe's step alone (float32, default layout) on one resident batch."""
    model, criterion, optimizer = recipe_model(arch, num_classes, device, 0)
    model.train()
    images = ((to_unit_float(batch) - 0.5) / 0.5).to(device)
    labels = labels.to(device)
    for step in range(warmup + steps):
        if step == warmup:
            synchronize(device)
            started = time.perf_counter()
        optimizer.zero_grad()
        loss = criterion(model(images), labels)
        loss.backward()
        optimizer.step()
    synchronize(device)
    return steps * len(labels) / (time.perf_counter() - started)


# -- the engine ----------------------------------------------------------------


def engine_config(args, epochs: int, seed: int, **changes) -> TrainConfig:
    return TrainConfig(arch=args.arch, epochs=epochs, batch_size=BATCH_SIZE, lr=LR,
                       augment="none", pretrained=False, early_stopping_patience=None,
                       device=args.device, deterministic=args.deterministic, seed=seed,
                       cuda_graphs="auto" if args.cuda_graphs else False, **changes)


def trained_images(count: int) -> int:
    """Faces the engine trains on per epoch: a last batch of one face is left out."""
    full, rest = divmod(count, BATCH_SIZE)
    return full * BATCH_SIZE + (rest if rest > 1 or (rest == 1 and full == 0) else 0)


class EpochClock:
    """Times each engine epoch from its events.

    An epoch starts at the last event before its first batch (the previous epoch's
    last checkpoint, or RunStarted) and its training pass ends with its last
    BatchEnded (the trainer syncs with the device on every batch); the whole epoch
    ends where the next one starts (or at RunFinished).
    """

    def __init__(self, images: int) -> None:
        self.images = images
        self.epochs: list[Epoch] = []
        self._last_event = time.perf_counter()
        self._start = self._faults = None

    def __call__(self, event) -> None:
        now = time.perf_counter()
        if isinstance(event, BatchEnded):
            if event.batch == 1:
                if self.epochs and self.epochs[-1].whole_seconds is None:
                    self.epochs[-1].whole_seconds = self._last_event - self._start
                self._start = self._last_event
                self._faults = page_faults()
            if event.batch == event.num_batches:
                self.epochs.append(Epoch(self.images, now - self._start,
                                         faults=page_faults() - self._faults))
            return
        if isinstance(event, RunFinished) and self.epochs and self.epochs[-1].whole_seconds is None:
            self.epochs[-1].whole_seconds = now - self._start
        self._last_event = time.perf_counter()


def engine_train(args, data: TrainData, epochs: int, seed: int, work: Path,
                 **changes) -> list[Epoch]:
    run_dir = work / f"engine-run-{seed}"
    clock = EpochClock(trained_images(len(data.train_y)))
    finished = Trainer(engine_config(args, epochs, seed, **changes), data, run_dir,
                       callbacks=[clock]).fit()
    shutil.rmtree(run_dir, ignore_errors=True)
    if finished.status != "completed":
        raise RuntimeError(f"engine run {finished.status}: {finished.message}")
    return clock.epochs


def engine_compute(args, data: TrainData, warmup: int, steps: int) -> float:
    """img/s of the engine's own step (its device setup, precision, layout, optimizer)
    on one batch already on the device, under the same memory settings as `fit`."""
    config = engine_config(args, 1, 0)
    setup = resolve_setup(config)
    state = build_run_state(config, data.class_names, data.train_y, setup)
    model = state.model
    model.train()
    images = to_unit_float(data.train_x[:BATCH_SIZE].to(setup.device))
    images = (images - state.mean) / state.std
    if setup.channels_last:
        images = images.contiguous(memory_format=torch.channels_last)
    labels = data.train_y[:BATCH_SIZE].to(setup.device)
    step = make_train_step(state)  # the trainer's own step: a CUDA graph where it uses one
    flags = (torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark)
    torch.backends.cudnn.deterministic = config.deterministic  # as Trainer.fit sets them
    torch.backends.cudnn.benchmark = not config.deterministic
    try:
        with training_memory(setup):
            for index in range(warmup + steps):
                if index == warmup:
                    synchronize(setup.device)
                    started = time.perf_counter()
                step(images, labels)
            synchronize(setup.device)
            seconds = time.perf_counter() - started
    finally:
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = flags
    return steps * len(labels) / seconds


# -- main ----------------------------------------------------------------------


def describe_device(args) -> str:
    setup = resolve_setup(engine_config(args, 1, 0))
    if setup.device.type == "cuda":
        where = f"cuda ({torch.cuda.get_device_name(setup.device)})"
    else:
        where = f"cpu ({platform.processor() or platform.machine()}, {os.cpu_count()} cores)"
    amp = str(setup.amp_dtype).replace("torch.", "") if setup.amp_dtype else "float32"
    memory = ", freed host memory kept for reuse" if reuses_host_memory(setup) else ""
    return (f"{where}; torch {torch.__version__}, {torch.get_num_threads()} intra-op threads, "
            f"{torch.get_num_interop_threads()} inter-op; engine: {amp}, "
            f"channels_last={setup.channels_last}, cuda_graphs={setup.cuda_graphs}, "
            f"deterministic={args.deterministic}{memory}; "
            f"recipe: float32, default layout"
            f"{memory if args.recipe_keeps_memory else ''}")


def fmt(values) -> str:
    return " ".join(f"{v:6.1f}" for v in values)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="lfw20", help="a folder of ../shared/datasets")
    parser.add_argument("--arch", default="customcnn1")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N")
    parser.add_argument("--rounds", type=int, default=2,
                        help="rounds; each trains both sides, in alternating order")
    parser.add_argument("--epochs", type=int, default=2, help="epochs per side per round")
    parser.add_argument("--compute-steps", type=int, default=None,
                        help="timed steps of the compute-only figure (default: 5 cpu, 50 cuda)")
    parser.add_argument("--deterministic", action=argparse.BooleanOptionalAction, default=True,
                        help="the engine's deterministic setting (its default: on)")
    parser.add_argument("--cuda-graphs", action=argparse.BooleanOptionalAction, default=True,
                        help="the engine's CUDA graphs setting (its default: on, on CUDA)")
    parser.add_argument("--recipe-keeps-memory", action="store_true",
                        help="run the recipe with the engine's host memory setting too "
                             "(as with jemalloc/tcmalloc preloaded): the allocator-neutral ratio")
    parser.add_argument("--datasets", type=Path, default=REPO.parent / "shared" / "datasets")
    parser.add_argument("--cache", type=Path,
                        default=Path(tempfile.gettempdir()) / "facelab-bench-train",
                        help="where the cropped projects are kept between runs")
    args = parser.parse_args()
    device = resolve_setup(engine_config(args, 1, 0)).device
    on_cuda = device.type == "cuda"
    compute_steps = args.compute_steps or (50 if on_cuda else 5)
    compute_warmup = 10 if on_cuda else 2
    size = models.get_spec(args.arch).input_size

    print(f"FaceLab training speed: {args.arch} on {device.type}, the lab's recipe vs the engine, "
          "same face crops")
    root, prep_s = cropped_project(args.datasets, args.dataset, args.cache)
    with Project.open(root) as project, tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        split = ensure_split(project.catalog)
        shutil.rmtree(root / "cache" / f"size-{size}", ignore_errors=True)
        started = time.perf_counter()
        data, persons = prepare_data(project, split, None, size, null_context())
        cache_s = time.perf_counter() - started
        files = write_image_folder(project, split, work / "imagefolder")
        loader, recipe_classes = recipe_loader(work / "imagefolder", size)
        same, checked = identical_pixels(files, data, size, 64)
        num_train, num_val = len(data.train_y), len(data.val_y)
        assert len(files) == num_train and recipe_classes == len(persons), "the sides differ"

        print(f"dataset      : {args.dataset}: {len(project.catalog.labelled_faces())} labelled faces, "
              f"{len(persons)} persons; both train on the training split, {num_train} faces "
              f"at {size}x{size}; the engine also validates on {num_val} faces each epoch")
        print(f"project      : {root} (import + crop {prep_s:.1f} s; reused when already there)")
        print(f"pixels       : the recipe's ImageFolder tree holds the project's own crop files; "
              f"decoded pixels identical on {same}/{checked} sampled faces")
        print(f"device       : {describe_device(args)}")
        print(f"cache build  : {cache_s:.1f} s (one-off: {num_train + num_val} crops decoded into "
              "the uint8 tensor cache; not counted below)")
        print(f"epochs       : {args.rounds} round(s) x {args.epochs} epoch(s) per side, "
              f"{BATCH_SIZE} faces a batch, sides alternating; after one short warm-up each",
              flush=True)

        setup = resolve_setup(engine_config(args, 1, 0))

        def recipe_memory():
            return training_memory(setup) if args.recipe_keeps_memory else contextlib.nullcontext()

        # Warm-up: one-off costs (kernel selection, thread pools, first allocations).
        with recipe_memory():
            recipe_train(loader, recipe_classes, args.arch, device, 1, 0, limit_batches=3)
        engine_train(args, data, 1, 0, work, limit_train_batches=3, limit_val_batches=1)

        recipe, engine = Side("recipe"), Side("engine")

        batch_x, batch_y = data.train_x[:BATCH_SIZE], data.train_y[:BATCH_SIZE]
        for round_ in range(args.rounds):
            order = (recipe, engine) if round_ % 2 == 0 else (engine, recipe)
            for side in order:
                if side is recipe:
                    with recipe_memory():
                        epochs = recipe_train(loader, recipe_classes, args.arch, device,
                                              args.epochs, round_)
                else:
                    epochs = engine_train(args, data, args.epochs, round_, work)
                side.epochs += epochs
                extra = ("" if side is recipe else
                         f"  (whole epoch {fmt(e.whole_rate for e in epochs)})")
                faults = ("" if on_cuda else "  [%s page faults/image]"
                          % f"{statistics.mean(e.faults / e.images for e in epochs):,.0f}")
                print(f"round {round_ + 1} {side.name:6s}: {fmt(e.rate for e in epochs)} img/s"
                      f"{extra}{faults}", flush=True)
            for side in order:
                if side is recipe:
                    with recipe_memory():
                        side.compute.append(recipe_compute(args.arch, recipe_classes, device,
                                                           batch_x, batch_y, compute_warmup,
                                                           compute_steps))
                else:
                    side.compute.append(engine_compute(args, data, compute_warmup, compute_steps))

    ratio, whole_ratio = engine.rate() / recipe.rate(), engine.whole_rate() / recipe.rate()
    print(f"compute only : recipe step {fmt(recipe.compute)} img/s, engine step "
          f"{fmt(engine.compute)} img/s (one batch resident on the device, no data loading)")
    for side in (recipe, engine):
        ceiling = statistics.median(side.compute)
        print(f"{side.name:13s}: {side.rate():7.1f} img/s training "
              f"({len(side.epochs)} epochs, {statistics.mean(e.seconds for e in side.epochs):.1f} s "
              f"an epoch; compute alone would take {100 * side.rate() / ceiling:.0f}% of that time)")
    print(f"engine whole : {engine.whole_rate():7.1f} img/s with its validation of {num_val} faces "
          f"and checkpoints every epoch ({statistics.mean(e.whole_seconds for e in engine.epochs):.1f}"
          " s an epoch)")
    print(f"ratio        : {ratio:.2f}x engine/recipe training ({whole_ratio:.2f}x counting the "
          "engine's validation + checkpoints)")
    if args.recipe_keeps_memory:
        print("target       : not judged here: the recipe ran with the engine's memory setting "
              "(allocator-neutral figures); the target is against the recipe as the lab runs it")
    elif args.arch == "customcnn1" and not on_cuda:
        verdict = "met" if min(ratio, whole_ratio) >= TARGET else "NOT met"
        print(f"target       : engine >= {TARGET}x the recipe on customcnn1 (cpu): {verdict}")
    elif args.arch == "resnet50" and on_cuda:
        # A run's first epoch also records its CUDA graph (warm-up steps + capture, once
        # per run): the epochs after it show what the rest of a run gets.
        later = [e for index, e in enumerate(engine.epochs) if index % args.epochs]
        if later:
            steady = sum(e.images for e in later) / sum(e.seconds for e in later)
            overhead = statistics.median(engine.compute) / steady
            print(f"steady state : {steady:7.1f} img/s over each run's epochs after its first: "
                  f"{overhead:.2f}x the compute-only time")
            print(f"target       : epoch within {GPU_COMPUTE_TARGET}x of compute: "
                  f"{'met' if overhead <= GPU_COMPUTE_TARGET else 'NOT met'} (steady state)")
        print(f"target       : engine >= {GPU_TARGET}x the recipe on resnet50 (cuda): "
              f"{'met' if ratio >= GPU_TARGET else 'NOT met'} (training epochs, all counted)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
