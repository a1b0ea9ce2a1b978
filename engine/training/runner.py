"""Training runs of a project: split -> tensor cache -> Trainer -> catalog -> evaluation.

The Trainer knows nothing of projects; this module feeds it the project's split as
tensors and records the run in the catalog as it goes (config at the start, each
epoch as it ends, the status at the end), so any run can be reopened, compared and
resumed, even after the process was killed.
"""

from __future__ import annotations

import logging
import secrets
import time
from dataclasses import dataclass
from typing import Callable, Sequence

from engine.catalog import CatalogError, EpochRecord, RunRecord
from engine.catalog.runs import RunStatus, resume_refusal
from engine.data.cache import load_face_tensors
from engine.data.embeddings import EmbeddingCache
from engine.data.splits import DEFAULT_SPLIT, SplitData, ensure_split, run_split
from engine.evaluation.metrics import EvaluationReport
from engine.ingest.align import AlignSettings
from engine.models import get_spec, weight_search_dirs, weights_status
from engine.models.errors import WeightsUnavailableError
from engine.project import Project
from engine.storage import remove_stale_temps
from engine.tasks import TaskContext, null_context
from engine.training.config import (
    TrainConfig,
    model_input_size,
    run_alignment,
    with_resolved_framing,
)
from engine.training.events import EpochEnded, RunFinished, TrainingEvent
from engine.training.run_persons import match_run_persons
from engine.training.trainer import LAST_CHECKPOINT, TrainData, Trainer

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunResult:
    run_id: str
    finished: RunFinished
    report: EvaluationReport | None  # on the test subset, when the run produced a model


def new_run_id(arch: str) -> str:
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{arch}-{secrets.token_hex(2)}"


def _class_persons(catalog, split: SplitData) -> list[tuple[int, str]]:
    """Persons with at least one training face, (id, name) by name: the model's output order."""
    names = {p.id: p.name for p in catalog.persons()}
    present = sorted({person for _, person in split.train}, key=lambda p: names[p].lower())
    if len(present) < 2:
        raise CatalogError("Training needs labelled faces of at least 2 persons "
                           f"(this project has {len(present)}).")
    return [(p, names[p]) for p in present]


def _tensors(project: Project, pairs, index_of: dict[int, int], size: int, ctx, alignment):
    import torch

    kept = [(f, index_of[p]) for f, p in pairs if p in index_of]
    x = load_face_tensors(project, [f for f, _ in kept], size, ctx, alignment=alignment)
    y = torch.tensor([label for _, label in kept], dtype=torch.int64)
    return x, y, [f for f, _ in kept]


class _CatalogRecorder:
    """Commits each epoch and the final status as they happen."""

    def __init__(self, project: Project, run_id: str) -> None:
        self.runs = project.catalog.runs
        self.run_id = run_id

    def __call__(self, event: TrainingEvent) -> None:
        if isinstance(event, EpochEnded):
            self.runs.record_epoch(self.run_id, EpochRecord(
                event.epoch, event.train_loss, event.train_acc, event.val_loss, event.val_acc,
                event.lr, event.seconds, event.images_per_sec))
        elif isinstance(event, RunFinished):
            self.runs.finish(self.run_id, event.status, message=event.message,
                             best_epoch=event.best_epoch, best_val_loss=event.best_val_loss,
                             best_val_acc=event.best_val_acc)


def prepare_data(project: Project, split: SplitData, record: RunRecord | None,
                 size: int, ctx: TaskContext, alignment: AlignSettings | None = None
                 ) -> tuple[TrainData, list[tuple[int, str]]]:
    """The split's tensors for a new run (``record`` None: the persons with training
    faces now) or for resuming ``record`` (its own persons, matched as they are now):
    square crops, or chips aligned with ``alignment`` (see run_alignment)."""
    if record is None:
        classes = _class_persons(project.catalog, split)
        persons = [name for _, name in classes]
        index_of = {pid: i for i, (pid, _) in enumerate(classes)}
    else:
        # The model's output names stay as trained: the checkpoint holds them.
        classes = []
        persons = list(record.persons)
        index_of = match_run_persons(project.catalog, record).index_of()
    train_x, train_y, _ = _tensors(project, split.train, index_of, size, ctx, alignment)
    val_x, val_y, _ = _tensors(project, split.val, index_of, size, ctx, alignment)
    return TrainData(train_x, train_y, val_x, val_y, tuple(persons)), classes


def train_run(project: Project, config: TrainConfig, *, split_name: str = DEFAULT_SPLIT,
              callbacks: Sequence[Callable[[TrainingEvent], None]] = (),
              ctx: TaskContext | None = None, sweep_id: str | None = None,
              evaluate: bool = True) -> RunResult:
    """Train ``config`` on the project's split, recording everything in the catalog."""
    ctx = ctx or null_context()
    get_spec(config.arch)  # an unknown architecture fails here, before anything is recorded
    if config.pretrained:
        status = weights_status(config.arch)
        if not status.available:  # before a run is recorded: nothing was attempted
            raise WeightsUnavailableError(status.message + " Or train from scratch (--scratch).",
                                          arch=config.arch, filename=status.filename,
                                          search_dirs=weight_search_dirs())
    # Written out before the run is recorded: the run says which faces it was trained on.
    config = with_resolved_framing(config)
    split = ensure_split(project.catalog, split_name)
    data, classes = prepare_data(project, split, None, model_input_size(config), ctx,
                                 run_alignment(config))
    run_id = new_run_id(config.arch)
    run_dir = project.runs_dir / run_id
    project.catalog.runs.create(run_id=run_id, arch=config.arch, split_id=split.split.id,
                                config=config.to_dict(), persons=[n for _, n in classes],
                                person_ids=[pid for pid, _ in classes],
                                run_dir=project.stored_path(run_dir), sweep_id=sweep_id)
    return _fit(project, config, data, run_id, callbacks, ctx, resume=False, evaluate=evaluate)


def resume_run(project: Project, run_id: str, *,
               callbacks: Sequence[Callable[[TrainingEvent], None]] = (),
               ctx: TaskContext | None = None, evaluate: bool = True) -> RunResult:
    """Continue a run that stopped before its end (see `resume_refusal`) from its last
    checkpoint, or from epoch 1 when it stopped before saving one."""
    ctx = ctx or null_context()
    runs = project.catalog.runs
    runs.mark_dead_runs_interrupted()  # "running" only while its process lives
    record = runs.get(run_id)
    refusal = resume_refusal(run_id, record.status)
    if refusal is not None:
        raise CatalogError(refusal)
    # A run recorded before framings existed was trained on crops, whatever its
    # architecture asks for now.
    config = with_resolved_framing(TrainConfig.from_dict({"face_framing": "crop",
                                                          **record.config}))
    split = _split_of(project, record)
    data, _ = prepare_data(project, split, record, model_input_size(config), ctx,
                           run_alignment(config))
    project.catalog.runs.set_running(run_id)
    run_dir = project.resolve_inside(record.run_dir)
    remove_stale_temps(run_dir)  # half-written checkpoints of a killed process
    # A run stopped (or killed) before its first checkpoint has nothing to continue
    # from: it starts again at epoch 1, as the user asked it to go on.
    saved = (run_dir / LAST_CHECKPOINT).exists()
    if not saved:
        log.info("Run %s has no checkpoint yet; it starts again from epoch 1", run_id)
    return _fit(project, config, data, run_id, callbacks, ctx, resume=saved, evaluate=evaluate)


def _embedding_cache(project: Project, config: TrainConfig) -> EmbeddingCache | None:
    """The project's cache of this backbone's face features, for head-only epochs.

    Only a pretrained backbone computes the same features in every run; a random one
    depends on the run's seed, so its features are computed for the run alone.
    """
    if get_spec(config.arch).embedder_path is None or not config.pretrained:
        return None
    status = weights_status(config.arch)
    if status.path is None:
        return None
    weights = f"{status.path.name}-{status.path.stat().st_size}"
    return EmbeddingCache.for_backbone(project.root, config.arch, weights, model_input_size(config))


def _split_of(project: Project, record: RunRecord) -> SplitData:
    split = run_split(project.catalog, record.split_id)
    if split is None:
        raise CatalogError(f"Run {record.id}'s split was deleted; it cannot be resumed")
    return split


def _fit(project: Project, config: TrainConfig, data: TrainData, run_id: str, callbacks,
         ctx: TaskContext, *, resume: bool, evaluate: bool) -> RunResult:
    record = project.catalog.runs.get(run_id)
    trainer = Trainer(config, data, project.resolve_inside(record.run_dir), run_id=run_id,
                      callbacks=[_CatalogRecorder(project, run_id), *callbacks], ctx=ctx,
                      embedding_cache=_embedding_cache(project, config))
    # A failure raises after the trainer has recorded status "failed" through the recorder.
    finished = trainer.fit(resume=resume)
    report = None
    # A cancelled run is not evaluated: the user asked to stop (`facelab evaluate` can
    # still score its best checkpoint later).
    if evaluate and RunStatus(finished.status).trained_to_the_end:
        from engine.evaluation.runs import evaluate_run

        report = evaluate_run(project, run_id, ctx=ctx)
    return RunResult(run_id, finished, report)
