"""Unknown faces by distance to the known persons (engine/inference/open_set.py).

The slow tests use a real instant faceresnet run on 5celeb with one person held back
(tests/engine/inference/open_set_run.py): that person's faces must come out "unknown",
the known persons' test faces named.
"""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest

from engine.inference import open_set
from engine.inference.open_set import References, ReferencesError
from tests.engine.inference.open_set_run import HELD_BACK, SPLIT
from tests.engine.inference.open_set_run import open_set_run as build_open_set_run


# ------------------------------------------------------------------- fast, no model
def test_person_distances_are_to_each_persons_mean_and_nearest_face():
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(9, 5)).astype(np.float32)
    labels = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2])
    faces = rng.normal(size=(4, 5)).astype(np.float32)
    references = References(vectors, labels)
    to_mean = references.person_distances(faces, 4)
    to_nearest = references.nearest_distances(faces, 4)
    for i, face in enumerate(faces):
        for person in range(3):
            own = vectors[labels == person]
            assert to_mean[i, person] == pytest.approx(
                np.linalg.norm(own.mean(0) - face), abs=1e-5)
            assert to_nearest[i, person] == pytest.approx(
                np.linalg.norm(own - face, axis=1).min(), abs=1e-5)
    # A person without references is never near.
    assert np.isinf(to_mean[:, 3]).all() and np.isinf(to_nearest[:, 3]).all()


def test_the_runs_limit_separates_its_own_faces_from_other_persons():
    # Two persons, far apart: validation faces lie near their own centroid (0.1) and
    # far from the other's (about 2); the limit falls between, at a known face's distance.
    train = References(np.array([[0, 0], [0, 0.2], [2, 0], [2, 0.2]], np.float32),
                       np.array([0, 0, 1, 1]))
    val = np.array([[0.05, 0.1], [1.95, 0.1]], np.float32)
    limit = open_set.calibrate_max_distance(train, val, np.array([0, 1]), persons=2)
    assert 0.04 < limit < 1.9
    assert open_set.calibrate_max_distance(train, val[:1], np.array([0]), persons=2) is None


def test_rule_is_distance_with_references_and_confidence_without():
    assert open_set.is_unknown(0.99, 0.7, threshold=0.5, max_distance=0.6)   # sure, but far
    assert not open_set.is_unknown(0.3, 0.4, threshold=0.5, max_distance=0.6)  # unsure, but near
    assert open_set.is_unknown(0.3, None, threshold=0.5, max_distance=None)
    assert not open_set.is_unknown(0.7, None, threshold=0.5, max_distance=None)


def test_references_round_trip_and_a_crafted_file_is_refused(tmp_path):
    saved = References(np.ones((3, 4), np.float32), np.array([0, 1, 1]), max_distance=0.42)
    open_set.save_references(tmp_path, saved)
    loaded = open_set.load_references(tmp_path, persons=2)
    assert np.array_equal(loaded.vectors, saved.vectors)
    assert loaded.labels.tolist() == [0, 1, 1] and loaded.max_distance == 0.42
    assert open_set.run_max_distance(tmp_path) == 0.42
    assert open_set.run_unknown_rule(tmp_path) == open_set.DISTANCE
    with pytest.raises(ReferencesError, match="outside"):  # labels of another run
        open_set.load_references(tmp_path, persons=1)

    path = tmp_path / open_set.REFERENCES_FILE
    # An archive whose arrays are pickled objects: loading them would run code.
    np.savez(path.open("wb"), vectors=np.array([{"x": 1}], dtype=object), labels=np.zeros(1))
    with pytest.raises(ReferencesError, match="not a FaceLab references file"):
        open_set.load_references(tmp_path, persons=2)
    path.write_bytes(pickle.dumps({"vectors": [1.0]}))  # a plain pickle under the name
    with pytest.raises(ReferencesError, match="not a FaceLab references file"):
        open_set.load_references(tmp_path, persons=2)
    assert open_set.load_references(tmp_path / "none", persons=2) is None
    assert open_set.run_unknown_rule(tmp_path / "none") == open_set.CONFIDENCE


def test_max_distance_must_be_a_number_at_least_zero():
    for bad in (-0.1, float("nan"), "0.6", True):
        with pytest.raises(ValueError, match="maximum distance"):
            open_set.check_max_distance(bad)
    assert open_set.check_max_distance(0) == 0.0


# ------------------------------------------------------------- real faceresnet run
@pytest.fixture(scope="module")
def open_set_run(tmp_path_factory, cropped_5celeb):
    return build_open_set_run(tmp_path_factory, cropped_5celeb)


def split_faces(project, persons_known: bool, alignment):
    """RGB face images of the split's test faces of the known persons (or of the
    held-back one), framed as the run's model saw faces, and their person names."""
    from engine.data.cache import load_face_tensors

    names = {p.id: p.name for p in project.catalog.persons()}
    person_of = {f.id: f.person_id for f in project.catalog.faces()}
    split = project.catalog.split(SPLIT)
    faces = [f for f, subset in project.catalog.split_assignments(split.id).items()
             if subset == "test" and (names[person_of[f]] != HELD_BACK) == persons_known]
    x = load_face_tensors(project, faces, 150, alignment=alignment)
    return list(x.permute(0, 2, 3, 1).numpy()), [names[person_of[f]] for f in faces]




@pytest.mark.slow
def test_held_back_persons_faces_come_out_unknown_by_distance_and_known_ones_are_named(
        open_set_run):
    from engine.inference.predictor import UNKNOWN, Predictor
    from engine.project import Project

    with Project.open(open_set_run.root, readonly=True) as project:
        predictor = Predictor.from_run(project, open_set_run.faceresnet_run, device="cpu")
        assert predictor.unknown_rule == open_set.DISTANCE
        # The run's own limit, found on its validation faces, is the default.
        limit = open_set.load_references(
            project.resolve_inside(project.catalog.runs.get(open_set_run.faceresnet_run).run_dir),
            len(predictor.class_names)).max_distance
        assert limit is not None and predictor.max_distance == limit
        assert HELD_BACK not in predictor.class_names
        strangers, _ = split_faces(project, persons_known=False, alignment=predictor.alignment)
        known, truth = split_faces(project, persons_known=True, alignment=predictor.alignment)
    assert len(strangers) >= 15 and len(known) >= 15

    stranger_labels = predictor.predict_crops(strangers)
    rejected = [label.is_unknown for label in stranger_labels]
    distances = [round(label.distance, 2) for label in stranger_labels]
    assert np.mean(rejected) >= 0.9, (limit, distances)
    assert all(label.person == UNKNOWN for label in stranger_labels if label.is_unknown)

    known_labels = predictor.predict_crops(known)
    known_rejected = np.mean([label.is_unknown for label in known_labels])
    accepted = [(label, name) for label, name in zip(known_labels, truth) if not label.is_unknown]
    report = (limit, [round(label.distance, 2) for label in known_labels], distances)
    assert known_rejected <= 0.15, report
    assert np.mean([label.person == name for label, name in accepted]) >= 0.95, report
    assert np.median([label.distance for label in known_labels]) < np.median(distances)
    assert all(label.distance <= limit for label, _ in accepted)

    predictor.max_distance = 10.0  # far enough for anyone: the strangers get names
    assert not any(label.is_unknown for label in predictor.predict_crops(strangers))


@pytest.mark.slow
def test_a_run_without_references_still_predicts_by_confidence(open_set_run, project_copy):
    from engine.evaluation.runs import run_checkpoint
    from engine.inference.predictor import Predictor

    project = project_copy(open_set_run.root)
    checkpoint = run_checkpoint(project, open_set_run.faceresnet_run)
    (checkpoint.parent / open_set.REFERENCES_FILE).unlink()  # as saved before references
    predictor = Predictor.from_run(project, open_set_run.faceresnet_run, threshold=0.5,
                                   device="cpu", max_distance=0.3)
    assert predictor.unknown_rule == open_set.CONFIDENCE and predictor.max_distance is None
    known, truth = split_faces(project, persons_known=True, alignment=predictor.alignment)
    labels = predictor.predict_crops(known)
    assert all(label.distance is None for label in labels)
    assert [label.is_unknown for label in labels] == [label.confidence < 0.5 for label in labels]
    # The same model: its best guesses are the same as with references.
    assert np.mean([label.top[0][0] == name for label, name in zip(labels, truth)]) >= 0.8

    # A crafted file in its place is refused with the reason, before any face is named.
    (checkpoint.parent / open_set.REFERENCES_FILE).write_bytes(pickle.dumps([1, 2, 3]))
    with pytest.raises(ReferencesError, match="delete it"):
        Predictor.from_run(project, open_set_run.faceresnet_run, device="cpu")


def rejected_stranger_photo(open_set_run):
    """A photo of the held-back person whose faces all come out unknown, and the
    predictor that says so."""
    from engine.inference.predictor import Predictor
    from engine.project import Project

    with Project.open(open_set_run.root, readonly=True) as project:
        predictor = Predictor.from_run(project, open_set_run.faceresnet_run, device="cpu")
        photos = sorted(project.resolve(p.path) for p in project.catalog.photos())
    for photo in (p for p in photos if p.parent.name == HELD_BACK):
        faces = predictor.predict_image(photo)
        if not faces[0].whole_image and all(face.is_unknown for face in faces):
            return photo, predictor
    raise AssertionError("no photo of the held-back person comes out unknown")


@pytest.mark.slow
def test_predict_cli_says_the_distance_and_takes_max_distance(open_set_run, capsys):
    from engine.cli import main

    stranger, _ = rejected_stranger_photo(open_set_run)
    args = [str(open_set_run.root), str(stranger), "--run", open_set_run.faceresnet_run]

    assert main(["predict", *args, "--json"]) == 0
    faces = json.loads(capsys.readouterr().out)[0]["faces"]
    assert all(isinstance(face["distance"], float) for face in faces)
    assert any(face["unknown"] for face in faces)

    assert main(["predict", *args, "--max-distance", "10"]) == 0
    out, err = capsys.readouterr()
    assert "farther than 10 from the named person's known faces" in err and "distance" in out
    assert "unknown (closest" not in out

    assert main(["predict", str(open_set_run.root), str(stranger), "--json",
                 "--run", open_set_run.confidence_run]) == 0
    assert all(face["distance"] is None
               for face in json.loads(capsys.readouterr().out)[0]["faces"])


@pytest.mark.slow
def test_reference_embeddings_are_the_runs_own_known_faces(open_set_run):
    """The file holds every training and validation face of the four known persons,
    embedded in 128 dimensions."""
    from engine.evaluation.runs import run_checkpoint
    from engine.project import Project

    with Project.open(open_set_run.root, readonly=True) as project:
        run_dir = run_checkpoint(project, open_set_run.faceresnet_run).parent
        persons = project.catalog.runs.get(open_set_run.faceresnet_run).persons
        split = project.catalog.split(SPLIT)
        fitted = sum(subset in ("train", "val")
                     for subset in project.catalog.split_assignments(split.id).values())
        other = run_checkpoint(project, open_set_run.confidence_run).parent
    references = open_set.load_references(run_dir, len(persons))
    assert references.vectors.shape == (fitted, 128)
    assert sorted(set(references.labels.tolist())) == list(range(4))
    assert not (other / open_set.REFERENCES_FILE).exists()  # customcnn1: no embedder


@pytest.mark.slow
def test_the_live_pipeline_judges_by_distance_and_takes_a_new_limit_while_running(
        open_set_run):
    from PIL import Image

    from engine.inference.camera import Frame
    from engine.inference.live_pipeline import FramePipeline

    stranger, predictor = rejected_stranger_photo(open_set_run)
    with Image.open(stranger) as image:
        rgb = np.asarray(image.convert("RGB"))
    pipeline = FramePipeline(predictor)
    assert pipeline.unknown_rule == open_set.DISTANCE
    assert pipeline.max_distance == predictor.max_distance

    faces = pipeline.process(Frame(0, 0.0, rgb)).faces
    assert faces and all(face.distance is not None for face in faces)
    for face in faces:  # the caption says how far, whichever way the face went
        assert f"distance {face.distance:.2f}" in face.caption()

    pipeline.set_max_distance(0.0)  # nobody is that close: everyone is a stranger
    faces = pipeline.process(Frame(1, 0.05, rgb)).faces
    assert faces and all(face.is_unknown for face in faces)
    assert faces[0].caption().startswith(f"unknown (closest: {faces[0].top[0][0]}, distance ")

    pipeline.set_max_distance(10.0)  # as the Webcam page's slider does, from its thread
    faces = pipeline.process(Frame(1, 0.1, rgb)).faces
    assert faces and not any(face.is_unknown for face in faces)
    assert predictor.max_distance == pipeline.predictor.references.max_distance  # left as it was
    with pytest.raises(ValueError, match="maximum distance"):
        pipeline.set_max_distance(-1)
