"""How long the UI thread stalls while the app works: the longest gap, and the 99th
percentile, between ticks of a 5 ms timer on the main window's event loop.

A real main window (offscreen, or under Xvfb with --xvfb) does, through its pages'
own code paths:
  (a) import + crop 2,000 photos (the Library page's import: ../shared/datasets/lfw20,
      1,916 photos, topped up with mirrored copies, labels from folders);
  (b) the first show of the Train page (the model zoo loads in a job; the charts,
      i.e. pyqtgraph, are created on the UI thread);
  (c) a short training run started from the Train page (--arch, --epochs).
Target: every max stall under 50 ms.

Each phase also prints Python's garbage collections (a full one stops every thread
for as long as it walks the process's objects), and (c) the Train page's own UI-thread
work: CPU time per 10 Hz tick and per chart paint.

With --stacks, a watchdog thread samples the UI thread's Python stack whenever it
has not ticked for 40 ms, and the worst stalls are printed with where they were.

    .venv/bin/python bench/ui_stall.py [--photos 2000] [--arch customcnn1] [--epochs 1]
"""

from __future__ import annotations

import argparse
import gc
import os
import shutil
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
LFW20 = REPO.parent / "shared" / "datasets" / "lfw20"
TICK_MS = 5
TARGET_MS = 50.0
SAMPLE_AFTER_S = 0.040


class StallMeter:
    """Timer gaps on the UI thread; optionally, where the UI thread was during the
    long ones (sampled from a watchdog thread)."""

    def __init__(self, stacks: bool) -> None:
        from PySide6.QtCore import Qt, QTimer

        self.gaps: list[float] = []
        self.samples: dict[int, str] = {}  # gap index -> stack of the UI thread
        self._last = time.perf_counter()
        self._timer = QTimer(interval=TICK_MS, timerType=Qt.TimerType.PreciseTimer)
        self._timer.timeout.connect(self._tick)
        self._stacks = stacks
        self._ui_thread = threading.get_ident()
        self._stop = threading.Event()
        self._watchdog: threading.Thread | None = None

    def start(self) -> None:
        self.gaps.clear()
        self.samples.clear()
        self._last = time.perf_counter()
        self._timer.start()
        if self._stacks:
            self._stop.clear()
            self._watchdog = threading.Thread(target=self._watch, daemon=True)
            self._watchdog.start()

    def stop(self) -> None:
        self._timer.stop()
        self._stop.set()
        if self._watchdog is not None:
            self._watchdog.join()

    def _tick(self) -> None:
        now = time.perf_counter()
        self.gaps.append(now - self._last)
        self._last = now

    def _watch(self) -> None:
        sampled_for = -1
        while not self._stop.wait(0.010):
            index = len(self.gaps)  # the gap now growing gets this index
            if index != sampled_for and time.perf_counter() - self._last > SAMPLE_AFTER_S:
                self.samples[index] = self._all_stacks()
                sampled_for = index

    def _all_stacks(self) -> str:
        """The UI thread's innermost frames, then every other thread's (one of them may
        hold the GIL, or a lock the UI thread waits for)."""
        names = {t.ident: t.name for t in threading.enumerate()}
        parts = []
        frames = sys._current_frames()
        for ident, frame in sorted(frames.items(), key=lambda kv: kv[0] != self._ui_thread):
            if ident == threading.get_ident():
                continue
            name = "UI thread" if ident == self._ui_thread else names.get(ident, str(ident))
            stack = traceback.extract_stack(frame)[-5:]
            parts.append(f"[{name}]\n" + "".join(traceback.format_list(stack)))
        return "".join(parts)

    def report(self, name: str, seconds: float, show_stacks: int) -> None:
        stalls = sorted(max(0.0, (gap * 1000) - TICK_MS) for gap in self.gaps)
        if not stalls:
            print(f"{name}: no ticks")
            return
        worst = stalls[-1]
        p99 = stalls[min(len(stalls) - 1, int(0.99 * len(stalls)))]
        verdict = "ok" if worst < TARGET_MS else f"over {TARGET_MS:.0f} ms"
        print(f"{name}: {seconds:.1f} s, {len(stalls):,} ticks, max stall {worst:.1f} ms, "
              f"p99 {p99:.1f} ms, stalls over {TARGET_MS:.0f} ms: "
              f"{sum(s > TARGET_MS for s in stalls)} [{verdict}]", flush=True)
        ranked = sorted(range(len(self.gaps)), key=lambda i: -self.gaps[i])[:show_stacks]
        for i in ranked:
            stack = self.samples.get(i)
            if stack and self.gaps[i] * 1000 - TICK_MS > TARGET_MS:
                at = sum(self.gaps[:i])
                print(f"  --- {self.gaps[i] * 1000 - TICK_MS:.0f} ms stall at {at:.1f} s; "
                      "the threads were in:")
                print("    " + stack.strip().replace("\n", "\n    "))


class UiWorkMeter:
    """Wall and UI-thread CPU time of the Train page's own work: its 10 Hz tick (drain
    the training feed, update the curves and the status line) and the charts' paint
    events. CPU time does not grow when other threads or other
    processes compete for the cores, so it tells the page's cost from contention."""

    def __init__(self) -> None:
        self.samples: dict[str, list[tuple[float, float]]] = {"tick": [], "paint": []}

    def install(self) -> None:
        """Wrap the methods on their classes, before the window makes its objects."""
        import pyqtgraph as pg

        from gui.models.training_queue import TrainingQueue

        self._wrap(TrainingQueue, "tick", "tick")  # drains the feeds, then the page redraws
        self._wrap(pg.GraphicsView, "paintEvent", "paint")

    def clear(self) -> None:
        for values in self.samples.values():
            values.clear()

    def _wrap(self, cls, name: str, key: str) -> None:
        original = getattr(cls, name)
        samples = self.samples[key]

        def timed(*args, **kwargs):
            wall, cpu = time.perf_counter(), time.thread_time()
            try:
                return original(*args, **kwargs)
            finally:
                samples.append((time.perf_counter() - wall, time.thread_time() - cpu))
        setattr(cls, name, timed)

    def report(self) -> None:
        for key, values in self.samples.items():
            if not values:
                continue
            walls = sorted(v[0] * 1000 for v in values)
            cpus = sorted(v[1] * 1000 for v in values)
            print(f"    page {key}: {len(values):,} times, UI-thread CPU mean "
                  f"{sum(cpus) / len(cpus):.1f} ms, max {cpus[-1]:.1f} ms; wall mean "
                  f"{sum(walls) / len(walls):.1f} ms, max {walls[-1]:.1f} ms", flush=True)


class GcMeter:
    """Python's cyclic garbage collections: in a process that loaded torch and SciPy a
    full one walks hundreds of thousands of objects, and no thread runs Python while
    it does, the UI thread included."""

    def __init__(self) -> None:
        self.pauses: list[tuple[int, float]] = []  # (generation, seconds)
        self._started = 0.0
        gc.callbacks.append(self._on_gc)

    def _on_gc(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.pauses.append((info["generation"], time.perf_counter() - self._started))

    def clear(self) -> None:
        self.pauses.clear()

    def report(self) -> None:
        full = [seconds * 1000 for generation, seconds in self.pauses if generation == 2]
        every = [seconds * 1000 for _, seconds in self.pauses]
        print(f"    garbage collections: {len(every):,}, longest {max(every, default=0):.0f} ms;"
              f" full ones: {len(full)}, longest {max(full, default=0):.0f} ms", flush=True)


def make_photos(target: Path, count: int) -> Path:
    """lfw20 copied as PERSON/photo.jpg, topped up with mirrored copies to ``count``."""
    from PIL import Image, ImageOps

    sources = sorted(LFW20.rglob("*.jpg"))
    if not sources:
        sys.exit(f"no photos in {LFW20}")
    for path in sources[:count]:
        (target / path.parent.name).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target / path.parent.name / path.name)
    for n in range(max(0, count - len(sources))):
        path = sources[(n * 7) % len(sources)]
        with Image.open(path) as image:
            ImageOps.mirror(image.convert("RGB")).save(
                target / path.parent.name / f"{path.stem}_mirrored_{n}.jpg", quality=92)
    return target


def wait_for(app, condition, timeout_s: float) -> None:
    """Spin the event loop until ``condition()`` (the meter keeps ticking meanwhile)."""
    from PySide6.QtCore import QEventLoop, QTimer

    deadline = time.monotonic() + timeout_s
    loop = QEventLoop()
    poll = QTimer(interval=20)
    poll.timeout.connect(lambda: (condition() or time.monotonic() > deadline) and loop.quit())
    poll.start()
    if not condition():
        loop.exec()
    poll.stop()
    if not condition():
        sys.exit(f"timed out after {timeout_s:.0f} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=2000)
    parser.add_argument("--arch", default="customcnn1")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--stacks", type=int, default=0, metavar="N",
                        help="print where the UI thread was during the N worst stalls")
    parser.add_argument("--xvfb", action="store_true", help="run under xvfb-run, not offscreen")
    parser.add_argument("--workdir", help="keep photos and project here (default: a temp dir)")
    parser.add_argument("--switch-interval", type=float, metavar="MS",
                        help="CPython's GIL switch interval (default 5 ms): an experiment")
    args = parser.parse_args()
    if args.switch_interval:
        sys.setswitchinterval(args.switch_interval / 1000)
    if args.xvfb and not os.environ.get("DISPLAY"):
        os.execvp("xvfb-run", ["xvfb-run", "-a", "-s", "-screen 0 1600x1000x24",
                               sys.executable, *sys.argv])
    if not os.environ.get("DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

    from PySide6.QtCore import QSettings

    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope,
                      tempfile.mkdtemp(prefix="facelab-bench-settings-"))
    from engine.project import Project
    from gui.app import create_application, create_main_window, start_engine_warm_up

    work = Path(args.workdir or tempfile.mkdtemp(prefix="facelab-ui-stall-"))
    photos = work / "photos"
    if not photos.is_dir():
        make_photos(photos, args.photos)
    root = work / "project"
    if root.exists():
        shutil.rmtree(root)
    Project.create(root).close()
    print(f"{sum(1 for _ in photos.rglob('*.jpg')):,} photos in {photos}; "
          f"platform {os.environ.get('QT_QPA_PLATFORM') or 'xcb'}", flush=True)

    app = create_application()
    work_meter = UiWorkMeter()
    work_meter.install()
    window = create_main_window()
    window.resize(1360, 860)
    window.show()
    meter = StallMeter(stacks=args.stacks > 0)
    gc_meter = GcMeter()
    meter.start()
    started = time.perf_counter()
    window.open_project(str(root))
    # What run_app does once the window shows: the engine loads in the background while
    # the user looks at the window; the phases below start after it, as a user's would.
    warmup = start_engine_warm_up(window)
    wait_for(app, lambda: warmup.state.finished, 600)
    meter.stop()
    meter.report("(0) start-up: the engine loading in the background", time.perf_counter() - started,
                 args.stacks)
    gc_meter.report()

    meter.start()
    gc_meter.clear()
    started = time.perf_counter()
    job = window.library_page.import_paths([photos], labels_from_folders=True)
    wait_for(app, lambda: job.state.finished, 3600)
    meter.stop()
    print(f"    {job.state.value}: {getattr(job.result, 'text', lambda: job.error_message)()}")
    meter.report(f"(a) import + crop {args.photos:,} photos", time.perf_counter() - started,
                 args.stacks)
    gc_meter.report()

    meter.start()
    gc_meter.clear()
    started = time.perf_counter()
    window.show_page("train")
    page = window.workspace.page("train")
    wait_for(app, lambda: page.choices is not None and page.charts is not None, 600)
    wait_for(app, lambda: not page._runner.is_busy, 60)
    meter.stop()
    meter.report("(b) first show of the Train page", time.perf_counter() - started, args.stacks)
    gc_meter.report()

    page.arch_model.set_checked([args.arch])
    page.form.set_values({"epochs": args.epochs, "batch_size": args.batch_size,
                          "augment": "standard", "pretrained": False})
    meter.start()
    gc_meter.clear()
    work_meter.clear()
    started = time.perf_counter()
    jobs = page.start_training()
    if not jobs:
        sys.exit(page.message_text())
    wait_for(app, lambda: all(j.state.finished for j in jobs), 7200)
    wait_for(app, lambda: not page._runner.is_busy, 60)
    meter.stop()
    print(f"    {jobs[0].state.value}: {page.message_text()}")
    meter.report(f"(c) train {args.arch}, {args.epochs} epoch(s), from the Train page",
                 time.perf_counter() - started, args.stacks)
    gc_meter.report()
    work_meter.report()
    window.close()
    if not args.workdir:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
