"""Do aligned faces help a network trained from scratch? Crops versus aligned chips.

One project (lfw20 by default: import, MTCNN crops), one split, and the same
training settings twice: once on the square crops, once on the aligned chips
(engine/ingest/align.py). Prints test accuracy, macro F1 and the time of each run.

    .venv/bin/python bench/framing.py [--set lfw20] [--arch resnet18] [--size 64]
        [--epochs 10] [--workdir DIR (keeps the cropped project for a re-run)]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import torch  # noqa: E402

from engine.ingest import crop_pending, import_paths  # noqa: E402
from engine.project import Project  # noqa: E402
from engine.training.config import TrainConfig  # noqa: E402
from engine.training.runner import train_run  # noqa: E402

SPLIT = "bench-framing"


def open_project(workdir: Path, dataset: Path) -> Project:
    root = workdir / f"{dataset.name}-project"
    if root.exists():
        return Project.open(root)
    project = Project.create(root)
    import_paths(project, [dataset], labels_from_folders=True)
    started = time.perf_counter()
    crop_pending(project)
    print(f"import + crop: {time.perf_counter() - started:.0f} s", flush=True)
    return project


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", default="lfw20")
    parser.add_argument("--datasets", default=str(REPO.parent / "shared" / "datasets"))
    parser.add_argument("--arch", default="resnet18")
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--workdir")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="facelab-framing-"))
    with open_project(workdir, Path(args.datasets) / args.set) as project:
        stats = project.catalog.stats()
        print(f"{args.set}: {stats['labeled_faces']} labelled faces, {stats['aligned_faces']} "
              f"with landmarks, {stats['unaligned_faces']} centred fallback", flush=True)
        for framing in ("crop", "aligned"):
            config = TrainConfig(arch=args.arch, input_size=args.size, epochs=args.epochs,
                                 face_framing=framing, lr=2e-3, optimizer="adamw",
                                 weight_decay=5e-4, scheduler="cosine", label_smoothing=0.1,
                                 augment="standard", batch_size=32, seed=args.seed,
                                 early_stopping_patience=None, device="cpu")
            started = time.perf_counter()
            result = train_run(project, config, split_name=SPLIT)
            seconds = time.perf_counter() - started
            report = result.report
            print(f"{framing:8s} {args.arch} {args.size}px {args.epochs} epochs: test accuracy "
                  f"{report.accuracy:.1%} (95% CI {report.accuracy_ci[0]:.1%}-"
                  f"{report.accuracy_ci[1]:.1%}), macro F1 {report.macro_f1:.3f}, "
                  f"{seconds:.0f} s (chips and tensor cache included)", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
