"""`facelab report`: the lab report of one run, as a single HTML file to hand in."""

from __future__ import annotations

import sys

from engine.cli import EXIT_CANCELLED, EXIT_OK, cli_task, open_project


def cmd_report(args) -> int:
    from engine.evaluation.report import ReportOptions, write_lab_report
    from engine.tasks import Cancelled

    options = ReportOptions(samples_per_kind=args.samples, gradcam_samples=args.gradcam)
    with open_project(args.dir) as project, cli_task() as ctx:
        try:
            path = write_lab_report(project, args.run, args.out, options=options, ctx=ctx)
        except Cancelled:
            print("cancelled: no report written", file=sys.stderr)
            return EXIT_CANCELLED
    print(path)
    return EXIT_OK


def register(sub) -> None:
    p = sub.add_parser("report", help="write a run's lab report: one self-contained HTML file "
                       "(metrics, confusion matrix, curves, scoreboard, samples, Grad-CAM)")
    p.add_argument("dir", help="the project folder")
    p.add_argument("--run", required=True, help="the run id (see `facelab runs DIR`)")
    p.add_argument("out", metavar="OUT.html", help="the file to write")
    p.add_argument("--samples", type=int, default=8,
                   help="correct and wrong sample predictions shown, each (default 8)")
    p.add_argument("--gradcam", type=int, default=4,
                   help="faces explained with Grad-CAM (default 4; 0: none)")
    p.set_defaults(func=cmd_report)
