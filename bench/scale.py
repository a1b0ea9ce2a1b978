"""Catalog scale: a 50,000-photo / 60,000-face project, and the operations a user waits on.

The catalog is filled through the Catalog API (add_photo + store_faces, in batches of
one transaction each), so it holds exactly what an import + crop would record; no real
images are needed, every crop points at one shared small JPEG. 100 persons, each photo
labelled from its folder; one photo in five holds a second, unlabelled face.

Then, each on the project reopened cold (a fresh process cache is not emulated: the
OS page cache stays warm, as it does for a user reopening a project):

  open           Project.open (lock, schema check, WAL) + the first query
  filter         faces(person_id=...) and face_ids(person_id=...) of one person,
                 face_ids(unlabelled=True), face_ids() of all faces (the grid's first need)
  relabel        set_labels of 1,000 faces as one action, then undo
  stats          Catalog.stats() (the status bar and `facelab stats`)

Each is timed (median of --repeat runs) and then run once more under tracemalloc for
its peak Python allocation; the process's peak RSS is printed at the end.

    .venv/bin/python bench/scale.py [--photos 50000] [--second-face-every 5] [--repeat 3]
"""

from __future__ import annotations

import argparse
import random
import resource
import shutil
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Callable

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from engine.catalog import NewFace  # noqa: E402
from engine.project import Project  # noqa: E402

PERSONS = 100
BATCH = 5_000  # photos per transaction


def build(root: Path, photos: int, second_face_every: int) -> tuple[int, float]:
    """The synthetic project; returns (faces, seconds)."""
    started = time.perf_counter()
    with Project.create(root) as project:
        catalog = project.catalog
        shared = "crops/shared.jpg"
        Image.fromarray(np.full((224, 224, 3), 128, np.uint8)).save(root / shared, "JPEG")
        thumb = "thumbs/shared.jpg"
        Image.fromarray(np.full((112, 112, 3), 128, np.uint8)).save(root / thumb, "JPEG")
        persons = [catalog.ensure_person(f"Person {p:03d}").id for p in range(PERSONS)]
        faces = 0
        for start in range(0, photos, BATCH):
            with catalog.db.write():
                for n in range(start, min(start + BATCH, photos)):
                    photo = catalog.add_photo(
                        path=f"photos/person{n % PERSONS:03d}/{n:06d}.jpg", sha256=f"{n:064x}",
                        size_bytes=2_000_000, width=4032, height=3024, format="JPEG",
                        exif_orientation=1, import_person_id=persons[n % PERSONS])
                    boxes = [(1000.0, 800.0, 1800.0, 1600.0)]
                    if n % second_face_every == 0:
                        boxes.append((2500.0, 900.0, 3000.0, 1400.0))
                    faces += len(catalog.store_faces(photo, [
                        NewFace(box, None, 0.99, False, shared, thumb) for box in boxes],
                        labelled_index=0))
    return faces, time.perf_counter() - started


def measure(name: str, run: Callable[[], object], repeat: int,
            rows: list[tuple[str, float, float, str]], note: str = "") -> None:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    tracemalloc.start()
    run()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rows.append((name, statistics.median(times), peak / 2**20, note))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=50_000)
    parser.add_argument("--second-face-every", type=int, default=5,
                        help="one photo in N holds a second face (default 5: 60,000 faces)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="build the project here and keep it")
    args = parser.parse_args()

    base = args.keep or Path(tempfile.mkdtemp(prefix="facelab-scale-"))
    root = base / "project"
    try:
        if (root / "catalog.sqlite").exists():
            shutil.rmtree(root)
        faces, seconds = build(root, args.photos, args.second_face_every)
        size = (root / "catalog.sqlite").stat().st_size / 2**20
        print(f"built {args.photos:,} photos / {faces:,} faces / {PERSONS} persons in "
              f"{seconds:.1f} s (catalog {size:.1f} MB)")

        rows: list[tuple[str, float, float, str]] = []
        measure("open project", lambda: Project.open(root).close(), args.repeat, rows)
        project = Project.open(root)
        catalog = project.catalog
        person = catalog.person_by_name("Person 042").id
        rng = random.Random(0)
        measure("faces(person_id) [rows]", lambda: catalog.faces(person_id=person),
                args.repeat, rows, f"{len(catalog.faces(person_id=person))} faces")
        measure("face_ids(person_id)", lambda: catalog.face_ids(person_id=person),
                args.repeat, rows)
        measure("face_ids(unlabelled)", lambda: catalog.face_ids(unlabelled=True),
                args.repeat, rows, f"{len(catalog.face_ids(unlabelled=True))} faces")
        all_ids = catalog.face_ids()
        measure("face_ids() all", catalog.face_ids, args.repeat, rows, f"{len(all_ids)} faces")
        target = catalog.person_by_name("Person 007").id

        def relabel_and_undo() -> None:
            chosen = rng.sample(all_ids, 1_000)
            change = catalog.set_labels(chosen, target)
            assert change is not None and len(change.face_ids) >= 990
            assert catalog.undo().action_id == change.action_id

        def relabel_only() -> None:
            catalog.set_labels(rng.sample(all_ids, 1_000), target)

        measure("relabel 1,000 + undo", relabel_and_undo, args.repeat, rows,
                "one set_labels action, then undo")
        measure("relabel 1,000 (set_labels)", relabel_only, args.repeat, rows)
        measure("undo 1,000", catalog.undo, 1, rows)
        measure("stats()", catalog.stats, args.repeat, rows)
        project.close()

        print(f"\n{'operation':<30}{'median':>10}{'py peak':>10}  note")
        for name, median, peak, note in rows:
            flag = "  SLOW" if median > 1.0 else ""
            print(f"{name:<30}{median * 1000:>8.1f}ms{peak:>8.2f}MB  {note}{flag}")
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
        print(f"\npeak RSS of the whole benchmark (build included): {rss:.0f} MB")
    finally:
        if args.keep is None:
            shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
