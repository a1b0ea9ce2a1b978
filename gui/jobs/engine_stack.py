"""Loading the engine's heavy modules (torch, MTCNN, scikit-learn) once, off the UI thread.

torch, SciPy and co. leave some 400,000 objects that live as long as the process. A
full garbage collection walks them all: a third to half a second in which no thread
runs Python, the window included (bench/ui_stall.py measured it during an import).
So no collection runs while they load, and then they are frozen: left out of every
later collection (gc.freeze, what Instagram did for the same reason in its servers).
"""

from __future__ import annotations

import gc
import logging
import threading

from engine.tasks import TaskContext

log = logging.getLogger(__name__)

_lock = threading.Lock()
_loaded = False


def load_engine_stack() -> None:
    """Import everything jobs need from the engine; the first call does the work."""
    global _loaded
    with _lock:
        if _loaded:
            return
        collecting = gc.isenabled()
        gc.disable()
        try:
            import torch  # noqa: F401

            # Also the modules of detection, training and evaluation (with scikit-learn
            # and SciPy): loading compiled modules holds the GIL, a stall better taken
            # right after start-up than in the middle of a user's first import.
            import engine.evaluation.runs  # noqa: F401
            import engine.ingest.detect  # noqa: F401
            import engine.training.runner  # noqa: F401
        finally:
            gc.freeze()
            _loaded = True
            if collecting:
                gc.enable()


def warm_up_engine():
    """A job for the runner: load the engine stack while the user looks at the window,
    and start the crop workers' fork server, so the first import starts at once."""
    def job(ctx: TaskContext) -> None:
        load_engine_stack()
        from engine.ingest.crop_workers import start_crop_server

        try:
            start_crop_server()
        except OSError as exc:  # the crop will say so, and use threads
            log.warning("The crop's fork server cannot start: %s", exc)
    return job
