"""`facelab webcam`: name the faces of a camera (or a video file) live, frame by frame."""

from __future__ import annotations

import json
import sys

from engine.cli import EXIT_ERROR, EXIT_OK, cli_task, open_project
from engine.cli_models import add_unknown_options, unknown_rule_line


def _face_json(face) -> dict:
    return {"box": [round(v, 1) for v in face.box], "person": face.person,
            "confidence": round(face.confidence, 4), "unknown": face.is_unknown,
            "track": face.track_id,
            "distance": None if face.distance is None else round(face.distance, 4),
            "top": [{"person": name, "probability": round(p, 4)} for name, p in face.top]}


def _result_json(result) -> str:
    return json.dumps({"frame": result.index, "fps": round(result.fps, 2),
                       "latency_ms": round(result.latency_ms, 1),
                       "detect_ran": result.detect_ran, "dropped": result.dropped,
                       "faces": [_face_json(f) for f in result.faces]}, ensure_ascii=False)


def _result_line(result) -> str:
    names = ", ".join(f.caption() + " @" + ",".join(str(round(v)) for v in f.box)
                      for f in result.faces)
    step = "detect" if result.detect_ran else "reuse "
    return (f"frame {result.index:5d}  {result.fps:5.1f} fps  {result.latency_ms:6.1f} ms  "
            f"{step}  {names or 'no face'}")


def cmd_webcam(args) -> int:
    from engine.inference.camera import CameraError, FrameSource
    from engine.inference.live_pipeline import FramePipeline, LiveSettings
    from engine.inference.predictor import Predictor
    import torch

    from engine.inference.webcam import LiveLoop, default_threads

    torch.set_num_threads(args.threads or default_threads())
    settings = LiveSettings(detect_side=args.detect_side, min_face_size=args.min_face,
                            detect_every=args.detect_every)
    source = FrameSource(args.source, pace=not args.every_frame)
    try:
        source.open()  # before the model loads: a missing camera fails at once
        with open_project(args.dir, readonly=True) as project:
            predictor = Predictor.from_run(project, args.run, threshold=args.threshold,
                                           device=args.device, max_distance=args.max_distance)
        print(unknown_rule_line(predictor), file=sys.stderr)
        loop = LiveLoop(source, FramePipeline(predictor, settings),
                        on_result=lambda r: print(_result_json(r) if args.json
                                                  else _result_line(r), flush=True),
                        on_status=lambda s: print(f"{s.state}: {s.message}", file=sys.stderr),
                        every_frame=args.every_frame, max_frames=args.frames)
        with cli_task() as ctx:
            summary = loop.run(ctx)
    except CameraError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    finally:
        source.close()
    rate = summary.frames / summary.seconds if summary.seconds > 0 else 0.0
    print(f"{summary.ended}: {summary.frames} frame(s) in {summary.seconds:.1f} s "
          f"({rate:.1f} fps), {summary.detections} with detection, {summary.reused} reusing "
          f"boxes, {summary.dropped} dropped", file=sys.stderr)
    return EXIT_OK  # Ctrl+C is the way to end a live view, not a failure


def register(sub) -> None:
    from engine.inference.live_pipeline import LiveSettings

    d = LiveSettings()
    p = sub.add_parser("webcam", help="name the faces of a camera or video file, live",
                       description="Detect and name faces frame by frame with a run's best "
                       "model. Ends at the end of a video file, after --frames frames, or "
                       "on Ctrl+C.")
    p.add_argument("dir", help="the project folder")
    p.add_argument("--run", required=True, help="run id (see `facelab runs`)")
    p.add_argument("--source", default="0",
                   help="camera index (0 = the first camera) or a video file (default 0)")
    p.add_argument("--frames", type=int, default=None, metavar="N",
                   help="stop after N processed frames")
    add_unknown_options(p)
    p.add_argument("--json", action="store_true", help="one JSON object per line and frame")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1, mps")
    p.add_argument("--every-frame", action="store_true",
                   help="video file only: process every frame instead of keeping real time")
    p.add_argument("--detect-every", type=int, default=d.detect_every, metavar="N",
                   help="run face detection every N frames while the picture is steady "
                        f"(default {d.detect_every})")
    p.add_argument("--detect-side", type=int, default=d.detect_side, metavar="PX",
                   help=f"long side of the image the detector sees (default {d.detect_side})")
    p.add_argument("--min-face", type=int, default=d.min_face_size, metavar="PX",
                   help=f"smallest face looked for, in frame pixels (default {d.min_face_size})")
    p.add_argument("--threads", type=int, default=None,
                   help="CPU threads for the model (default: one less than the cores)")
    p.set_defaults(func=cmd_webcam)
