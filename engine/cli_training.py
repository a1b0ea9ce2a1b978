"""`facelab train | resume | runs | evaluate | compare`: training and comparing runs."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from engine.catalog.runs import RESUMABLE_STATUSES, RunStatus
from engine.cli import EXIT_CANCELLED, EXIT_ERROR, EXIT_OK, cli_task, open_project


def add_train_options(p: argparse.ArgumentParser) -> None:
    """Options shared by train, compare and sweep, one per TRAIN_SETTINGS entry.

    An option the user does not type is left out of the namespace (argparse.SUPPRESS),
    so `given_train_settings` can tell "--epochs 20" from the default 20.
    """
    from engine.training.config import TrainConfig
    from engine.training.settings import TRAIN_SETTINGS

    defaults = TrainConfig(arch="customcnn1")
    g = p.add_argument_group("training")
    for setting in TRAIN_SETTINGS:
        default = getattr(defaults, setting.name)
        if setting.kind is bool:
            on, off = setting.flags
            both = g.add_mutually_exclusive_group()
            both.add_argument(on, dest=setting.name, action="store_true",
                              default=argparse.SUPPRESS,
                              help=setting.choice(True).hint.replace("%", "%%"))
            both.add_argument(off, dest=setting.name, action="store_false",
                              default=argparse.SUPPRESS,
                              help=setting.choice(False).hint.replace("%", "%%"))
            continue
        shown = 0 if default is None and setting.zero_is_none else default
        g.add_argument(*setting.flags, dest=setting.name, type=setting.kind,
                       metavar=setting.metavar,
                       choices=setting.choice_values if setting.choices and setting.name != "device"
                       else None,
                       default=argparse.SUPPRESS,
                       # argparse reads help as a %-format ("90%-sure" would break it).
                       help=(setting.help + ("" if shown is None else f" (default {shown})")
                             ).replace("%", "%%"))


def given_train_settings(args: argparse.Namespace) -> dict:
    """The TrainConfig settings the user typed on the command line, by field name."""
    from engine.training.settings import TRAIN_SETTINGS

    given = {}
    for setting in TRAIN_SETTINGS:
        if setting.name in vars(args):
            value = getattr(args, setting.name)
            given[setting.name] = None if setting.zero_is_none and value == 0 else value
    return given


def config_from_args(arch: str, args: argparse.Namespace):
    """The architecture's own settings (see `architecture_config`), with the options the
    user typed."""
    from engine.training.auto import architecture_config

    return architecture_config(arch, given_train_settings(args))


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
    if result.finished.status in RESUMABLE_STATUSES:
        print(f"{result.finished.status}: continue with `facelab resume {args.dir} --run "
              f"{result.run_id}`", file=sys.stderr)
    if result.finished.status == RunStatus.CANCELLED:
        return EXIT_CANCELLED
    return EXIT_OK if RunStatus(result.finished.status).trained_to_the_end else EXIT_ERROR


def cmd_train(args) -> int:
    from engine.training.runner import train_run

    with open_project(args.dir) as project, cli_task() as ctx:
        if args.arch == "auto":
            from engine.training.auto import auto_config

            config, reason = auto_config(project, given_train_settings(args))
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
    from engine.training.best_epoch import kept_val_acc

    with open_project(args.dir) as project:
        runs = project.catalog.runs
        rows = [{"run_id": r.id, "arch": r.arch, "status": r.status, "split_id": r.split_id,
                 "best_epoch": r.best_epoch,
                 "best_val_acc": kept_val_acc(r, runs.epochs(r.id)),
                 "sweep_id": r.sweep_id} for r in runs.list()]
    if args.json:
        print(json.dumps(rows))
    else:
        for r in rows:
            acc = "-" if r["best_val_acc"] is None else f"{r['best_val_acc']:.1%}"
            print(f"{r['run_id']}  {r['arch']:<20} {r['status']:<13} "
                  f"val acc (kept epoch) {acc}")
    return EXIT_OK


def _print_standings(standings) -> None:
    """The ranked runs, then the ones that do not compare, each with its reason."""
    print(f"{'rank':<5}{'model':<22}{'accuracy':>9}{'precision':>11}{'recall':>8}{'F1':>7}  run")
    for r in standings.rows:
        print(f"{r.rank:<5}{r.label:<22}{r.accuracy:>9.1%}{r.macro_precision:>11.3f}"
              f"{r.macro_recall:>8.3f}{r.macro_f1:>7.3f}  {r.run_id}")
    if standings.not_comparable:
        print("not ranked with these (measured on other test faces):")
        for n in standings.not_comparable:
            print(f"  {n.run_id}  {n.label}  {n.accuracy:.1%}: {n.reason}")


def cmd_evaluate(args) -> int:
    from engine.evaluation.runs import current_report, evaluate_run, run_standing

    with open_project(args.dir) as project, cli_task() as ctx:
        # A stored report older than the test set is scored again (current_report).
        report = evaluate_run(project, args.run, ctx=ctx) if args.recompute else \
            current_report(project, args.run, ctx=ctx)
        standing = run_standing(project, args.run)
    if args.json:
        print(json.dumps({**report.to_dict(), "notes": list(standing.messages()),
                          "scoreboard": standing.standings.to_dict()}, ensure_ascii=False))
        return EXIT_OK
    print(f"accuracy {report.accuracy:.1%} (95% CI {report.accuracy_ci[0]:.1%}-"
          f"{report.accuracy_ci[1]:.1%})  macro precision {report.macro_precision:.3f}  "
          f"recall {report.macro_recall:.3f}  F1 {report.macro_f1:.3f}")
    for name, m in report.per_person.items():
        print(f"  {name:<24} precision {m.precision:.2f}  recall {m.recall:.2f}  "
              f"F1 {m.f1:.2f}  ({m.support} faces)")
    for note in standing.messages():
        print(f"note: {note}")
    print()
    _print_standings(standing.standings)
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
            if result.finished.status == RunStatus.CANCELLED:
                print("comparison cancelled", file=sys.stderr)
                return EXIT_CANCELLED
        standings = project_scoreboard(project, run_ids=run_ids).standings(run_ids[-1])
    if args.json:
        print(json.dumps(standings.to_dict()))
        return EXIT_OK
    _print_standings(standings)
    return EXIT_OK


def register(sub) -> None:
    p = sub.add_parser("train", help="train one architecture on the project's split")
    p.add_argument("dir")
    p.add_argument("--arch", required=True,
                   help="architecture name (see `facelab models`), or auto")
    p.add_argument("--json-out", metavar="FILE", help="write the run's summary as JSON")
    add_train_options(p)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("resume", help="continue a run that stopped before its end ("
                       + ", ".join(RESUMABLE_STATUSES) + ")")
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
