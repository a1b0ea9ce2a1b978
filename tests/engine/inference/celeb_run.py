"""A small 5celeb project with a tiny trained run: built once per test session.

The inference and CLI tests each use it through a module-scoped fixture; the first
one to ask builds it (about 15 s on two cores), the others reopen the same folder.
Only a few photos per person are imported: enough for a 5-person model, while the
whole set would triple the crop time.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from engine.ingest.crop import CropSettings

PHOTOS_PER_PERSON = 4
# The one 5celeb photo in which MTCNN finds exactly two confident faces side by side.
TWO_FACE_PHOTO = "elton_john/train__httpssmediacacheakpinimgcomxfcfcbaeaeddabbjpg.jpg"
# Not the default margin, so a predictor that ignored the project's settings would show.
CROP_SETTINGS = CropSettings(margin=0.3)


@dataclass(frozen=True)
class CelebRun:
    root: Path          # the project folder
    run_id: str
    two_face_photo: Path  # the imported copy of TWO_FACE_PHOTO


def _copy_photos(source: Path, target: Path) -> Path:
    for person in sorted(p for p in source.iterdir() if p.is_dir()):
        for photo in sorted(person.iterdir())[:PHOTOS_PER_PERSON]:
            (target / person.name).mkdir(parents=True, exist_ok=True)
            shutil.copy2(photo, target / person.name / photo.name)
    two_faces = target / TWO_FACE_PHOTO
    shutil.copy2(source / TWO_FACE_PHOTO, two_faces)
    return two_faces


def _build(base: Path, datasets: Path) -> CelebRun:
    from engine.ingest import crop_pending, import_paths
    from engine.project import Project
    from engine.training.config import TrainConfig
    from engine.training.runner import train_run

    two_faces = _copy_photos(datasets / "5celeb", base / "photos")
    with Project.create(base / "project") as project:
        imported = import_paths(project, [base / "photos"], labels_from_folders=True)
        assert imported.skipped == {}
        cropped = crop_pending(project, CROP_SETTINGS, workers=2)
        assert cropped.errors == {} and not cropped.cancelled
        config = TrainConfig(arch="customcnn1", epochs=1, batch_size=16, augment="none",
                             pretrained=False, device="cpu", early_stopping_patience=None)
        result = train_run(project, config, evaluate=False)
        assert result.finished.status == "completed", result.finished.message
    return CelebRun(base / "project", result.run_id, two_faces)


def celeb_run(tmp_path_factory, datasets: Path) -> CelebRun:
    base = tmp_path_factory.getbasetemp() / "celeb-run"
    ready = base / "ready.json"
    if ready.exists():
        saved = json.loads(ready.read_text())
        return CelebRun(Path(saved["root"]), saved["run_id"], Path(saved["two_face_photo"]))
    if base.exists():  # a build that failed half-way: start afresh
        shutil.rmtree(base)
    built = _build(base, datasets)
    ready.write_text(json.dumps({"root": str(built.root), "run_id": built.run_id,
                                 "two_face_photo": str(built.two_face_photo)}))
    return built
