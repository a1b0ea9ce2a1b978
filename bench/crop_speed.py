"""Import + face crop speed on 12-megapixel photos: FaceLab's pipeline vs the naive loop.

The photos are made from ../shared/datasets/5celeb: each is scaled up to fill a
4032x3024 frame (3024x4032 for portrait photos; padded, never stretched) and saved
as JPEG at quality 92, the size and kind a phone camera gives.

  naive:    for each photo, PIL open at full size, MTCNN(keep_all=True).detect
  FaceLab:  import_paths + crop_pending on a fresh project (reduced JPEG decode for
            detection, full-size crop, one worker thread per core; with --processes,
            one worker process per core, as the desktop app crops)

Both run in this one process on the same files, after facenet-pytorch (which both
use) is imported: library imports are process start-up, not pipeline work; the script prints photos/s of each,
the ratio, and the faces each found (the naive boxes are filtered with the same
confidence rule FaceLab applies, then matched to FaceLab's boxes by overlap).

    .venv/bin/python bench/crop_speed.py [--photos 24] [--workers 2] [--processes]
                                         [--differences DIR]

Faces are compared two ways: every face (the naive boxes that FaceLab also found, by
overlap), and each photo's subject, the face the folder label goes to (the most
plausible face on each side). ``--differences DIR`` saves a picture of each face only
one side found, named after the photo and the side, to look at by eye: at MTCNN's 0.9
cut, such faces are borderline on both sides (a half-hidden face, or a pendant that
looks like one).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from PIL import Image  # noqa: E402

from engine.ingest import CropSettings, crop_pending, import_paths  # noqa: E402
from engine.ingest.crop import plausibility  # noqa: E402
from engine.ingest.detect import Detection, confident_detections  # noqa: E402
from engine.inference.live_pipeline import iou  # noqa: E402
from engine.project import Project  # noqa: E402


def make_photos(source: Path, out: Path, count: int) -> list[Path]:
    files = sorted(p for p in source.rglob("*.jpg"))
    step = max(1, len(files) // count)
    chosen = files[::step][:count]
    out.mkdir(parents=True, exist_ok=True)
    made = []
    for path in chosen:
        # Named after the source photo, not its place in this run's choice: a run with
        # another --photos picks other sources, and must not reuse a file of that name.
        target = out / path.parent.name / f"{path.stem}.jpg"
        made.append(target)
        if target.exists():
            continue
        target.parent.mkdir(exist_ok=True)
        phone_photo(Image.open(path)).save(target, "JPEG", quality=92)
    return made


def phone_photo(img: Image.Image) -> Image.Image:
    """``img`` scaled up to fill a 4032x3024 frame (3024x4032 if portrait), padded grey."""
    img = img.convert("RGB")
    frame = (4032, 3024) if img.width >= img.height else (3024, 4032)
    factor = min(frame[0] / img.width, frame[1] / img.height)
    big = img.resize((round(img.width * factor), round(img.height * factor)),
                     Image.Resampling.BICUBIC)
    canvas = Image.new("RGB", frame, (128, 128, 128))
    canvas.paste(big, ((frame[0] - big.width) // 2, (frame[1] - big.height) // 2))
    return canvas


def photo_key(path: Path | str) -> str:
    """Which photo a result is for, the same on both sides (file and folder name)."""
    path = Path(path)
    return path.name + path.parent.name


def naive_loop(paths: list[Path]) -> tuple[float, dict[str, list[tuple]]]:
    from facenet_pytorch import MTCNN

    mtcnn = MTCNN(keep_all=True)
    boxes_by_photo = {}
    start = time.perf_counter()
    for path in paths:
        img = Image.open(path).convert("RGB")
        boxes, probs = mtcnn.detect(img)
        boxes_by_photo[photo_key(path)] = (
            [] if boxes is None else [(tuple(b), float(p)) for b, p in zip(boxes, probs)])
    return time.perf_counter() - start, boxes_by_photo


def facelab_pipeline(paths: list[Path], workers: int, root: Path, processes: bool):
    start = time.perf_counter()
    with Project.create(root) as project:
        imported = import_paths(project, paths)
        report = crop_pending(project, CropSettings(), workers=workers, processes=processes)
        elapsed = time.perf_counter() - start
        boxes = {}
        for photo in project.catalog.photos():
            key = photo_key(photo.path)
            boxes[key] = [f.box for f in project.catalog.faces(photo_id=photo.id)
                          if not f.whole_image]
    assert not report.errors, report.errors
    # Every photo must have been imported: a photo missing here would count as a face
    # FaceLab did not find (two photos with the same content are imported once).
    assert len(boxes) == len(paths), (imported, len(boxes), len(paths))
    return elapsed, boxes


def same_rule(found: list[tuple]) -> list[tuple]:
    """FaceLab's confidence rule applied to the naive loop's boxes."""
    dets = [Detection(tuple(b), p) for b, p in found]
    return [d.box for d in confident_detections(dets, CropSettings().min_score)]


def subject(boxes: list[tuple], size: tuple[int, int]) -> tuple | None:
    """The face the folder label goes to: FaceLab's plausibility rule (scores left out,
    as both sides kept only confident boxes)."""
    return max(boxes, key=lambda b: plausibility(b, None, *size)) if boxes else None


def save_differences(out: Path, paths: list[Path], naive: dict, fast: dict) -> int:
    """A picture of each face only one side found (3x the box, box drawn), for the eye."""
    from PIL import ImageDraw

    out.mkdir(parents=True, exist_ok=True)
    saved = 0
    for path in paths:
        key = photo_key(path)
        only = [("naive-only", b) for b in naive[key]
                if not any(iou(b, f) > 0.5 for f in fast.get(key, []))]
        only += [("facelab-only", f) for f in fast.get(key, [])
                 if not any(iou(b, f) > 0.5 for b in naive[key])]
        if not only:
            continue
        with Image.open(path) as img:
            img = img.convert("RGB")
            for i, (side, (x1, y1, x2, y2)) in enumerate(only):
                pad = max(x2 - x1, y2 - y1)
                view = img.crop((int(x1 - pad), int(y1 - pad), int(x2 + pad), int(y2 + pad)))
                ImageDraw.Draw(view).rectangle((pad, pad, pad + x2 - x1, pad + y2 - y1),
                                               outline=(255, 0, 0), width=max(2, int(pad / 40)))
                view.thumbnail((400, 400))
                view.save(out / f"{path.parent.name}-{path.stem[:40]}-{i}-{side}.png")
                saved += 1
    return saved


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=24)
    parser.add_argument("--workers", type=int, default=None, help="default: one per core")
    parser.add_argument("--datasets", type=Path, default=REPO.parent / "shared" / "datasets")
    parser.add_argument("--cache", type=Path,
                        default=Path(tempfile.gettempdir()) / "facelab-bench-12mp")
    parser.add_argument("--processes", action="store_true",
                        help="crop in worker processes, as the app does (their fork server "
                             "is started before the timing, as the app starts it at launch)")
    parser.add_argument("--differences", type=Path, default=None,
                        help="save a picture of each face only one side found here")
    args = parser.parse_args()

    paths = make_photos(args.datasets / "5celeb", args.cache, args.photos)
    print(f"{len(paths)} photos of 12 MP (4032x3024 JPEG q92) in {args.cache}")
    # Both sides run facenet-pytorch's MTCNN: its import (torch, torchvision; ~3.5 s
    # here) is process start-up, not pipeline work, and the naive loop's timing starts
    # after it, so it happens here, before either is timed. Everything else FaceLab does
    # (project, detectors in each worker, import, crop, thumbnails) stays counted.
    import facenet_pytorch  # noqa: F401

    if args.processes:
        from concurrent.futures import ProcessPoolExecutor

        from engine.ingest.crop_workers import process_context, start_crop_server

        start_crop_server()
        with ProcessPoolExecutor(1, mp_context=process_context()) as pool:
            pool.submit(int).result()  # answered once the server has loaded torch and MTCNN
    with tempfile.TemporaryDirectory() as tmp:
        fast_s, fast_boxes = facelab_pipeline(paths, args.workers, Path(tmp) / "p",
                                              args.processes)
    naive_s, naive_raw = naive_loop(paths)

    naive_boxes = {k: same_rule(v) for k, v in naive_raw.items()}
    matched = sum(1 for k, boxes in naive_boxes.items() for b in boxes
                  if any(iou(b, f) > 0.5 for f in fast_boxes.get(k, [])))
    n_naive = sum(len(v) for v in naive_boxes.values())
    n_fast = sum(len(v) for v in fast_boxes.values())
    n_raw = sum(len(v) for v in naive_raw.values())
    sizes = {}
    for path in paths:
        with Image.open(path) as img:
            sizes[photo_key(path)] = img.size
    subjects = [(subject(naive_boxes[k], sizes[k]), subject(fast_boxes.get(k, []), sizes[k]))
                for k in naive_boxes]
    same_subject = sum(1 for a, b in subjects if (a is None and b is None)
                       or (a is not None and b is not None and iou(a, b) > 0.5))
    print(f"naive loop : {len(paths) / naive_s:6.2f} photos/s ({naive_s:.1f} s)")
    print(f"FaceLab    : {len(paths) / fast_s:6.2f} photos/s ({fast_s:.1f} s, import + crop, "
          "everything included)")
    print(f"speed-up   : {naive_s / fast_s:.1f}x")
    print(f"faces      : naive {n_naive} (of {n_raw} raw boxes at MTCNN's 0.7), "
          f"FaceLab {n_fast}, the same face (IoU > 0.5) {matched}/{n_naive}")
    print(f"subjects   : the same subject face (the one the folder label goes to) in "
          f"{same_subject}/{len(paths)} photos")
    if args.differences:
        saved = save_differences(args.differences, paths, naive_boxes, fast_boxes)
        print(f"differences: {saved} pictures of faces only one side found in {args.differences}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
