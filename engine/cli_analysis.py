"""`facelab mistakes | sweep`: questioning the data (which labels look wrong?) and the
settings (which learning rate, batch size, optimizer and augmentation work best?)."""

from __future__ import annotations

import json
import sys

from engine.cli import EXIT_CANCELLED, EXIT_OK, cli_task, open_project
from engine.cli_training import EpochPrinter, add_train_options, config_from_args


def cmd_mistakes(args) -> int:
    from engine.evaluation.mistakes import find_label_mistakes, reliability_text
    from engine.tasks import Cancelled

    with open_project(args.dir) as project, cli_task() as ctx:
        try:
            search = find_label_mistakes(project, folds=args.folds, method=args.method,
                                         epochs=args.epochs, seed=args.seed, ctx=ctx)
        except Cancelled:
            print("cancelled: the previous list of suspicious labels is unchanged",
                  file=sys.stderr)
            return EXIT_CANCELLED
        crops = {f.id: f.crop_path for f in project.catalog.faces(include_rejected=True)}
        rows = [{"face_id": m.face_id, "score": round(m.score, 4), "given": m.given_person,
                 "suggested": m.suggested_person,
                 "crop": str(project.resolve(crops[m.face_id]))} for m in search.mistakes]
    basis = search.basis
    if args.json:
        print(json.dumps({"method": basis.method, "method_label": basis.method_label,
                          "oof_accuracy": round(basis.oof_accuracy, 4), "faces": basis.faces,
                          "persons": basis.persons, "folds": basis.folds,
                          "seconds": basis.seconds, "mistakes": rows}, ensure_ascii=False))
        return EXIT_OK
    print(reliability_text(basis))
    if not rows:
        print("No suspicious labels: the labels look consistent.")
        return EXIT_OK
    print(f"{len(rows)} suspicious label(s), most suspicious first:")
    for r in rows:
        print(f"  face {r['face_id']:<6} {r['score']:.2f}  labelled {r['given']!r}, looks like "
              f"{r['suggested']!r}  {r['crop']}")
    return EXIT_OK


def cmd_sweep(args) -> int:
    from engine.training.sweep import describe, run_sweep

    base = config_from_args(args.arch, args)
    with open_project(args.dir) as project, cli_task() as ctx:
        trials = run_sweep(project, args.arch, args.trials, base=base, seed=base.seed, ctx=ctx,
                           callbacks=[EpochPrinter(args.arch)])
    rows = [{"rank": rank, "run_id": t.run_id, "status": t.status,
             "best_val_acc": t.best_val_acc, "lr": t.config.lr, "batch_size": t.config.batch_size,
             "optimizer": t.config.optimizer, "augment": t.config.augment}
            for rank, t in enumerate(trials, start=1)]
    if args.json:
        print(json.dumps(rows))
    else:
        print(f"{'rank':<5}{'val acc':>8}  {'settings':<55} run")
        for rank, t in enumerate(trials, start=1):
            acc = "-" if t.best_val_acc is None else f"{t.best_val_acc:.1%}"
            print(f"{rank:<5}{acc:>8}  {describe(t.config):<55} {t.run_id} ({t.status})")
    return EXIT_CANCELLED if any(t.status == "cancelled" for t in trials) else EXIT_OK


def register(sub) -> None:
    p = sub.add_parser("mistakes", help="find labelled faces that are probably filed under "
                       "the wrong person (cross-validation + confident learning)")
    p.add_argument("dir")
    p.add_argument("--folds", type=int, default=5, help="cross-validation folds (default 5)")
    p.add_argument("--method", default="auto",
                   help="auto (default: the face network where its weights are on this "
                        "machine, else quick), face-network (its descriptors + logistic "
                        "regression), quick (a classical model, seconds on a CPU) or an "
                        "architecture name trained per fold")
    p.add_argument("--epochs", type=int, default=10, help="epochs per fold for an architecture")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true",
                   help="print JSON: {method, method_label, oof_accuracy, faces, persons, "
                        "folds, seconds, mistakes: [{face_id, score, given, suggested, crop}]}")
    p.set_defaults(func=cmd_mistakes)

    p = sub.add_parser("sweep", help="random search over learning rate, batch size, optimizer "
                       "and augmentation; trials ranked by validation accuracy")
    p.add_argument("dir")
    p.add_argument("--arch", required=True, help="architecture name (see `facelab models`)")
    p.add_argument("--trials", type=int, required=True)
    p.add_argument("--json", action="store_true")
    add_train_options(p)
    p.set_defaults(func=cmd_sweep)
