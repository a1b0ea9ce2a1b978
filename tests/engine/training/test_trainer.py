from __future__ import annotations

import math
import sys
import types
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from engine.tasks import TaskContext
from engine.training import (BatchEnded, CheckpointSaved, EpochEnded, RunFinished, RunStarted,
                             TrainConfig, Trainer, load_checkpoint, load_trained_model, predict_probs)
from tests.engine.training.conftest import TINY_ARCH, make_data


def tiny_config(**changes) -> TrainConfig:
    settings = dict(arch=TINY_ARCH, epochs=3, batch_size=16, lr=0.01, augment="none",
                    early_stopping_patience=None, device="cpu")
    settings.update(changes)
    return TrainConfig(**settings)


class Recorder:
    """A callback that keeps every event and can act on one."""

    def __init__(self, react=None) -> None:
        self.events = []
        self._react = react

    def __call__(self, event) -> None:
        self.events.append(event)
        if self._react is not None:
            self._react(event)

    def of(self, kind):
        return [event for event in self.events if isinstance(event, kind)]


def fit(tmp_path: Path, config: TrainConfig, data, name: str = "run", resume: bool = False,
        react=None, ctx: TaskContext | None = None):
    recorder = Recorder(react)
    finished = Trainer(config, data, tmp_path / name, run_id=name, callbacks=[recorder],
                       ctx=ctx).fit(resume=resume)
    return finished, recorder


def fit_cancelled_after_epoch(tmp_path: Path, config: TrainConfig, data, epoch: int,
                              name: str = "run"):
    """`fit`, cancelled (as the user's Stop does) once epoch ``epoch`` has ended."""
    ctx = TaskContext()

    def cancel_after_the_epoch(event):
        if isinstance(event, EpochEnded) and event.epoch == epoch:
            ctx.cancel()

    return fit(tmp_path, config, data, name=name, react=cancel_after_the_epoch, ctx=ctx)


def test_events_arrive_in_order_with_the_right_counts(tmp_path, data):
    # 48 faces in batches of 16: three batches per epoch.
    finished, recorder = fit(tmp_path, tiny_config(), data)

    events = recorder.events
    assert isinstance(events[0], RunStarted) and events[0].num_train == 48 and events[0].num_val == 24
    assert events[0].epochs == 3 and events[0].device == "cpu" and events[0].config["arch"] == TINY_ARCH
    assert events[-1] is finished and finished.status == "completed" and finished.epochs_done == 3
    position = 1
    for epoch in (1, 2, 3):
        batches = events[position:position + 3]
        assert [(e.epoch, e.batch, e.num_batches) for e in batches] == [(epoch, b, 3) for b in (1, 2, 3)]
        assert all(e.loss > 0 and e.images_per_sec > 0 and e.lr == 0.01 for e in batches)
        ended = events[position + 3]
        assert isinstance(ended, EpochEnded) and ended.epoch == epoch
        saved = events[position + 4]
        assert isinstance(saved, CheckpointSaved) and (saved.epoch, saved.kind) == (epoch, "last")
        position += 5
        if isinstance(events[position], CheckpointSaved):
            assert (events[position].epoch, events[position].kind) == (epoch, "best")
            position += 1
    assert position == len(events) - 1
    assert sum(isinstance(e, RunFinished) for e in events) == 1


def test_training_loss_falls_and_accuracy_beats_chance(tmp_path, data):
    finished, recorder = fit(tmp_path, tiny_config(epochs=8, augment="light"), data)

    epochs = recorder.of(EpochEnded)
    assert epochs[-1].train_loss < 0.7 * epochs[0].train_loss
    assert epochs[-1].train_acc > 0.8  # chance is 1/3
    assert finished.best_val_acc > 0.8
    assert finished.best_epoch == min(epochs, key=lambda e: e.val_loss).epoch


def test_cancel_stops_within_one_batch(tmp_path, data):
    ctx = TaskContext()

    def cancel_after_second_batch_of_epoch_two(event):
        if isinstance(event, BatchEnded) and (event.epoch, event.batch) == (2, 2):
            ctx.cancel()

    finished, recorder = fit(tmp_path, tiny_config(), data, react=cancel_after_second_batch_of_epoch_two,
                             ctx=ctx)

    assert finished.status == "cancelled" and finished.epochs_done == 1
    last_batch = recorder.of(BatchEnded)[-1]
    assert (last_batch.epoch, last_batch.batch) == (2, 2)
    assert [e.epoch for e in recorder.of(EpochEnded)] == [1]
    assert load_checkpoint(tmp_path / "run" / "last.pt")["epoch"] == 1


def test_early_stopping_fires_when_validation_loss_rises(tmp_path):
    data = make_data(shift_val_labels=True)
    config = tiny_config(epochs=15, early_stopping_patience=1)

    finished, recorder = fit(tmp_path, config, data)

    assert finished.status == "early_stopped"
    assert finished.epochs_done < 15
    assert finished.epochs_done == finished.best_epoch + 1
    assert len(recorder.of(EpochEnded)) == finished.epochs_done
    assert load_checkpoint(tmp_path / "run" / "best.pt")["epoch"] == finished.best_epoch


def test_resume_after_cancel_matches_an_uninterrupted_run(tmp_path, data):
    # Everything random is on: augmentation, dropout, a weighted sampler, a schedule,
    # and a frozen backbone that is unfrozen only after the interruption.
    config = tiny_config(epochs=4, augment="standard", dropout=0.3, scheduler="cosine",
                         class_weighting="sampler", freeze_epochs=3, seed=7)
    uninterrupted, _ = fit(tmp_path, config, data, name="whole")

    interrupted, _ = fit_cancelled_after_epoch(tmp_path, config, data, 2, name="split")
    assert (interrupted.status, interrupted.epochs_done) == ("cancelled", 2)
    resumed, recorder = fit(tmp_path, config, data, name="split", resume=True)

    assert (resumed.status, resumed.epochs_done) == ("completed", 4)
    assert recorder.events[0].start_epoch == 2
    assert [e.epoch for e in recorder.of(EpochEnded)] == [3, 4]
    whole = load_checkpoint(tmp_path / "whole" / "last.pt")
    split = load_checkpoint(tmp_path / "split" / "last.pt")
    assert whole["model_state"].keys() == split["model_state"].keys()
    for name, tensor in whole["model_state"].items():
        assert torch.equal(tensor, split["model_state"][name]), name
    timing = {"seconds", "images_per_sec"}
    assert ([{k: v for k, v in entry.items() if k not in timing} for entry in whole["history"]]
            == [{k: v for k, v in entry.items() if k not in timing} for entry in split["history"]])
    assert uninterrupted.best_val_loss == resumed.best_val_loss


def test_resume_refuses_changed_settings(tmp_path, data):
    fit(tmp_path, tiny_config(epochs=1), data)

    with pytest.raises(ValueError, match="lr"):
        fit(tmp_path, tiny_config(epochs=2, lr=0.5), data, resume=True)


def test_frozen_backbone_is_unchanged_until_unfrozen(tmp_path, data):
    # Init weights depend only on the seed, so an untrained model is the reference.
    torch.manual_seed(0)
    import engine.models as models
    initial = models.build_model(TINY_ARCH, 3, pretrained=False).state_dict()
    snapshots = []

    def keep_weights(event):
        if isinstance(event, CheckpointSaved) and event.kind == "last":
            snapshots.append(load_checkpoint(event.path))

    fit(tmp_path, tiny_config(epochs=2, freeze_epochs=1, finetune_lr_factor=0.5), data,
        react=keep_weights)

    frozen_epoch, tuned_epoch = (snapshot["model_state"] for snapshot in snapshots)
    for name in ("features.0.weight", "features.1.weight", "features.1.running_mean"):
        assert torch.equal(frozen_epoch[name], initial[name]), name
        assert not torch.equal(tuned_epoch[name], initial[name]), name
    assert not torch.equal(frozen_epoch["head.1.weight"], initial["head.1.weight"])
    assert [entry["lr"] for entry in snapshots[-1]["history"]] == [0.01, 0.005]


@pytest.mark.parametrize("weighting", ["loss", "sampler"])
def test_class_weighting_trains_on_imbalanced_persons(tmp_path, weighting):
    data = make_data()
    keep = (data.train_y != 2) | (torch.arange(len(data.train_y)) < 12)  # person2: few faces
    data = replace(data, train_x=data.train_x[keep], train_y=data.train_y[keep])

    finished, _ = fit(tmp_path, tiny_config(epochs=2, class_weighting=weighting), data)

    assert finished.status == "completed"


def test_failure_emits_run_finished_failed_then_raises(tmp_path, data):
    def explode(event):
        if isinstance(event, BatchEnded) and event.batch == 2:
            raise RuntimeError("callback broke")

    recorder = Recorder(explode)
    with pytest.raises(RuntimeError, match="callback broke"):
        Trainer(tiny_config(), data, tmp_path / "run", callbacks=[recorder]).fit()

    finished = recorder.events[-1]
    assert isinstance(finished, RunFinished) and finished.status == "failed"
    assert "callback broke" in finished.message and finished.epochs_done == 0


def test_bf16_autocast_and_channels_last_run_on_cpu(tmp_path, data):
    finished, recorder = fit(tmp_path, tiny_config(epochs=1, amp=True, channels_last=True), data)
    assert finished.status == "completed"
    assert all(math.isfinite(e.loss) for e in recorder.of(BatchEnded))


def test_diverging_training_fails_with_advice(tmp_path, data):
    with pytest.raises(FloatingPointError, match="lower learning rate"):
        fit(tmp_path, tiny_config(epochs=5, lr=1e12, optimizer="sgd"), data)


def test_wrong_image_size_fails_with_a_clear_message(tmp_path):
    data = make_data(size=24)
    with pytest.raises(ValueError, match="expects 32×32 images"):
        fit(tmp_path, tiny_config(), data)


def test_limit_batches_and_checkpoint_files(tmp_path, data):
    finished, recorder = fit(tmp_path, tiny_config(epochs=2, limit_train_batches=1,
                                                   limit_val_batches=1), data)

    assert len(recorder.of(BatchEnded)) == 2
    run_dir = tmp_path / "run"
    assert sorted(path.name for path in run_dir.iterdir()) == ["best.pt", "config.json", "last.pt"]
    best = load_checkpoint(run_dir / "best.pt")
    assert best["epoch"] == finished.best_epoch and best["class_names"] == list(make_data().class_names)


def test_best_checkpoint_predicts_as_validation_measured(tmp_path, data):
    finished, _ = fit(tmp_path, tiny_config(epochs=3), data)

    trained = load_trained_model(tmp_path / "run" / "best.pt")
    probs = predict_probs(trained.model, data.val_x, trained.spec, batch_size=10, device="cpu")

    assert probs.shape == (24, 3) and trained.class_names == data.class_names
    assert abs(probs.sum(axis=1) - 1).max() < 1e-5
    accuracy = (probs.argmax(axis=1) == data.val_y.numpy()).mean()
    assert accuracy == pytest.approx(finished.best_val_acc)


def test_tensorboard_scalars_when_installed(tmp_path, data, monkeypatch):
    writers = []

    class FakeSummaryWriter:
        def __init__(self, log_dir):
            self.log_dir, self.scalars, self.closed = log_dir, [], False
            writers.append(self)

        def add_scalar(self, tag, value, step):
            self.scalars.append((tag, step))

        def close(self):
            self.closed = True

    fake = types.ModuleType("torch.utils.tensorboard")
    fake.SummaryWriter = FakeSummaryWriter
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", fake)

    fit(tmp_path, tiny_config(epochs=1), data)

    (writer,) = writers
    assert writer.log_dir == str(tmp_path / "run" / "tensorboard") and writer.closed
    assert ("loss/val", 1) in writer.scalars and ("batch/loss", 3) in writer.scalars


@pytest.mark.slow
def test_short_real_run_with_customcnn1(tmp_path):
    data = make_data(num_train=36, num_val=12, size=224)
    config = TrainConfig(arch="customcnn1", epochs=2, batch_size=12, augment="standard",
                         device="cpu", early_stopping_patience=None)

    finished, recorder = fit(tmp_path, config, data)

    assert finished.status == "completed" and finished.epochs_done == 2
    assert len(recorder.of(BatchEnded)) == 6
    assert all(torch.isfinite(torch.tensor(e.val_loss)) for e in recorder.of(EpochEnded))
    trained = load_trained_model(tmp_path / "run" / "last.pt")
    assert predict_probs(trained.model, data.val_x, trained.spec, 8, "cpu").shape == (12, 3)
