"""Hyperparameter search: the lab's "try different learning rates, batch sizes, optimizers".

Random search rather than a grid: with several settings, a grid spends most trials
re-testing values of the settings that matter little, while random trials try a new
value of every setting each time (Bergstra & Bengio, 2012; the deep learning overview
this project grew from says the same). Each trial is an ordinary training run, all
on the same split and tagged with one sweep id, so the runs list and the scoreboard
show them like any other run; the trials are ranked by validation accuracy, never by
test accuracy, which would choose settings on the test set.
"""

from __future__ import annotations

import logging
import math
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from engine.data.augment import PRESETS
from engine.data.splits import DEFAULT_SPLIT, ensure_split
from engine.project import Project
from engine.tasks import Stage, TaskContext, null_context
from engine.training.config import TrainConfig, with_resolved_framing
from engine.training.events import TrainingEvent
from engine.training.runner import train_run

log = logging.getLogger(__name__)

STAGE = Stage.SWEEP


@dataclass(frozen=True)
class SearchSpace:
    """What a trial draws. Learning rates are drawn log-uniformly (1e-4 is as far from
    1e-3 as 1e-3 from 1e-2), from a range per optimizer: plain SGD needs rates about
    ten times higher than Adam's to move as fast."""

    adam_lr: tuple[float, float] = (1e-4, 3e-3)
    sgd_lr: tuple[float, float] = (1e-3, 1e-1)
    batch_sizes: tuple[int, ...] = (16, 32, 64)
    optimizers: tuple[str, ...] = ("adam", "adamw", "sgd")
    augments: tuple[str, ...] = tuple(PRESETS)

    def sample(self, base: TrainConfig, rng: np.random.Generator) -> TrainConfig:
        optimizer = str(rng.choice(self.optimizers))
        low, high = self.sgd_lr if optimizer == "sgd" else self.adam_lr
        lr = float(math.exp(rng.uniform(math.log(low), math.log(high))))
        return replace(base, lr=float(f"{lr:.3g}"), optimizer=optimizer,
                       batch_size=int(rng.choice(self.batch_sizes)),
                       augment=str(rng.choice(self.augments)))


@dataclass(frozen=True)
class SweepTrial:
    run_id: str
    config: TrainConfig
    best_val_acc: float | None  # None when the trial never finished an epoch
    status: str  # the run's status: completed, early_stopped, cancelled, failed


def new_sweep_id() -> str:
    return f"sweep-{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(2)}"


def run_sweep(project: Project, arch: str, trials: int, *, base: TrainConfig | None = None,
              seed: int = 0, ctx: TaskContext | None = None,
              callbacks: Sequence[Callable[[TrainingEvent], None]] = (),
              space: SearchSpace = SearchSpace(),
              split_name: str = DEFAULT_SPLIT) -> list[SweepTrial]:
    """Train `trials` random configurations of `arch`; best validation accuracy first.

    `base` supplies every setting the search does not draw (epochs, schedule...);
    `seed` drives the draws (each run keeps base's seed, so trials differ only in
    their settings). A trial that diverges (NaN loss at a too-high learning rate) is
    a result, recorded as failed, and the search goes on; cancelling stops it after
    the current trial's cancelled run.
    """
    if trials < 1:
        raise ValueError(f"a sweep needs at least 1 trial, not {trials}")
    ctx = ctx or null_context()
    base = replace(base or TrainConfig(arch=arch), arch=arch)
    ensure_split(project.catalog, split_name)  # every trial then trains on the same faces
    sweep_id = new_sweep_id()
    rng = np.random.default_rng(seed)
    results: list[SweepTrial] = []
    for number in range(1, trials + 1):
        ctx.check()
        config = space.sample(base, rng)
        ctx.report(STAGE, number - 1, trials, f"trial {number}/{trials}: {describe(config)}")
        log.info("sweep %s trial %d/%d: %s", sweep_id, number, trials, describe(config))
        trial = _run_trial(project, config, sweep_id, split_name, callbacks, ctx)
        results.append(trial)
        if trial.status == "cancelled":
            break
    ctx.report(STAGE, len(results), trials, "sweep finished")
    return rank_trials(results)


def _run_trial(project: Project, config: TrainConfig, sweep_id: str, split_name: str,
               callbacks, ctx: TaskContext) -> SweepTrial:
    known = {r.id for r in project.catalog.runs.list()}
    # The trial's config as its run records it (the framing written out).
    config = with_resolved_framing(config)
    try:
        result = train_run(project, config, split_name=split_name, callbacks=callbacks, ctx=ctx,
                           sweep_id=sweep_id)
    except FloatingPointError as error:  # diverged: the run is already recorded as failed
        log.warning("sweep %s: trial diverged (%s)", sweep_id, error)
        run = next(r for r in project.catalog.runs.list()
                   if r.sweep_id == sweep_id and r.id not in known)
        return SweepTrial(run.id, config, run.best_val_acc, "failed")
    return SweepTrial(result.run_id, config, result.finished.best_val_acc, result.finished.status)


def rank_trials(trials: Sequence[SweepTrial]) -> list[SweepTrial]:
    """Best validation accuracy first; trials without one last, in the order they ran."""
    return sorted(trials, key=lambda t: -t.best_val_acc if t.best_val_acc is not None
                  else math.inf)


def describe(config: TrainConfig) -> str:
    return (f"lr {config.lr:g}, batch {config.batch_size}, {config.optimizer}, "
            f"{config.augment} augmentation")
