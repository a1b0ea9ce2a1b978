"""Job functions for the Train page: plain ``fn(ctx)`` callables for the JobRunner.

Each opens its own Project (its own catalog connection) on the worker thread and
returns plain frozen data. torch and the model zoo are imported inside the
functions, on the worker thread: never on the UI thread.

Training jobs hand the engine a :class:`~gui.models.training_curves.TrainingFeed` as
its callback: events stay on the training thread until the UI drains them.
"""

from __future__ import annotations


from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from engine.catalog import CatalogError
from engine.project import Project
from engine.tasks import Cancelled, TaskContext
from gui.jobs.engine_stack import load_engine_stack
from gui.models.architectures import ArchitectureInfo
from gui.models.runs import RunRow

EventSink = Callable[[Any], None]


@dataclass(frozen=True)
class PresetInfo:
    name: str
    description: str


@dataclass(frozen=True)
class TrainingChoices:
    """What this machine offers: architectures (with weights status), augmentation
    presets, devices, and the engine's valid values for the other settings."""
    architectures: tuple[ArchitectureInfo, ...]
    presets: tuple[PresetInfo, ...]
    devices: tuple[tuple[str, str], ...]   # (value, label), "auto" and "cpu" first
    optimizers: tuple[str, ...]
    class_weightings: tuple[str, ...]


@dataclass(frozen=True)
class TrainingOutcome:
    run_id: str
    arch: str
    status: str
    message: str
    best_val_acc: float | None
    test_accuracy: float | None


def load_training_choices():
    def job(ctx: TaskContext) -> TrainingChoices:
        load_engine_stack()
        import torch
        from engine.data.augment import PRESETS
        from engine.models import list_architectures, weights_status
        from engine.models.weights_download import is_downloadable
        from engine.training.auto import AUTO_ARCH, auto_preview, offer_order
        from engine.training.config import CLASS_WEIGHTINGS, OPTIMIZERS

        archs = []
        for spec in list_architectures():
            ctx.check()
            status = weights_status(spec.name)
            archs.append(ArchitectureInfo(
                spec.name, spec.display_name, spec.description, spec.input_size,
                spec.pretrained_dataset or ("pretrained" if spec.has_pretrained_weights else None),
                status.available, status.message, is_downloadable(spec)))
        by_name = {arch.name: arch for arch in archs}
        archs = [by_name[name] for name in offer_order(list(by_name))]
        preview = auto_preview()
        archs.insert(1 if archs and archs[0].weights_available else 0, ArchitectureInfo(
            AUTO_ARCH, "Automatic (best for this machine)", preview, 0, None, True,
            "FaceLab chooses when the run starts: " + preview, automatic=True))
        devices = [("auto", "Automatic"), ("cpu", "CPU")]
        if torch.cuda.is_available():
            devices.append(("cuda", f"CUDA GPU ({torch.cuda.get_device_name(0)})"))
        if torch.backends.mps.is_available():
            devices.append(("mps", "Apple GPU (MPS)"))
        return TrainingChoices(tuple(archs),
                               tuple(PresetInfo(p.name, p.description) for p in PRESETS.values()),
                               tuple(devices), tuple(OPTIMIZERS), tuple(CLASS_WEIGHTINGS))
    return job


def preload_charts():
    """Import the chart module (pyqtgraph, numpy: most of a second) off the UI thread.
    Importing creates no Qt object; the page builds the widgets on its own thread."""
    def job(ctx: TaskContext) -> None:
        import gui.widgets.training_charts  # noqa: F401
    return job


def import_weights_file(path: str):
    """Verify a weights file the user fetched by hand and copy it into FaceLab's folder."""
    def job(ctx: TaskContext) -> str:
        from engine.models import import_weights

        return str(import_weights(path))
    return job


def download_weights_files(names: tuple[str, ...]):
    """Download the published weights of architectures ``names`` (only when the user
    pressed the button); returns where each landed. Progress is the engine's
    "download" stage in bytes; cancelling keeps what arrived for the next try."""
    def job(ctx: TaskContext) -> tuple[str, ...]:
        from engine.models.weights_download import download_weights

        return tuple(str(download_weights(name, ctx).path) for name in names)
    return job


def train_architecture(root: Path, settings: tuple[tuple[str, Any], ...], sink: EventSink):
    """Train one run with ``settings`` (the form's TrainConfig keyword arguments; the
    engine's `form_config` gives the architecture its own for those left at defaults)."""
    def job(ctx: TaskContext) -> TrainingOutcome:
        from engine.training.auto import form_config
        from engine.training.runner import train_run

        shown = dict(settings)
        config = form_config(shown.pop("arch"), shown)
        with Project.open(root) as project:
            # Checked before train_run, which would store a split first: a refused run
            # leaves the project exactly as it was.
            _require_two_persons(project)
            if config.pretrained:
                _require_weights(config.arch)
            result = train_run(project, config, callbacks=[sink], ctx=ctx)
        return _outcome(config.arch, result)
    return job


def train_automatic(root: Path, device: str, sink: EventSink):
    """Train the run `facelab train --arch auto` would: the engine's `auto_config` picks
    the network and its settings for this project on this machine (only the device
    comes from the form)."""
    def job(ctx: TaskContext) -> TrainingOutcome:
        from engine.training.auto import auto_config
        from engine.training.runner import train_run

        with Project.open(root) as project:
            _require_two_persons(project)
            config, _why = auto_config(project, {"device": device})
            result = train_run(project, config, callbacks=[sink], ctx=ctx)
        return _outcome(config.arch, result)
    return job


def resume_training(root: Path, run_id: str, sink: EventSink):
    """Continue a run that stopped before its end, as the engine's `resume_run` does:
    from its last saved epoch, or from epoch 1 when it stopped before saving one."""
    def job(ctx: TaskContext) -> TrainingOutcome:
        from engine.training.runner import resume_run

        with Project.open(root) as project:
            record = project.catalog.runs.get(run_id)
            result = resume_run(project, run_id, callbacks=[sink], ctx=ctx)
        return _outcome(record.arch, result)
    return job


def list_runs(root: Path):
    """Every run of the project as table rows, oldest first."""
    def job(ctx: TaskContext) -> tuple[RunRow, ...]:
        from engine.evaluation.runs import project_scoreboard
        from engine.training.best_epoch import kept_val_acc

        with Project.open(root, readonly=True) as project:  # reads only: no lock needed
            runs = project.catalog.runs
            board = project_scoreboard(project)
            scores = {e.run_id: e.report.accuracy for e in board.entries()}
            # The table sorted by test accuracy is the scoreboard: it marks the runs
            # that do not compare with the newest evaluated run, with the engine's reason.
            standings = board.standings()
            rows = []
            for record in runs.list():
                ctx.check()
                epochs = runs.epochs(record.id)
                rows.append(RunRow(
                    record.id, record.arch, record.status, record.message or "",
                    kept_val_acc(record, epochs), scores.get(record.id),
                    epochs[-1].epoch if epochs else 0, int(record.config.get("epochs", 0)),
                    bool(record.config.get("pretrained")), record.created_at,
                    standings.reason(record.id) or ""))
        return tuple(rows)
    return job


def _require_two_persons(project: Project) -> None:
    persons = [name for name, count in project.catalog.person_counts().items() if count]
    if len(persons) < 2:
        raise CatalogError(
            f"Training needs labelled faces of at least 2 persons; this project has "
            f"{len(persons)}{' (' + persons[0] + ')' if persons else ''}. Label faces in the "
            "Library first: a model learns to tell persons apart.")


def _require_weights(arch: str) -> None:
    from engine.models import weights_status
    from engine.models.errors import WeightsUnavailableError

    status = weights_status(arch)
    if not status.available:
        raise WeightsUnavailableError(status.message + " Or choose “From scratch”.",
                                      arch=arch, filename=status.filename)


def _outcome(arch: str, result) -> TrainingOutcome:
    finished = result.finished
    if finished.status == "cancelled":
        raise Cancelled()  # the job ends as cancelled; the run stays resumable
    return TrainingOutcome(result.run_id, arch, finished.status, finished.message,
                           finished.best_val_acc,
                           result.report.accuracy if result.report is not None else None)
