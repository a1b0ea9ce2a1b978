"""Live curves: the feed is safe across threads; curves, ETA and resumed runs."""

from __future__ import annotations

import threading

from engine.training.events import BatchEnded, EpochEnded, RunFinished, RunStarted
from gui.models.training_curves import RunCurves, TrainingFeed, format_duration


def _started(epochs=4, start=0):
    return RunStarted("r1", {}, 100, 20, "cpu", epochs, start)


def _epoch(n):
    return EpochEnded(n, 1.0 / n, 0.5, 1.2 / n, 0.4, 1e-3, 1.0, 100.0)


def test_feed_takes_events_from_many_threads_and_drains_them_once():
    feed = TrainingFeed()
    threads = [threading.Thread(target=lambda: [feed(i) for i in range(1000)]) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(feed.drain()) == 4000 and feed.drain() == []


def test_curves_follow_the_events_and_estimate_the_time_left():
    curves = RunCurves()
    stamped = [(0.0, _started())]
    stamped += [(1.0 + b, BatchEnded(1, b + 1, 4, 2.0 - b * 0.1, 50.0, 1e-3)) for b in range(4)]
    stamped += [(5.0, _epoch(1))]
    assert curves.apply(stamped) == {"RunStarted", "BatchEnded", "EpochEnded"}
    assert list(curves.batch_x) == [0.25, 0.5, 0.75, 1.0]
    assert list(curves.val_acc) == [40.0] and curves.epochs_done == 1
    # 4 of 16 batches (and a validation) in 5 s: the 12 left take about 15 s more,
    # counted down as time passes without news.
    assert curves.eta_seconds(now=5.0) == 15.0
    assert curves.eta_seconds(now=8.0) == 12.0
    assert curves.throughput() == 50.0
    version = curves.version
    curves.apply([(6.0, RunFinished("completed", 1, 1, 1.2, 0.4))])
    assert curves.version == version + 1 and curves.eta_seconds() is None
    assert curves.apply([(7.0, "not an event")]) == set() and curves.version == version + 1


def test_a_resumed_run_continues_its_stored_curves():
    curves = RunCurves.from_epochs("r1", "arch", [_epoch(1), _epoch(2), _epoch(3)], 6)
    curves.apply([(0.0, _started(epochs=6, start=2)), (1.0, _epoch(3))])
    assert list(curves.epoch) == [1.0, 2.0, 3.0] and curves.start_epoch == 2


def test_durations_read_naturally():
    assert [format_duration(s) for s in (0.2, 42, 150, 3900)] == ["1 s", "42 s", "2 min",
                                                                   "1 h 05 min"]
