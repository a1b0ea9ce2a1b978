"""Face finding in worker processes, for the desktop app.

In the app, the crop shares its process with the window. MTCNN's convolutions release
the GIL, but facenet-pytorch runs a good deal of Python between them (the image
pyramid, box merging, non-maximum suppression), and with two crop threads holding the
GIL most of the time the window's thread waits for it at every item it paints:
bench/ui_stall.py measured 60-140 ms stalls during an import of 2,000 photos. In
processes of their own the workers have their own GIL: the app's process only commits
their results to the catalog.

Where the platform has a fork server (Linux, macOS), it is started once per app session
with torch and MTCNN already imported (``start_crop_server``; the app does it while the
user looks at the window), so each crop's workers are forked from it in a moment.
Elsewhere (Windows) each worker is a fresh interpreter that imports torch (seconds),
which only pays off for larger crops (``SPAWN_MIN_PHOTOS``); smaller ones use threads.

The command line and scripts crop with threads (engine/ingest/crop.py): no window to
keep responsive, and no start-up to pay.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from engine.catalog import Photo
from engine.ingest.crop import CropSettings, PhotoCropResult, crop_photo
from engine.ingest.detect import FaceDetector, make_detector

# Below this many photos, a spawned (not forked) worker's start-up, a few seconds of
# importing torch, costs more than the crop itself: threads do it.
SPAWN_MIN_PHOTOS = 32
# As the app's job threads (gui/jobs/runner.py), below the window's thread.
WORKER_NICENESS = 10
# What the fork server imports once, so that forked workers start with it loaded.
_SERVER_PRELOAD = [__name__, "facenet_pytorch"]

_detector: FaceDetector | None = None
_settings: CropSettings | None = None


def has_fork_server() -> bool:
    return "forkserver" in multiprocessing.get_all_start_methods()


def process_context() -> multiprocessing.context.BaseContext:
    """How crop workers start: forked from the fork server where there is one (never
    forked from the app itself, whose Qt and job threads a fork would copy mid-state),
    else spawned."""
    return multiprocessing.get_context("forkserver" if has_fork_server() else "spawn")


def start_crop_server() -> bool:
    """Start the fork server (torch and MTCNN imported in it), if the platform has one
    and it is not running yet. Takes the seconds of those imports; returns whether a
    fork server is running."""
    if not has_fork_server():
        return False
    from multiprocessing import forkserver

    context = multiprocessing.get_context("forkserver")
    # Only heeded before the server starts: a server already started (by this function,
    # or by anything else in the process) keeps what it preloaded, which only costs
    # the workers their imports.
    context.set_forkserver_preload(_SERVER_PRELOAD)
    forkserver.ensure_running()
    return True


def use_processes(pending: int) -> bool:
    """Whether a crop of ``pending`` photos is worth worker processes."""
    return pending > 0 and (has_fork_server() or pending >= SPAWN_MIN_PHOTOS)


def open_crop_pool(detector_kind: str, settings: CropSettings,
                   workers: int) -> ProcessPoolExecutor:
    """A pool of ``workers`` crop processes, each with its own detector."""
    start_crop_server()
    return ProcessPoolExecutor(workers, mp_context=process_context(),
                               initializer=_start_worker, initargs=(detector_kind, settings))


def _start_worker(detector_kind: str, settings: CropSettings) -> None:
    global _detector, _settings
    if hasattr(os, "setpriority"):
        try:
            # The niceness of the app's job threads: the window gets a core first. Set,
            # not added: a worker may inherit it already (forked from a server that a job
            # thread started).
            current = os.getpriority(os.PRIO_PROCESS, 0)
            os.setpriority(os.PRIO_PROCESS, 0, max(current, WORKER_NICENESS))
        except OSError:
            pass
    import cv2
    import torch

    torch.set_num_threads(1)  # one process per core already; more threads only fight
    cv2.setNumThreads(1)
    _settings = settings
    _detector = make_detector(detector_kind, min_face_size=settings.min_face_size,
                              min_score=settings.min_score)[0]


def crop_in_worker(photo: Photo, path: Path, root: Path) -> PhotoCropResult:
    """crop_photo in a worker process (its crops and thumbnails written from there)."""
    assert _detector is not None and _settings is not None, "not a crop worker process"
    return crop_photo(photo, path, root, _settings, _detector)
