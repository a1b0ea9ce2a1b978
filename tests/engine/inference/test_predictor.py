"""The predictor names faces of real photos as the import framed them."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from engine.data.cache import load_face_tensors
from engine.ingest.images import ImageReadError, decode
from engine.inference.predictor import UNKNOWN, Predictor
from engine.training.inference import predict_probs

pytestmark = pytest.mark.slow


def iou(a, b) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    area = lambda r: (r[2] - r[0]) * (r[3] - r[1])  # noqa: E731
    return inter / (area(a) + area(b) - inter)


def stored_faces(project, path):
    photo = project.catalog.photo_by_path(project.stored_path(path))
    return [f for f in project.catalog.faces(photo_id=photo.id) if not f.whole_image]


def test_two_faces_are_found_where_the_import_found_them(predictor, celeb_project, celeb_run):
    stored = stored_faces(celeb_project, celeb_run.two_face_photo)
    assert len(stored) == 2

    faces = predictor.predict_image(celeb_run.two_face_photo)

    assert len(faces) == 2
    for face, expected in zip(faces, stored):  # both left to right
        assert iou(face.box, expected.box) > 0.9
        assert not face.whole_image and face.score >= 0.9 and len(face.landmarks) == 5
        assert face.person in predictor.class_names and not face.is_unknown
        assert len(face.top) == 3 and face.top[0] == (face.person, face.confidence)
        probs = [p for _, p in face.top]
        assert probs == sorted(probs, reverse=True) and 0.0 < face.confidence <= 1.0


def test_crops_are_cut_with_the_projects_settings(predictor, celeb_project, celeb_run):
    assert predictor.crop_settings.margin == 0.3  # what the import used, not the default
    stored = stored_faces(celeb_project, celeb_run.two_face_photo)
    for face, expected in zip(predictor.find_faces(celeb_run.two_face_photo), stored):
        saved = np.asarray(Image.open(celeb_project.resolve(expected.crop_path)), np.int16)
        assert face.crop.shape == saved.shape
        assert np.abs(face.crop.astype(np.int16) - saved).mean() < 3  # the JPEG round trip


def test_a_crop_is_scored_exactly_as_in_training(predictor, celeb_project, celeb_run):
    stored = stored_faces(celeb_project, celeb_run.two_face_photo)
    crops = [np.asarray(Image.open(celeb_project.resolve(f.crop_path))) for f in stored]

    labels = predictor.predict_crops(crops)

    cached = load_face_tensors(celeb_project, [f.id for f in stored], predictor.input_size)
    expected = predict_probs(predictor.trained.model, cached, predictor.trained.spec)
    for label, probs in zip(labels, expected):
        best = int(np.argmax(probs))
        assert label.top[0][0] == predictor.class_names[best]
        assert label.confidence == pytest.approx(float(probs[best]), abs=1e-6)


def test_an_array_is_predicted_like_its_file(predictor, celeb_run):
    rgb, _ = decode(celeb_run.two_face_photo)
    from_file = predictor.predict_image(celeb_run.two_face_photo)
    from_array = predictor.predict_image(rgb)
    assert [f.person for f in from_array] == [f.person for f in from_file]
    for a, b in zip(from_array, from_file):
        assert a.box == pytest.approx(b.box) and a.confidence == pytest.approx(b.confidence)


def test_a_threshold_above_one_makes_every_face_unknown(celeb_project, celeb_run):
    strict = Predictor.from_run(celeb_project, celeb_run.run_id, threshold=1.01, device="cpu")
    faces = strict.predict_image(celeb_run.two_face_photo)
    assert len(faces) == 2
    for face in faces:
        assert face.is_unknown and face.person == UNKNOWN
        assert face.top[0][0] in strict.class_names  # the best guess is still told


def test_a_photo_without_a_face_is_classified_whole(predictor, tmp_path):
    path = tmp_path / "wall.png"
    gradient = np.linspace(0, 255, 300, dtype=np.uint8)
    Image.fromarray(np.stack([np.tile(gradient, (200, 1))] * 3, axis=-1)).save(path)

    [face] = predictor.predict_image(path)

    assert face.whole_image and face.box == (0.0, 0.0, 300.0, 200.0)
    assert face.score is None and face.landmarks is None
    assert face.person in predictor.class_names or face.is_unknown


def test_an_unreadable_file_raises_with_the_reason(predictor, tmp_path):
    path = tmp_path / "notes.jpg"
    path.write_text("not a photo")
    with pytest.raises(ImageReadError, match="not an image"):
        predictor.predict_image(path)


@pytest.mark.parametrize("threshold", [-0.1, float("nan"), "0.5"])
def test_a_nonsense_threshold_is_refused(celeb_project, celeb_run, threshold):
    with pytest.raises(ValueError, match="threshold"):
        Predictor.from_run(celeb_project, celeb_run.run_id, threshold=threshold, device="cpu")
