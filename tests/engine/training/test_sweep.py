"""Random hyperparameter search over real 5celeb crops with the tiny test architecture."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from engine.cli import main as cli_main
from engine.evaluation.runs import project_scoreboard
from engine.tasks import Cancelled, TaskContext
from engine.training.config import TrainConfig
from engine.training.sweep import SearchSpace, SweepTrial, rank_trials, run_sweep
from tests.engine.training.conftest import TINY_ARCH

pytestmark = pytest.mark.slow


@pytest.fixture
def project(cropped_5celeb, project_copy):
    return project_copy(cropped_5celeb)


def _base(**kw) -> TrainConfig:
    return TrainConfig(arch=TINY_ARCH, epochs=2, seed=3, limit_train_batches=2,
                       limit_val_batches=1, **kw)


def test_trials_are_runs_of_one_sweep_on_one_split_ranked_by_validation(project):
    progress = []
    trials = run_sweep(project, TINY_ARCH, 3, base=_base(), seed=1,
                       ctx=TaskContext(on_progress=progress.append))
    assert len(trials) == 3
    accuracies = [t.best_val_acc for t in trials]
    assert accuracies == sorted(accuracies, reverse=True)
    assert {t.status for t in trials} <= {"completed", "early_stopped"}
    # The search draws the settings; everything else is the base's.
    drawn = {(t.config.lr, t.config.batch_size, t.config.optimizer, t.config.augment)
             for t in trials}
    assert len(drawn) == 3
    assert {(t.config.epochs, t.config.seed, t.config.limit_train_batches) for t in trials} == {
        (2, 3, 2)}

    records = {r.id: r for r in project.catalog.runs.list()}
    assert set(records) == {t.run_id for t in trials}
    assert len({r.sweep_id for r in records.values()}) == 1 and None not in {
        r.sweep_id for r in records.values()}
    assert len({r.split_id for r in records.values()}) == 1
    for trial in trials:
        assert records[trial.run_id].best_val_acc == trial.best_val_acc
        assert TrainConfig.from_dict(records[trial.run_id].config) == trial.config
    # Each trial was evaluated, so the scoreboard shows all of them.
    assert {row.run_id for row in project_scoreboard(project).rows()} == set(records)
    assert progress[-1].stage == "sweep" and progress[-1].done == 3


def test_same_seed_draws_the_same_trials():
    space, base = SearchSpace(), _base()
    first = [space.sample(base, rng) for rng in [np.random.default_rng(7)] for _ in range(5)]
    rng = np.random.default_rng(7)
    again = [space.sample(base, rng) for _ in range(5)]
    assert first == again


def test_learning_rates_are_drawn_log_uniformly_per_optimizer():
    space, rng = SearchSpace(), np.random.default_rng(0)
    draws = [space.sample(_base(), rng) for _ in range(400)]
    for optimizer, (low, high) in (("adam", space.adam_lr), ("sgd", space.sgd_lr)):
        logs = np.log10([d.lr for d in draws if d.optimizer == optimizer])
        assert logs.min() >= math.log10(low) - 1e-3 and logs.max() <= math.log10(high) + 1e-3
        # Log-uniform: as many draws in the lower half of the exponents as in the upper.
        middle = (math.log10(low) + math.log10(high)) / 2
        assert 0.35 < np.mean(logs < middle) < 0.65
    assert {d.batch_size for d in draws} == set(space.batch_sizes)
    assert {d.augment for d in draws} == set(space.augments)


def test_trials_without_an_accuracy_rank_last():
    config = _base()
    trials = [SweepTrial("a", config, None, "failed"), SweepTrial("b", config, 0.5, "completed"),
              SweepTrial("c", config, 0.9, "completed"), SweepTrial("d", config, None, "failed")]
    assert [t.run_id for t in rank_trials(trials)] == ["c", "b", "a", "d"]


def test_a_cancelled_sweep_trains_nothing_more(project):
    ctx = TaskContext()
    ctx.cancel()
    with pytest.raises(Cancelled):
        run_sweep(project, TINY_ARCH, 2, base=_base(), ctx=ctx)
    assert project.catalog.runs.list() == []


def test_cli_sweep_prints_the_ranking(project, capsys):
    code = cli_main(["sweep", str(project.root), "--arch", TINY_ARCH, "--trials", "2",
                     "--epochs", "1", "--json"])
    assert code == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["rank"] for r in rows] == [1, 2]
    assert set(rows[0]) >= {"run_id", "best_val_acc", "lr", "batch_size", "optimizer", "augment"}
    assert len({r.sweep_id for r in project.catalog.runs.list()}) == 1
