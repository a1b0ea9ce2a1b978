"""Live classification end to end: a video made of real 5celeb photos stands in for the
camera, and a small run trained on the same persons names them."""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest

from engine.cli import main
from engine.inference.camera import FrameSource
from engine.inference.live_pipeline import FramePipeline, LiveSettings
from engine.inference.predictor import UNKNOWN, Predictor
from engine.inference.webcam import PREDICTED, LiveLoop, snapshot_to_project
from tests.engine.inference.live_run import DETECT_EVERY, HOLD, PERSONS, LiveRun
from tests.engine.inference.live_run import live_run as build_live_run

pytestmark = pytest.mark.slow

SETTINGS = LiveSettings(detect_every=DETECT_EVERY)


@pytest.fixture(scope="module")
def live_run(tmp_path_factory, datasets) -> LiveRun:
    return build_live_run(tmp_path_factory, datasets)


@pytest.fixture(scope="module")
def predictor(live_run):
    from engine.project import Project

    with Project.open(live_run.root, readonly=True) as project:
        return Predictor.from_run(project, live_run.run_id, threshold=0.5, device="cpu")


def run_live(predictor, video, *, every_frame=True, settings=SETTINGS, on_result=None,
             **kwargs):
    results = []
    pipeline = FramePipeline(predictor, settings)

    def collect(result):
        results.append(result)
        if on_result is not None:
            on_result(pipeline, result)

    loop = LiveLoop(FrameSource(video, pace=not every_frame), pipeline, on_result=collect,
                    every_frame=every_frame, **kwargs)
    return loop.run(), results


def test_cli_names_the_person_of_each_segment_and_reuses_detections(live_run, capsys):
    code = main(["webcam", str(live_run.root), "--run", live_run.run_id, "--source",
                 str(live_run.video), "--json", "--every-frame", "--detect-every", "6"])
    out, err = capsys.readouterr()
    assert code == 0, err
    frames = [json.loads(line) for line in out.splitlines()]
    assert [f["frame"] for f in frames] == list(range(HOLD * len(live_run.segments)))
    assert "end of video" in err
    for segment, person in enumerate(live_run.segments):
        shown = frames[segment * HOLD:(segment + 1) * HOLD]
        named = [f["faces"][0]["person"] if len(f["faces"]) == 1 else None for f in shown]
        assert named.count(person) >= 0.8 * HOLD, (segment, person, named)
        # A new photo is detected at once (motion), then its boxes are reused.
        assert shown[0]["detect_ran"]
        assert sum(not f["detect_ran"] for f in shown) >= HOLD // 2
        face = shown[-1]["faces"][0]
        assert set(face) == {"box", "person", "confidence", "unknown", "track", "top",
                             "distance"}
        assert face["distance"] is None  # a customcnn1 run: judged by confidence
        assert 0 <= face["box"][0] < face["box"][2] <= 640 and not face["unknown"]
    assert all(f["fps"] >= 0 and f["latency_ms"] > 0 and f["dropped"] == 0 for f in frames)


def test_real_time_with_a_slow_consumer_drops_frames_but_stays_right(predictor, live_run):
    summary, results = run_live(predictor, live_run.video, every_frame=False,
                                on_result=lambda pipeline, result: threading.Event().wait(0.15))
    assert summary.ended == "end of video" and summary.dropped > 0
    assert summary.frames + summary.dropped <= summary.captured
    assert results[-1].index - results[0].index >= len(results)  # frames were skipped
    for result in results:
        if result.faces:
            assert result.faces[0].person == live_run.segments[result.index // HOLD]


def test_threshold_changed_while_running_applies_to_the_next_frames(predictor, live_run):
    def raise_threshold(pipeline, result):
        if result.index == 4:
            pipeline.set_threshold(1.01)  # above 1: everyone is unknown

    _, results = run_live(predictor, live_run.video, on_result=raise_threshold,
                          max_frames=10)
    before, after = results[:5], results[5:]
    assert all(not f.is_unknown for r in before for f in r.faces)
    assert all(f.is_unknown and f.person == UNKNOWN for r in after for f in r.faces)
    assert sum(len(r.faces) for r in after) >= 4
    with pytest.raises(ValueError):
        FramePipeline(predictor).set_threshold(-1)


def test_gradcam_is_off_by_default_and_rate_limited_when_on(predictor, live_run):
    _, plain = run_live(predictor, live_run.video, max_frames=3)
    assert all(r.gradcam is None for r in plain)

    def switch_on(pipeline, result):
        if result.index == 0:
            pipeline.set_gradcam(True)

    settings = LiveSettings(detect_every=6, gradcam_interval_s=3600)
    _, results = run_live(predictor, live_run.video, settings=settings, on_result=switch_on,
                          max_frames=6)
    explained = [r for r in results if r.gradcam is not None]
    assert [r.index for r in explained] == [1]  # once, then not again within the hour
    cam = explained[0].gradcam
    assert cam.overlay.shape == (224, 224, 3) and cam.overlay.dtype == np.uint8
    assert cam.track_id == explained[0].faces[0].track_id and cam.person in PERSONS


def test_snapshot_adds_the_frame_as_a_photo_with_labelled_faces(predictor, live_run,
                                                               project_copy):
    project = project_copy(live_run.root)
    _, results = run_live(predictor, live_run.video, max_frames=HOLD + 1)
    first, second = results[0], results[HOLD]
    photos_before = len(project.catalog.photos())

    predicted = snapshot_to_project(project, first.frame, first.faces, PREDICTED)
    chosen = snapshot_to_project(project, second.frame, second.faces, "Newcomer")
    again = snapshot_to_project(project, first.frame, first.faces, PREDICTED)

    assert len(project.catalog.photos()) == photos_before + 2
    for snap in (predicted, chosen):
        assert snap.photo_path.parent == project.root / "webcam" and snap.photo_path.is_file()
        photo = project.catalog.photo(snap.photo_id)
        assert photo.path.startswith("webcam/") and photo.status == "done"
        assert len(snap.labelled) == 1
    face = project.catalog.face(predicted.labelled[0][0])
    assert predicted.labelled[0][1] == live_run.segments[0] and face.label_source == "model"
    face = project.catalog.face(chosen.labelled[0][0])
    assert face.label_source == "user"
    assert face.person_id == project.catalog.person_by_name("Newcomer").id
    assert project.resolve(face.crop_path).is_file()
    assert again.photo_id is None and again.labelled == ()  # the same picture, not twice


def test_a_frame_without_a_face_gives_no_face_not_the_whole_frame(predictor):
    pipeline = FramePipeline(predictor, SETTINGS)
    blank = np.full((480, 640, 3), 128, np.uint8)
    blank.flags.writeable = False
    from engine.inference.camera import Frame

    first = pipeline.process(Frame(0, 0.0, blank))
    second = pipeline.process(Frame(1, 0.1, blank))
    assert first.faces == () and first.detect_ran
    assert second.faces == () and not second.detect_ran  # steady: nothing to look for again
