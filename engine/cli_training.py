"""`facelab train | resume | runs | evaluate | compare`: training and comparing runs."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from engine.cli import EXIT_CANCELLED, EXIT_ERROR, EXIT_OK, cli_task, open_project


def add_train_options(p: argparse.ArgumentParser) -> None:
    """Options shared by train, compare and sweep (defaults: TrainConfig's)."""
    from engine.data.augment_presets import PRESETS
    from engine.ingest.align import FACE_FRAMINGS
    from engine.training.config import CLASS_WEIGHTINGS, OPTIMIZERS, SCHEDULERS, TrainConfig

    d = TrainConfig(arch="customcnn1")
    g = p.add_argument_group("training")
    g.add_argument("--epochs", type=int, default=d.epochs)
    g.add_argument("--batch-size", type=int, default=d.batch_size)
    g.add_argument("--lr", type=float, default=d.lr, help="learning rate")
    g.add_argument("--optimizer", choices=OPTIMIZERS, default=d.optimizer)
    g.add_argument("--scheduler", choices=SCHEDULERS, default=d.scheduler)
    g.add_argument("--weight-decay", type=float, default=d.weight_decay)
    g.add_argument("--label-smoothing", type=float, default=d.label_smoothing)
    g.add_argument("--dropout", type=float, default=d.dropout)
    g.add_argument("--augment", choices=tuple(PRESETS), default=d.augment)
    g.add_argument("--early-stopping", type=int, default=d.early_stopping_patience,
                   metavar="PATIENCE", help="stop after this many epochs without a lower "
                   "validation loss (0: never)")
    g.add_argument("--class-weighting", choices=CLASS_WEIGHTINGS, default=d.class_weighting)
    g.add_argument("--freeze-epochs", type=int, default=d.freeze_epochs,
                   help="transfer learning: train only the new head for N epochs, then "
                        "fine-tune everything with a lower learning rate")
    g.add_argument("--face-framing", choices=FACE_FRAMINGS, default=d.face_framing,
                   help="faces as square crops around the detector's box, or aligned on "
                        "their eyes, nose and mouth (default: the architecture's own)")
    g.add_argument("--device", default=d.device, help="auto, cpu, cuda, cuda:1, mps")
    g.add_argument("--seed", type=int, default=d.seed)
    weights = g.add_mutually_exclusive_group()
    weights.add_argument("--pretrained", dest="pretrained", action="store_true", default=None,
                         help="start from pretrained weights (the default where they exist)")
    weights.add_argument("--scratch", dest="pretrained", action="store_false",
                         help="train from random weights")


def config_from_args(arch: str, args: argparse.Namespace):
    from engine.models import get_spec
    from engine.training.config import TrainConfig

    spec = get_spec(arch)
    pretrained = spec.has_pretrained_weights if args.pretrained is None else args.pretrained
    return TrainConfig(
        arch=arch, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
        optimizer=args.optimizer, scheduler=args.scheduler, weight_decay=args.weight_decay,
        label_smoothing=args.label_smoothing, dropout=args.dropout, augment=args.augment,
        early_stopping_patience=args.early_stopping or None,
        class_weighting=args.class_weighting, freeze_epochs=args.freeze_epochs,
        face_framing=getattr(args, "face_framing", None), device=args.device, seed=args.seed,
        pretrained=pretrained)


class EpochPrinter:
    """One line per epoch on stderr, plus a batch bar on a terminal."""

    def __init__(self, label: str = "") -> None:
        self.label = f"[{label}] " if label else ""
        self.epochs = 0
        self.bar = None

    def __call__(self, event) -> None:
        from tqdm import tqdm

        from engine.training.events import BatchEnded, EpochEnded, RunFinished, RunStarted

        if isinstance(event, RunStarted):
            self.epochs = event.epochs
            print(f"{self.label}run {event.run_id}: {event.num_train} training / {event.num_val} "
                  f"validation faces on {event.device}", file=sys.stderr)
        elif isinstance(event, BatchEnded):
            if self.bar is None:
                self.bar = tqdm(total=event.num_batches, desc=f"epoch {event.epoch}",
                                unit="batch", disable=None, leave=False)
            self.bar.n = event.batch
            self.bar.set_postfix(loss=f"{event.loss:.3f}", refresh=True)
        elif isinstance(event, EpochEnded):
            if self.bar is not None:
                self.bar.close()
                self.bar = None
            print(f"{self.label}epoch {event.epoch}/{self.epochs}  train loss {event.train_loss:.3f}"
                  f" acc {event.train_acc:.1%}  val loss {event.val_loss:.3f} acc "
                  f"{event.val_acc:.1%}  {event.images_per_sec:.0f} img/s", file=sys.stderr)
        elif isinstance(event, RunFinished) and self.bar is not None:
            self.bar.close()
            self.bar = None


def _summary(result) -> dict:
    out = {"run_id": result.run_id, "status": result.finished.status,
           "best_epoch": result.finished.best_epoch,
           "best_val_acc": result.finished.best_val_acc,
           "message": result.finished.message}
    if result.report is not None:
        out.update(test_accuracy=result.report.accuracy,
                   test_accuracy_ci=list(result.report.accuracy_ci),
                   test_macro_f1=result.report.macro_f1)
    return out


def _finish(result, args) -> int:
    summary = _summary(result)
    if getattr(args, "json_out", None):
        Path(args.json_out).write_text(json.dumps(summary, indent=2))
    if result.report is not None:
        print(f"test accuracy {result.report.accuracy:.1%} (95% CI "
              f"{result.report.accuracy_ci[0]:.1%}-{result.report.accuracy_ci[1]:.1%}), "
              f"macro F1 {result.report.macro_f1:.3f}", file=sys.stderr)
    print(result.run_id)
    if result.finished.status == "cancelled":
        print(f"cancelled: continue with `facelab resume {args.dir} --run {result.run_id}`",
              file=sys.stderr)
        return EXIT_CANCELLED
    return EXIT_OK if result.finished.status in ("completed", "early_stopped") else EXIT_ERROR


def cmd_train(args) -> int:
    from engine.training.runner import train_run

    with open_project(args.dir) as project, cli_task() as ctx:
        if args.arch == "auto":
            from engine.training.auto import auto_config

            config, reason = auto_config(project, args)
            print(f"auto: {reason}", file=sys.stderr)
        else:
            config = config_from_args(args.arch, args)
        result = train_run(project, config, callbacks=[EpochPrinter()], ctx=ctx)
        return _finish(result, args)


def cmd_resume(args) -> int:
    from engine.training.runner import resume_run

    with open_project(args.dir) as project, cli_task() as ctx:
        return _finish(resume_run(project, args.run, callbacks=[EpochPrinter()], ctx=ctx), args)


def cmd_runs(args) -> int:
    with open_project(args.dir) as project:
        runs = project.catalog.runs.list()
        rows = [{"run_id": r.id, "arch": r.arch, "status": r.status, "split_id": r.split_id,
                 "best_epoch": r.best_epoch, "best_val_acc": r.best_val_acc,
                 "sweep_id": r.sweep_id} for r in runs]
    if args.json:
        print(json.dumps(rows))
    else:
        for r in rows:
            acc = "-" if r["best_val_acc"] is None else f"{r['best_val_acc']:.1%}"
            print(f"{r['run_id']}  {r['arch']:<20} {r['status']:<13} best val acc {acc}")
    return EXIT_OK


def cmd_evaluate(args) -> int:
    from engine.evaluation.runs import evaluate_run, stored_report

    with open_project(args.dir) as project, cli_task() as ctx:
        report = None if args.recompute else stored_report(project, args.run)
        if report is None:
            report = evaluate_run(project, args.run, ctx=ctx)
    if args.json:
        print(json.dumps(report.to_dict(), ensure_ascii=False))
        return EXIT_OK
    print(f"accuracy {report.accuracy:.1%} (95% CI {report.accuracy_ci[0]:.1%}-"
          f"{report.accuracy_ci[1]:.1%})  macro precision {report.macro_precision:.3f}  "
          f"recall {report.macro_recall:.3f}  F1 {report.macro_f1:.3f}")
    for name, m in report.per_person.items():
        print(f"  {name:<24} precision {m.precision:.2f}  recall {m.recall:.2f}  "
              f"F1 {m.f1:.2f}  ({m.support} faces)")
    return EXIT_OK


def cmd_compare(args) -> int:
    from engine.evaluation.runs import project_scoreboard
    from engine.training.runner import train_run

    archs = [a.strip() for a in args.archs.split(",") if a.strip()]
    run_ids = []
    with open_project(args.dir) as project, cli_task() as ctx:
        for arch in archs:
            result = train_run(project, config_from_args(arch, args),
                               callbacks=[EpochPrinter(arch)], ctx=ctx)
            run_ids.append(result.run_id)
            if result.finished.status == "cancelled":
                print("comparison cancelled", file=sys.stderr)
                return EXIT_CANCELLED
        rows = project_scoreboard(project, run_ids=run_ids).rows()
    if args.json:
        print(json.dumps([r.to_dict() for r in rows]))
        return EXIT_OK
    print(f"{'rank':<5}{'model':<22}{'accuracy':>9}{'precision':>11}{'recall':>8}{'F1':>7}  run")
    for r in rows:
        print(f"{r.rank:<5}{r.label:<22}{r.accuracy:>9.1%}{r.macro_precision:>11.3f}"
              f"{r.macro_recall:>8.3f}{r.macro_f1:>7.3f}  {r.run_id}")
    return EXIT_OK


def register(sub) -> None:
    p = sub.add_parser("train", help="train one architecture on the project's split")
    p.add_argument("dir")
    p.add_argument("--arch", required=True,
                   help="architecture name (see `facelab models`), or auto")
    p.add_argument("--json-out", metavar="FILE", help="write the run's summary as JSON")
    add_train_options(p)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("resume", help="continue a cancelled or interrupted run")
    p.add_argument("dir")
    p.add_argument("--run", required=True)
    p.add_argument("--json-out", metavar="FILE")
    p.set_defaults(func=cmd_resume)

    p = sub.add_parser("runs", help="list the project's training runs")
    p.add_argument("dir")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_runs)

    p = sub.add_parser("evaluate", help="test-set metrics of a run")
    p.add_argument("dir")
    p.add_argument("--run", required=True)
    p.add_argument("--json", action="store_true")
    p.add_argument("--recompute", action="store_true", help="predict again, ignore the stored report")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("compare", help="train several architectures on the same split and "
                       "rank them (the lab's scoreboard)")
    p.add_argument("dir")
    p.add_argument("--archs", required=True, help="comma-separated, e.g. customcnn1,resnet18")
    p.add_argument("--json", action="store_true")
    add_train_options(p)
    p.set_defaults(func=cmd_compare)
