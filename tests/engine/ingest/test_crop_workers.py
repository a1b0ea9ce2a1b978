"""The crop in worker processes (what the desktop app uses): the same faces as the
threaded crop, cancel and resume, and a worker that dies mid-crop."""

from __future__ import annotations

import multiprocessing
import os
import signal

import pytest

from engine.ingest import crop_pending, import_paths
from engine.ingest.crop import CropWorkerError
from engine.ingest.crop_workers import SPAWN_MIN_PHOTOS, has_fork_server, use_processes
from engine.project import Project
from engine.tasks import TaskContext

pytestmark = pytest.mark.slow


def _project(datasets, tmp_path, name: str, person: str = "ben_afflek") -> Project:
    project = Project.create(tmp_path / name)
    import_paths(project, [datasets / "5celeb" / person], labels_from_folders=True)
    return project


def _faces(project: Project) -> dict[str, list[tuple]]:
    """photo file name -> its samples (box rounded, whole-image flag, labelled?)."""
    found = {}
    for photo in project.catalog.photos():
        found[photo.path.rsplit("/", 1)[-1]] = sorted(
            (tuple(round(v, 1) for v in f.box), f.whole_image, f.person_id is not None)
            for f in project.catalog.faces(photo_id=photo.id))
    return found


def test_processes_find_the_same_faces_as_threads(datasets, tmp_path):
    with _project(datasets, tmp_path, "threads", "mindy_kaling") as threaded, \
            _project(datasets, tmp_path, "processes", "mindy_kaling") as in_processes:
        by_threads = crop_pending(threaded, workers=2)
        by_processes = crop_pending(in_processes, workers=2, processes=True)
        assert by_processes.errors == {} and not by_processes.cancelled
        assert (by_processes.photos, by_processes.faces, by_processes.no_face) == (
            by_threads.photos, by_threads.faces, by_threads.no_face)
        assert _faces(in_processes) == _faces(threaded)
        crops = [p for p in (in_processes.root / "crops").rglob("*.jpg")]
        assert len(crops) == len(in_processes.catalog.faces())  # written by the workers


def test_a_cancelled_process_crop_resumes_where_it_stopped(datasets, tmp_path):
    with _project(datasets, tmp_path, "project") as project:
        total = len(project.catalog.photos())
        ctx = TaskContext()

        def on_progress(progress):
            if progress.done == 4:
                ctx.cancel()

        ctx._on_progress = on_progress
        report = crop_pending(project, ctx=ctx, workers=2, processes=True)
        assert report.cancelled and 4 <= report.photos < total
        assert len(project.catalog.photos("pending")) == total - report.photos
        resumed = crop_pending(project, workers=2, processes=True)
        assert resumed.photos == total - report.photos and not resumed.cancelled
        assert project.catalog.stats()["labeled_faces"] == total


def test_a_worker_killed_mid_crop_stops_the_crop_and_loses_nothing(datasets, tmp_path):
    with _project(datasets, tmp_path, "project") as project:
        total = len(project.catalog.photos())
        ctx = TaskContext()
        killed = []

        def on_progress(progress):
            if progress.done == 3 and not killed:
                workers = multiprocessing.active_children()
                assert workers, "the crop should run in worker processes"
                os.kill(workers[0].pid, signal.SIGKILL)
                killed.append(workers[0].pid)

        ctx._on_progress = on_progress
        with pytest.raises(CropWorkerError, match="crop again"):
            crop_pending(project, ctx=ctx, workers=2, processes=True)
        assert killed
        committed = total - len(project.catalog.photos("pending"))
        assert 3 <= committed < total
        again = crop_pending(project, workers=2, processes=True)
        assert again.errors == {} and again.photos == total - committed
        stats = project.catalog.stats()
        assert stats["pending_photos"] == 0 and stats["labeled_faces"] == total


def test_small_crops_use_threads_only_where_workers_are_spawned():
    assert not use_processes(0)
    if has_fork_server():
        assert use_processes(1)
    else:
        assert not use_processes(SPAWN_MIN_PHOTOS - 1) and use_processes(SPAWN_MIN_PHOTOS)


@pytest.mark.skipif(not hasattr(os, "getpriority"), reason="POSIX niceness")
def test_workers_run_below_the_windows_priority():
    from engine.ingest import CropSettings
    from engine.ingest.crop_workers import WORKER_NICENESS, open_crop_pool

    with open_crop_pool("haar", CropSettings(detector="haar"), 1) as pool:
        niceness = pool.submit(os.getpriority, os.PRIO_PROCESS, 0).result(timeout=120)
    assert niceness == max(WORKER_NICENESS, os.getpriority(os.PRIO_PROCESS, 0))


def test_where_worker_processes_cannot_start_threads_do_the_crop(datasets, tmp_path, monkeypatch,
                                                                 caplog):
    from engine.ingest import crop_workers

    def no_processes(*args, **kwargs):
        raise OSError("Function not implemented: no /dev/shm")

    monkeypatch.setattr(crop_workers, "open_crop_pool", no_processes)
    monkeypatch.setattr(crop_workers, "use_processes", lambda pending: True)
    with _project(datasets, tmp_path, "project", "madonna") as project:
        report = crop_pending(project, workers=2, processes=True)
        assert report.errors == {} and report.photos == len(project.catalog.photos())
        assert project.catalog.photos("pending") == []
    assert "found in threads instead" in caplog.text and "no /dev/shm" in caplog.text
