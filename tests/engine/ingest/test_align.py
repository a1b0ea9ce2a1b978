"""Aligned face chips (engine/ingest/align.py): the transform, real faces, EXIF, the
resumable chip cache, its invalidation, and the centred fallback without landmarks."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine.cli import main as cli_main
from engine.data.cache import load_face_tensors
from engine.ingest import crop_pending, import_paths
from engine.ingest.align import (TEMPLATE_150, AlignSettings, ensure_chips, face_chip,
                                 fallback_transform, landmark_transform, similarity_transform)
from engine.ingest.crop import CropSettings, find_face_crops
from engine.ingest.detect import make_detector
from engine.ingest.images import decode
from engine.project import Project
from engine.tasks import Cancelled, TaskContext

LFW_PHOTOS = ("Colin_Powell", "Tony_Blair", "Serena_Williams", "Junichiro_Koizumi")


def _apply(matrix: np.ndarray, points) -> np.ndarray:
    points = np.asarray(points, dtype=np.float64)
    return points @ matrix[:, :2].T + matrix[:, 2]


def _similarity(angle: float, scale: float, shift: tuple[float, float]) -> np.ndarray:
    c, s = np.cos(angle) * scale, np.sin(angle) * scale
    return np.array([[c, -s, shift[0]], [s, c, shift[1]]])


def test_the_transform_recovers_a_known_similarity_exactly():
    # Landmarks of a face turned 25 degrees, 3.2x larger and moved: the inverse comes back.
    photo_to_chip = _similarity(np.radians(-25), 1 / 3.2, (-40.0, 12.0))
    chip_to_photo = np.vstack([photo_to_chip, [0, 0, 1]])
    landmarks = _apply(np.linalg.inv(chip_to_photo)[:2], TEMPLATE_150)
    matrix = landmark_transform(landmarks, AlignSettings())
    assert np.allclose(matrix, photo_to_chip, atol=1e-9)
    assert np.abs(_apply(matrix, landmarks) - TEMPLATE_150).max() < 1e-9
    # The template scales with the chip size.
    big = landmark_transform(landmarks, AlignSettings(chip_size=300))
    assert np.allclose(_apply(big, landmarks), TEMPLATE_150 * 2, atol=1e-9)


def test_mirrored_landmarks_give_a_rotation_never_a_reflection():
    mirrored = TEMPLATE_150 * np.array([-1.0, 1.0]) + np.array([300.0, 0.0])
    matrix = similarity_transform(mirrored, TEMPLATE_150)
    assert np.linalg.det(matrix[:, :2]) > 0
    # A reflection would fit these points exactly; a rotation cannot.
    assert np.abs(_apply(matrix, mirrored) - TEMPLATE_150).max() > 5


def test_bad_landmarks_are_refused_with_a_reason():
    with pytest.raises(ValueError, match="5 finite"):
        landmark_transform([(1, 2)] * 4, AlignSettings())
    with pytest.raises(ValueError, match="coincide"):
        similarity_transform(np.zeros((5, 2)), TEMPLATE_150)
    with pytest.raises(ValueError, match="chip_size"):
        AlignSettings(chip_size=8)


def test_a_large_face_is_area_reduced_before_the_warp_at_the_right_place(datasets):
    # The same photo 8x larger (a 2000 px face region): its chip, cut through the area
    # reduction, matches the chip of the original photo (no shift, no aliasing).
    import cv2

    image, _ = decode(sorted((datasets / "lfw20" / "Tony_Blair").glob("*.jpg"))[0])
    landmarks = np.array([(104, 113), (146, 113), (125, 137), (108, 160), (143, 160)], float)
    small, _ = face_chip(image, landmarks, (0, 0, 1, 1), False, AlignSettings())
    large_image = cv2.resize(image, None, fx=8, fy=8, interpolation=cv2.INTER_CUBIC)
    # Pixel centres: pixel i of the original spans 8i..8i+8, centred at 8i + 3.5.
    large, _ = face_chip(large_image, landmarks * 8 + 3.5, (0, 0, 1, 1), False,
                         AlignSettings())
    # (measured 0.3; the same chip shifted by 1 px differs by 5.9)
    assert np.abs(small.astype(int) - large).mean() < 1.5


def _lfw_photos(datasets: Path) -> list[Path]:
    return [sorted((datasets / "lfw20" / name).glob("*.jpg"))[0] for name in LFW_PHOTOS]


@pytest.fixture(scope="module")
def mtcnn():
    return make_detector("mtcnn")[0]


@pytest.mark.slow
def test_real_landmarks_land_on_the_template_and_the_chip_shows_them_there(datasets, mtcnn):
    settings = AlignSettings()
    for path in _lfw_photos(datasets):
        image, _ = decode(path)
        face = max(mtcnn.detect(image), key=lambda d: d.box[2] - d.box[0])
        matrix = landmark_transform(face.landmarks, settings)
        residual = np.linalg.norm(_apply(matrix, face.landmarks) - TEMPLATE_150, axis=1)
        # Five points of a real face cannot all fit a rigid template: lfw20 gives a few
        # pixels on a 150 px chip (mean 3.4, max 7.2 over 48 faces measured).
        assert residual.mean() < 8, path
        assert np.linalg.det(matrix[:, :2]) > 0
        # The chip itself: MTCNN finds the same landmarks in it, near the template (in a
        # black margin, since MTCNN finds tight chips poorly).
        chip, aligned = face_chip(image, face.landmarks, face.box, False, settings)
        assert aligned and chip.shape == (150, 150, 3)
        canvas = np.zeros((300, 300, 3), np.uint8)
        canvas[75:225, 75:225] = chip
        found = max(mtcnn.detect(canvas), key=lambda d: d.box[2] - d.box[0])
        again = np.asarray(found.landmarks) - 75
        assert np.linalg.norm(again - TEMPLATE_150, axis=1).mean() < 8, path


def test_a_landmark_free_face_falls_back_to_a_centred_square():
    # A smooth gradient, so the resampling method hardly matters.
    ys, xs = np.mgrid[0:200, 0:300]
    image = np.dstack([xs * 255 // 299, ys * 255 // 199, np.full_like(xs, 90)]).astype(np.uint8)
    settings = AlignSettings()
    chip, aligned = face_chip(image, None, (0, 0, 300, 200), True, settings)
    assert not aligned
    expected = np.asarray(Image.fromarray(image[:, 50:250]).resize((150, 150),
                                                                     Image.Resampling.BILINEAR))
    assert np.abs(chip.astype(int) - expected).mean() < 2
    # A Haar box: a square of the box's side around its centre, upright.
    matrix = fallback_transform((100, 50, 160, 130), False, (300, 200), settings)
    corners = _apply(matrix, [(90, 50), (170, 130)])  # the square's edges
    assert np.allclose(corners, [(-0.5, -0.5), (149.5, 149.5)])


@pytest.mark.slow
def test_an_exif_rotated_photo_gives_the_same_chip(datasets, tmp_path, mtcnn):
    source = _lfw_photos(datasets)[0]
    upright = Image.open(source).convert("RGB")
    folder = tmp_path / "photos" / "Colin_Powell"
    folder.mkdir(parents=True)
    upright.save(folder / "upright.png")
    # Stored turned a quarter to the left; EXIF orientation 6 says "turn right to view".
    exif = Image.Exif()
    exif[0x0112] = 6
    upright.transpose(Image.Transpose.ROTATE_90).save(folder / "rotated.png", exif=exif)
    settings = CropSettings()
    chips = {}
    for name in ("upright.png", "rotated.png"):
        faces, size = find_face_crops(folder / name, settings, mtcnn,
                                      alignment=AlignSettings())
        assert size == upright.size
        chips[name] = max(faces, key=lambda f: f.box[2] - f.box[0]).crop
    assert np.abs(chips["upright.png"].astype(int) - chips["rotated.png"]).mean() < 1.0


# ------------------------------------------------------------------- the chip cache
@pytest.fixture
def celeb(cropped_5celeb, project_copy) -> Project:
    return project_copy(cropped_5celeb)


def _chip_files(project: Project) -> list[Path]:
    return sorted((project.root / "aligned").rglob("*.jpg"))


@pytest.mark.slow
def test_chips_are_resumable_after_a_cancel(celeb):
    faces = celeb.catalog.faces()
    photos = {f.photo_id for f in faces}
    reports = []

    def cancel_after_a_few(progress):
        reports.append(progress)
        if progress.done >= 5:
            ctx.cancel()

    ctx = TaskContext(cancel_after_a_few)
    with pytest.raises(Cancelled):
        ensure_chips(celeb, faces, AlignSettings(), ctx=ctx, workers=1)
    first = {p: p.stat().st_mtime_ns for p in _chip_files(celeb)}
    assert 0 < len(first) < len(faces)
    # No half-written chip: every file there decodes, and no temp file is left.
    for path in first:
        with Image.open(path) as chip:
            assert chip.size == (150, 150)
    assert not [p for p in (celeb.root / "aligned").rglob("*") if p.name.startswith(".")]
    paths = ensure_chips(celeb, faces, AlignSettings())
    assert set(paths) == {f.id for f in faces} and all(p.exists() for p in paths.values())
    assert len(_chip_files(celeb)) == len(faces) and len(photos) > 5
    # The chips cut before the cancel were kept, not cut again.
    assert all(path.stat().st_mtime_ns == mtime for path, mtime in first.items())


KILLED_ALIGNING = """
import os, signal, sys
from engine.ingest.align import AlignSettings, ensure_chips
from engine.project import Project
from engine.tasks import TaskContext

def die_after_five(progress):
    if progress.done >= 5:
        os.kill(os.getpid(), signal.SIGKILL)  # no cleanup, no finally: as a power cut

with Project.open(sys.argv[1]) as project:
    ensure_chips(project, project.catalog.faces(), AlignSettings(), TaskContext(die_after_five))
"""


@pytest.mark.slow
def test_chips_are_resumable_after_a_kill(celeb):
    import os
    import signal
    import subprocess
    import sys

    root = celeb.root
    faces = celeb.catalog.faces()
    celeb.close()  # the killed process opens it for writing
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[3])}
    killed = subprocess.run([sys.executable, "-c", KILLED_ALIGNING, str(root)], env=env,
                            capture_output=True, text=True, timeout=300)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    cut = list((root / "aligned").rglob("*.jpg"))
    assert 0 < len(cut) < len(faces)
    for path in cut:  # whole chips only: a chip is written to a temp, then renamed
        with Image.open(path) as chip:
            chip.load()
    with Project.open(root) as project:  # the lock of the killed process is stale
        paths = ensure_chips(project, project.catalog.faces(), AlignSettings())
    assert len(paths) == len(faces) and all(p.exists() for p in paths.values())


@pytest.mark.slow
def test_other_settings_or_a_changed_photo_give_fresh_chips(datasets, tmp_path):
    folder = tmp_path / "photos" / "Tony_Blair"
    folder.mkdir(parents=True)
    first, second = sorted((datasets / "lfw20" / "Tony_Blair").glob("*.jpg"))[:2]
    shutil.copy(first, folder / "a.jpg")
    with Project.create(tmp_path / "project") as project:
        import_paths(project, [folder.parent], labels_from_folders=True)
        crop_pending(project)
        ids = project.catalog.face_ids()
        before = load_face_tensors(project, ids, 150, alignment=AlignSettings())
        larger = load_face_tensors(project, ids, 150, alignment=AlignSettings(chip_size=200))
        assert len(_chip_files(project)) == 2 * len(ids)  # one per settings
        assert not np.array_equal(before.numpy(), larger.numpy())  # 200 px, resized
        # The photo's content changes: the re-crop makes new faces (possibly under the
        # same ids), and their chips are cut from the new photo, not read from the cache.
        shutil.copy(second, folder / "a.jpg")
        import_paths(project, [folder.parent], labels_from_folders=True)
        crop_pending(project)
        new_ids = project.catalog.face_ids()
        after = load_face_tensors(project, new_ids, 150, alignment=AlignSettings())
        fresh = []
        image, _ = decode(folder / "a.jpg")
        for face in project.catalog.faces_by_ids(new_ids):
            fresh.append(face_chip(image, face.landmarks, face.box, face.whole_image,
                                   AlignSettings())[0])
        # The cached chips went through JPEG once: a few grey levels at most.
        assert np.abs(after.permute(0, 2, 3, 1).numpy().astype(int)
                      - np.stack(fresh)).mean() < 3
        assert np.abs(after.numpy().astype(int) - before.numpy()).mean() > 10


@pytest.mark.slow
def test_haar_faces_and_whole_images_fall_back_and_are_counted(datasets, tmp_path, capsys):
    folder = tmp_path / "photos" / "Serena_Williams"
    folder.mkdir(parents=True)
    for path in sorted((datasets / "lfw20" / "Serena_Williams").glob("*.jpg"))[:2]:
        shutil.copy(path, folder)
    Image.fromarray(np.full((120, 90, 3), 128, np.uint8)).save(folder / "blank.png")
    with Project.create(tmp_path / "project") as project:
        import_paths(project, [folder.parent], labels_from_folders=True)
        crop_pending(project, CropSettings(detector="haar"))
        faces = project.catalog.faces()
        assert faces and not any(f.alignable for f in faces)
        assert any(f.whole_image for f in faces) and any(not f.whole_image for f in faces)
        stats = project.catalog.stats()
        assert stats["aligned_faces"] == 0 and stats["unaligned_faces"] == len(faces)
        x = load_face_tensors(project, [f.id for f in faces], 64, alignment=AlignSettings())
        assert x.shape == (len(faces), 3, 64, 64)
    assert cli_main(["stats", str(tmp_path / "project")]) == 0
    assert (f"0 face(s) with landmarks to align, {len(faces)} framed by a centred crop"
            in capsys.readouterr().out)
