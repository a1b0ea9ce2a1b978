"""One rule for "the best epoch" (the one best.pt keeps): the trainer, `facelab runs`
and the app's runs table agree, also for a run whose process died (issue 18:
`facelab runs` showed "-" where the app showed 29.4%)."""

from __future__ import annotations

import json
import math
import subprocess
import sys

from engine.catalog import EpochRecord
from engine.cli import main as cli_main
from engine.training.best_epoch import kept_epoch, kept_val_acc


def _epoch(n: int, val_loss: float, val_acc: float) -> EpochRecord:
    return EpochRecord(n, 1.0, 0.5, val_loss, val_acc, 1e-3, 1.0, 100.0)


EPOCHS = [_epoch(1, 1.2, 0.20), _epoch(2, 0.9, 0.294), _epoch(3, math.nan, 0.9),
          _epoch(4, 0.9, 0.40), _epoch(5, 1.0, 0.35)]


def test_the_kept_epoch_is_the_first_with_the_lowest_finite_loss():
    assert kept_epoch(EPOCHS).epoch == 2  # not the NaN epoch, not the later tie
    assert kept_epoch([]) is None


def test_runs_lists_the_kept_accuracy_of_an_interrupted_run(project, capsys):
    runs = project.catalog.runs
    runs.create(run_id="r1", arch="customcnn1", split_id=None, config={"epochs": 10},
                persons=["a", "b"], run_dir="runs/r1")
    for epoch in EPOCHS:
        runs.record_epoch("r1", epoch)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    with project.catalog.db.write() as conn:  # its process was killed mid-run
        conn.execute("UPDATE runs SET pid = ? WHERE id = 'r1'", (dead.pid,))
    record = runs.list()[0]
    assert record.status == "interrupted" and record.best_val_acc is None
    assert kept_val_acc(record, runs.epochs("r1")) == 0.294

    assert cli_main(["runs", str(project.root)]) == 0
    assert "val acc (kept epoch) 29.4%" in capsys.readouterr().out
    assert cli_main(["runs", str(project.root), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["best_val_acc"] == 0.294
