"""Webcam live classification speed: end-to-end frames per second, capture to result.

A 640x480 MJPG video made from ../shared/datasets/5celeb photos stands in for the
camera: each photo is held for two seconds, swaying a few pixels with sensor noise,
and the file is read at the camera's frame rate (``--camera-fps``) by the live loop's
capture thread, so frames the pipeline is too slow for are dropped as with a real
camera. The model is CustomCNN1 (the lab's small CNN, 224x224 input, 12.9 M
parameters), trained for one epoch on a few photos (the speed does not depend on how
well it is trained); or pass ``--project DIR --run ID`` to time a run of your own.

Printed: frames per second of results, latency from capture to result (mean, p95),
detection frames vs frames that reused the last boxes, dropped frames, and the
pipeline's own time per frame kind. The first second is warm-up and not counted.

    .venv/bin/python bench/webcam_fps.py                         # CPU, target >= 15 fps
    .venv/bin/python bench/webcam_fps.py --device cuda           # GPU, target >= 60 fps
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from engine.inference.camera import FrameSource  # noqa: E402
from engine.inference.fake_camera import write_photo_video  # noqa: E402
from engine.inference.live_pipeline import FramePipeline, LiveSettings  # noqa: E402
from engine.inference.webcam import LiveLoop, default_threads  # noqa: E402

WARM_UP_S = 1.0
TARGET_FPS = {"cpu": 15, "cuda": 60}


class TimedPipeline(FramePipeline):
    """The pipeline, recording its own time per frame (detection or reused boxes)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.times: dict[bool, list[float]] = {True: [], False: []}

    def process(self, frame):
        start = time.perf_counter()
        analysis = super().process(frame)
        self.times[analysis.detect_ran].append(time.perf_counter() - start)
        return analysis


def train_small_run(photos: Path, root: Path, device: str) -> str:
    from engine.ingest import crop_pending, import_paths
    from engine.project import Project
    from engine.training.config import TrainConfig
    from engine.training.runner import train_run

    people = sorted(p for p in photos.iterdir() if p.is_dir())[:3]
    files = [f for person in people for f in sorted(person.iterdir())[:8]]
    with Project.create(root) as project:
        import_paths(project, files, labels_from_folders=True)
        crop_pending(project, workers=2)
        config = TrainConfig(arch="customcnn1", epochs=1, batch_size=16, augment="none",
                             pretrained=False, device=device, early_stopping_patience=None)
        return train_run(project, config, evaluate=False).run_id


def video_photos(photos: Path, count: int) -> list[Path]:
    files = sorted(photos.rglob("*.jpg"))
    return files[::max(1, len(files) // count)][:count]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    p.add_argument("--seconds", type=float, default=20.0, help="length of the video")
    p.add_argument("--camera-fps", type=float, default=None,
                   help="frame rate the video is read at (default 30 on cpu, 120 on cuda)")
    p.add_argument("--threads", type=int, default=None,
                   help="torch CPU threads (default: cores - 1, leaving one for capture)")
    d = LiveSettings()
    p.add_argument("--detect-every", type=int, default=d.detect_every)
    p.add_argument("--detect-side", type=int, default=d.detect_side)
    p.add_argument("--min-face", type=int, default=d.min_face_size)
    p.add_argument("--photos", type=Path, default=REPO.parent / "shared/datasets/5celeb")
    p.add_argument("--project", type=Path, help="time this project's run instead")
    p.add_argument("--run", help="with --project: the run id")
    args = p.parse_args()

    import torch

    from engine.inference.predictor import Predictor
    from engine.project import Project

    camera_fps = args.camera_fps or (120.0 if args.device == "cuda" else 30.0)
    threads = args.threads or default_threads()
    torch.set_num_threads(threads)
    settings = LiveSettings(detect_every=args.detect_every, detect_side=args.detect_side,
                            min_face_size=args.min_face)
    with tempfile.TemporaryDirectory(prefix="facelab-webcam-bench-") as tmp:
        work = Path(tmp)
        if args.project:
            root, run_id = args.project, args.run
        else:
            root = work / "project"
            print("training a one-epoch customcnn1 run...", file=sys.stderr)
            run_id = train_small_run(args.photos, root, args.device)
        with Project.open(root, readonly=True) as project:
            predictor = Predictor.from_run(project, run_id, device=args.device)
        hold = round(2 * camera_fps)
        shown = video_photos(args.photos, max(1, round(args.seconds * camera_fps / hold)))
        video = write_photo_video(work / "camera.avi", shown, hold, fps=camera_fps,
                                  sway_px=6, noise=2)
        pipeline = TimedPipeline(predictor, settings)
        arrivals, results = [], []

        def on_result(result) -> None:
            arrivals.append(time.monotonic())
            results.append(result)

        summary = LiveLoop(FrameSource(video, fps=camera_fps), pipeline,
                           on_result=on_result).run()

    start = arrivals[0] + WARM_UP_S
    kept = [(t, r) for t, r in zip(arrivals, results) if t >= start]
    if len(kept) < 2:
        print("too few frames after the warm-up: make --seconds longer", file=sys.stderr)
        return 1
    fps = (len(kept) - 1) / (kept[-1][0] - kept[0][0])
    latency = [r.latency_ms for _, r in kept]
    detected = sum(r.detect_ran for _, r in kept)
    faces = statistics.mean(len(r.faces) for _, r in kept)

    def ms(values: list[float]) -> str:
        return f"{statistics.mean(values) * 1000:.1f} ms" if values else "-"

    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    print(f"device {args.device}, {os.cpu_count()} cores, torch threads {threads}, "
          f"load average {load}")
    print(f"model customcnn1 ({predictor.input_size}px), MTCNN on {settings.detect_side}px, "
          f"min face {settings.min_face_size}px, detect every {settings.detect_every} frames "
          f"or on motion > {settings.motion_threshold}")
    print(f"camera 640x480 at {camera_fps:.0f} fps, {summary.captured} frames captured, "
          f"{summary.frames} processed, {summary.dropped} dropped")
    print(f"after {WARM_UP_S:.0f} s warm-up: {len(kept)} results, {faces:.2f} faces per frame")
    print(f"end-to-end: {fps:.1f} fps; latency capture->result mean "
          f"{statistics.mean(latency):.1f} ms, p95 {percentile(latency, 0.95):.1f} ms")
    print(f"detection frames {detected}, reused-box frames {len(kept) - detected}; pipeline "
          f"time per detection frame {ms(pipeline.times[True])}, per reused frame "
          f"{ms(pipeline.times[False])}")
    target = TARGET_FPS[args.device]
    print(f"target >= {target} fps: {'met' if fps >= target else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
