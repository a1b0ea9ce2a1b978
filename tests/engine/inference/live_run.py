"""A 5celeb project with a run that names two persons surely, and a video made of their
photos standing in for a camera: built once per test session (about 30 s on two
cores), for the engine's webcam tests and the GUI's Webcam page.

Only photos the model names right and surely as stills are in the video, so a live
view must name them alike (then which epoch the noisy validation picked as best.pt
does not matter).
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

PERSONS = ("ben_afflek", "madonna")
PHOTOS_PER_PERSON = 8
PHOTOS_IN_VIDEO = 2      # per person, each a segment of the video
# Frames per photo: not a multiple of DETECT_EVERY, so a new photo is only detected
# early if motion says so.
HOLD = 10
DETECT_EVERY = 6


@dataclass(frozen=True)
class LiveRun:
    root: Path
    run_id: str
    video: Path
    segments: tuple[str, ...]  # the person shown in each HOLD-frame segment


def _build(base: Path, datasets: Path) -> LiveRun:
    from engine.data.splits import ensure_split
    from engine.inference.fake_camera import write_photo_video
    from engine.inference.predictor import Predictor
    from engine.ingest import crop_pending, import_paths
    from engine.project import Project
    from engine.training.config import TrainConfig
    from engine.training.runner import train_run

    for person in PERSONS:
        (base / "photos" / person).mkdir(parents=True)
        for photo in sorted((datasets / "5celeb" / person).iterdir())[:PHOTOS_PER_PERSON]:
            shutil.copy2(photo, base / "photos" / person / photo.name)
    with Project.create(base / "project") as project:
        import_paths(project, [base / "photos"], labels_from_folders=True)
        crop_pending(project, workers=2)
        # A few epochs on two persons: the model knows most photos it was trained on.
        config = TrainConfig(arch="customcnn1", epochs=8, batch_size=8, augment="none",
                             pretrained=False, device="cpu", early_stopping_patience=None)
        result = train_run(project, config, evaluate=False)
        assert result.finished.status == "completed", result.finished.message
        catalog = project.catalog
        names = {p.id: p.name for p in catalog.persons()}
        still = Predictor.from_run(project, result.run_id, device="cpu")
        shown: dict[str, list[Path]] = {person: [] for person in PERSONS}
        for face_id, person_id in sorted(ensure_split(catalog).train):
            path = project.resolve(catalog.photo(catalog.face(face_id).photo_id).path)
            # Photos the model names right, and surely, as stills (see the module's text).
            faces = still.predict_image(path)
            if len(faces) == 1 and faces[0].person == names[person_id] \
                    and faces[0].confidence >= 0.8:
                shown[names[person_id]].append(path)
    assert all(len(paths) >= PHOTOS_IN_VIDEO for paths in shown.values()), shown
    segments = [(person, path) for person in PERSONS for path in shown[person][:PHOTOS_IN_VIDEO]]
    video = write_photo_video(base / "camera.avi", [path for _, path in segments], HOLD)
    return LiveRun(base / "project", result.run_id, video, tuple(p for p, _ in segments))


def live_run(tmp_path_factory, datasets: Path) -> LiveRun:
    """The run and its video, built once per test session (a second call reopens it)."""
    base = tmp_path_factory.getbasetemp() / "webcam-run"
    ready = base / "ready.json"
    if ready.exists():
        saved = json.loads(ready.read_text())
        return LiveRun(Path(saved["root"]), saved["run_id"], Path(saved["video"]),
                       tuple(saved["segments"]))
    if base.exists():
        shutil.rmtree(base)
    built = _build(base, datasets)
    ready.write_text(json.dumps({"root": str(built.root), "run_id": built.run_id,
                                 "video": str(built.video), "segments": built.segments}))
    return built
