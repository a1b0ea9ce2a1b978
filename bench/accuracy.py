"""Test accuracy of the lab's recipe versus FaceLab's `--arch auto`, offline, same test photos.

  recipe:  as the lab does it: torchvision ImageFolder over the raw photos,
           Resize((224, 224)), ToTensor, Normalize([0.5]*3, [0.5]*3), CustomCNN1
           (engine.models' "customcnn1" is the lab's exact network), Adam lr 1e-3,
           CrossEntropy, batch 32, RECIPE_EPOCHS epochs, the last epoch's model.
  auto:    FaceLab's pipeline: import, MTCNN face crops, then `auto_config` (what
           `facelab train --arch auto` trains) and `train_run`. With Face ResNet's
           weights on the machine (requirements.txt installs them) that is the
           instant path: the network frozen, every face embedded once, a head
           trained on the embeddings. Its time is the whole of `facelab train`'s
           work, the embedding of every face included (the project's embedding
           cache is emptied first).
  scratch: (--scratch) `--arch auto --scratch`: what auto trains without
           pretrained weights (a ResNet-18 from scratch, epochs fitted to a
           10-minute budget), the figure FaceLab reached before Face ResNet.

Both sides use one seeded stratified 80/20 split of the photo files: the recipe
trains on the 80% and tests on the 20%; FaceLab gets the identical split through
the catalog's split API (its validation faces, for choosing the best epoch, are
carved out of the same 80%), and both are scored by engine.evaluation.metrics.
Printed per data set: accuracy, macro F1, auto/recipe ratios and the time of each
step (import + crop counts as FaceLab's cost).

    .venv/bin/python bench/accuracy.py [--sets lfw20,5celeb] [--recipe-epochs 10 (0: skip)]
        [--scratch] [--workdir DIR (keeps the cropped projects for a re-run)] [--threads 1]

`--threads 1` is the default: on this shared 2-core machine two OpenMP threads
spin-wait on each other whenever another process holds a core, and training
runs several times slower than with one (measured: 72 vs 625 ms per image).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

from engine.evaluation.metrics import evaluate_predictions  # noqa: E402
from engine.models import build_model  # noqa: E402
from engine.project import Project  # noqa: E402

RECIPE_EPOCHS = 10
RECIPE_BATCH = 32
SPLIT_SEED = 0
TEST_FRACTION = 0.2
# FaceLab's share of its 80% kept aside for validation (best epoch, early stopping).
VAL_FRACTION = 0.1
SPLIT_NAME = f"bench-accuracy-seed{SPLIT_SEED}"


@dataclass(frozen=True)
class Score:
    accuracy: float
    macro_f1: float
    seconds: float


def photo_split(root: Path) -> tuple[list[Path], list[int], list[str], np.ndarray, np.ndarray]:
    """(files, class indices, class names, train idx, test idx) as ImageFolder sees them."""
    from torchvision.datasets import ImageFolder

    folder = ImageFolder(str(root))
    files = [Path(path) for path, _ in folder.samples]
    targets = [label for _, label in folder.samples]
    train, test = train_test_split(np.arange(len(files)), test_size=TEST_FRACTION,
                                   stratify=targets, random_state=SPLIT_SEED)
    return files, targets, folder.classes, np.sort(train), np.sort(test)


# ------------------------------------------------------------------- recipe
def run_recipe(root: Path, train: np.ndarray, test: np.ndarray, epochs: int) -> Score:
    """The lab's loop; the test photos are scored after every epoch so the printout shows
    whether more epochs would have helped (the result is the last epoch, as in the lab)."""
    from torch import nn
    from torch.utils.data import DataLoader, Subset
    from torchvision import transforms
    from torchvision.datasets import ImageFolder

    started = time.perf_counter()
    torch.manual_seed(0)
    transform = transforms.Compose([transforms.Resize((224, 224)), transforms.ToTensor(),
                                    transforms.Normalize([0.5] * 3, [0.5] * 3)])
    dataset = ImageFolder(str(root), transform=transform)
    loader = DataLoader(Subset(dataset, train.tolist()), batch_size=RECIPE_BATCH, shuffle=True,
                        generator=torch.Generator().manual_seed(0))
    test_loader = DataLoader(Subset(dataset, test.tolist()), batch_size=64)
    model = build_model("customcnn1", len(dataset.classes), pretrained=False)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    criterion = nn.CrossEntropyLoss()
    for epoch in range(epochs):
        model.train()
        loss_sum, seen = 0.0, 0
        for images, labels in loader:
            optimizer.zero_grad()
            loss = criterion(model(images), labels)
            loss.backward()
            optimizer.step()
            loss_sum += loss.item() * len(labels)
            seen += len(labels)
        truth, probs = _predict(model, test_loader)
        print(f"    recipe epoch {epoch + 1}/{epochs}: train loss {loss_sum / seen:.3f}, test "
              f"acc {(probs.argmax(1) == truth).mean():.1%} ({time.perf_counter() - started:.0f} s)",
              flush=True)
    report = evaluate_predictions(truth, probs, dataset.classes, bootstrap=0)
    return Score(report.accuracy, report.macro_f1, time.perf_counter() - started)


def _predict(model, loader) -> tuple[np.ndarray, np.ndarray]:
    model.eval()
    truth, probs = [], []
    with torch.inference_mode():
        for images, labels in loader:
            probs.append(torch.softmax(model(images), dim=1))
            truth.append(labels)
    return torch.cat(truth).numpy(), torch.cat(probs).numpy()


# ------------------------------------------------------------------ FaceLab
def prepare_project(root: Path, workdir: Path) -> tuple[Project, float]:
    """Import + crop (resumable: a kept workdir makes a re-run skip both)."""
    from engine.ingest import crop_pending, import_paths

    started = time.perf_counter()
    project = Project.open_or_create(workdir / root.name)
    import_paths(project, [root], labels_from_folders=True)
    report = crop_pending(project)
    if report.errors:
        raise SystemExit(f"{root.name}: {len(report.errors)} photo(s) could not be cropped")
    return project, time.perf_counter() - started


def give_split(project: Project, files: list[Path], train: np.ndarray, test: np.ndarray,
               targets: list[int]) -> None:
    """The recipe's split, photo by photo, as a catalog split of the labelled faces."""
    catalog = project.catalog
    face_of_photo = {face.photo_id: face.id for face in catalog.faces()
                     if face.person_id is not None}
    photo_of_path = {os.path.realpath(project.resolve(p.path)): p.id for p in catalog.photos()}

    def face(index: int) -> int:
        return face_of_photo[photo_of_path[os.path.realpath(files[index])]]

    fit, val = train_test_split(train, test_size=VAL_FRACTION,
                                stratify=[targets[i] for i in train], random_state=SPLIT_SEED)
    wanted = {face(i): "train" for i in fit}
    wanted.update({face(i): "val" for i in val})
    wanted.update({face(i): "test" for i in test})
    split = catalog.split(SPLIT_NAME)
    if split is not None:
        if catalog.split_assignments(split.id) != wanted:
            raise SystemExit(f"{project.root}: split {SPLIT_NAME} differs; use a new --workdir")
        return
    split = catalog.create_split(SPLIT_NAME, SPLIT_SEED, TEST_FRACTION, VAL_FRACTION)
    catalog.add_split_members(split.id, sorted(wanted.items()))


def run_auto(project: Project, given: dict | None = None, label: str = "auto") -> tuple[Score, str]:
    """`facelab train --arch auto` (with the options `given`): its score and architecture."""
    from engine.training.auto import auto_config
    from engine.training.events import EpochEnded
    from engine.training.runner import train_run

    # Every face is embedded again: the time is a first run's.
    shutil.rmtree(project.root / "cache" / "embeddings", ignore_errors=True)
    started = time.perf_counter()
    config, reason = auto_config(project, given, split_name=SPLIT_NAME)
    print(f"    {label}: {reason}", flush=True)

    def on_event(event) -> None:
        if isinstance(event, EpochEnded):
            print(f"    {label} epoch {event.epoch}/{config.epochs}: val acc {event.val_acc:.1%} "
                  f"({time.perf_counter() - started:.0f} s)", flush=True)

    result = train_run(project, config, split_name=SPLIT_NAME, callbacks=[on_event])
    report = result.report
    return Score(report.accuracy, report.macro_f1, time.perf_counter() - started), config.arch


# --------------------------------------------------------------------- main
def bench_set(root: Path, workdir: Path, recipe_epochs: int, scratch: bool) -> dict:
    files, targets, classes, train, test = photo_split(root)
    print(f"\n{root.name}: {len(files)} photos of {len(classes)} persons; "
          f"{len(train)} train / {len(test)} test photos (seed {SPLIT_SEED})", flush=True)
    project, prepare_s = prepare_project(root, workdir)
    with project:
        give_split(project, files, train, test, targets)
        print(f"  FaceLab import + crop: {prepare_s:.0f} s", flush=True)
        auto, arch = run_auto(project)
        print(f"  auto ({arch}): accuracy {auto.accuracy:.1%}, macro F1 {auto.macro_f1:.3f} "
              f"({auto.seconds:.0f} s)", flush=True)
        from_scratch = None
        if scratch:
            from_scratch, _ = run_auto(project, {"pretrained": False}, "scratch")
            print(f"  auto --scratch: accuracy {from_scratch.accuracy:.1%}, macro F1 "
                  f"{from_scratch.macro_f1:.3f} ({from_scratch.seconds:.0f} s)", flush=True)
    recipe = None
    if recipe_epochs:
        recipe = run_recipe(root, train, test, recipe_epochs)
        print(f"  recipe: accuracy {recipe.accuracy:.1%}, macro F1 {recipe.macro_f1:.3f} "
              f"({recipe.seconds:.0f} s)", flush=True)
    return {"set": root.name, "recipe": recipe, "auto": auto, "arch": arch,
            "scratch": from_scratch, "prepare_s": prepare_s, "test_photos": len(test)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", type=Path, default=REPO.parent / "shared" / "datasets")
    parser.add_argument("--sets", default="lfw20,5celeb")
    parser.add_argument("--recipe-epochs", type=int, default=RECIPE_EPOCHS,
                        help="epochs of the lab's recipe (0: leave it out)")
    parser.add_argument("--scratch", action="store_true",
                        help="also train `--arch auto --scratch` (10 minutes a set on a CPU)")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    print(f"torch {torch.__version__}, {args.threads} thread(s), device cpu, "
          f"load average {os.getloadavg()[0]:.1f} at start; recipe {args.recipe_epochs} epochs")
    with tempfile.TemporaryDirectory(prefix="facelab-bench-accuracy-") as scratch:
        workdir = args.workdir or Path(scratch)
        results = [bench_set(args.datasets / name, workdir, args.recipe_epochs, args.scratch)
                   for name in args.sets.split(",")]
    total = time.perf_counter() - started
    print(f"\n{'set':<8}{'test':>6}  {'row':<22}{'acc':>7} {'F1':>6}  {'acc ratio':>9} "
          f"{'F1 ratio':>8} {'train s':>8}")
    for r in results:
        recipe = r["recipe"]
        rows = [("recipe (CustomCNN1)", recipe), (f"auto ({r['arch']})", r["auto"]),
                ("auto --scratch", r["scratch"])]
        for name, score in rows:
            if score is None:
                continue
            ratios = (f"{score.accuracy / max(recipe.accuracy, 1e-9):>8.2f}x "
                      f"{score.macro_f1 / max(recipe.macro_f1, 1e-9):>7.2f}x" if recipe
                      else f"{'-':>9} {'-':>8}")
            print(f"{r['set']:<8}{r['test_photos']:>6}  {name:<22}{score.accuracy:>7.1%} "
                  f"{score.macro_f1:>6.3f}  {ratios} {score.seconds:>8.0f}")
        print(f"{r['set']:<8}{'':>6}  {'(import + crop)':<22}{'':>7} {'':>6}  {'':>9} {'':>8} "
              f"{r['prepare_s']:>8.0f}")
    print(f"total {total / 60:.1f} min; load average {os.getloadavg()[0]:.1f} at the end")
    return 0


if __name__ == "__main__":
    sys.exit(main())
