"""The processes the crash-safety tests SIGKILL. Each prints, flushed, one line per thing
it has committed, *after* the commit: whatever the test reads must survive the kill.

    python -m tests.reliability.child relabel PROJECT SEED ACTIONS
    python -m tests.reliability.child facelab ARGS...   (`facelab ARGS` with the tiny
                                                        network registered, reporting)
    python -m tests.reliability.child hold PROJECT      (keep the project open)
    python -m tests.reliability.child serve             (a fork server, see below)

`serve` imports torch and the engine once, then forks one process per command it reads
on stdin (JSON: {"args": [...], "out": FILE}), answering "pid N". On this 2-core CI
machine importing torch costs seconds per process; forking from a process that has
imported it (and run nothing: no threads, no connections) costs milliseconds. The
forked process runs exactly what `python -m tests.reliability.child ARGS` runs, with its
output in FILE, and writes "exit CODE" there when it ends by itself.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sys
import time


def relabel(root: str, seed: int, actions: int) -> None:
    """Many relabel actions of 1-300 random faces each, through the engine API."""
    from engine.project import Project

    rng = random.Random(seed)
    with Project.open(root) as project:
        catalog = project.catalog
        faces = catalog.face_ids(include_rejected=True)
        persons = [p.id for p in catalog.persons()] + [None]  # None: unlabel
        print("ready", flush=True)
        for _ in range(actions):
            person = rng.choice(persons)
            change = catalog.set_labels(rng.sample(faces, rng.randint(1, 300)), person)
            if change is not None:
                ids = ",".join(map(str, change.face_ids))
                print(f"committed {change.action_id} {person if person else '-'} {ids}",
                      flush=True)


def facelab(argv: list[str]) -> int:
    """`facelab ARGV`, reporting the training events a test waits on, and slowed to
    about 30 ms a batch so that a kill can land in any part of an epoch."""
    import engine.cli_training as cli_training
    from engine.cli import main
    from engine.training.events import BatchEnded, CheckpointSaved, RunStarted
    from tests.reliability.synthetic import register_tiny_arch

    register_tiny_arch()
    printer = cli_training.EpochPrinter.__call__

    def reporting(self, event) -> None:
        printer(self, event)
        if isinstance(event, RunStarted):
            print(f"started {event.run_id} {event.start_epoch}", flush=True)
        elif isinstance(event, CheckpointSaved) and event.kind == "last":
            print(f"saved {event.epoch}", flush=True)
        elif isinstance(event, BatchEnded):
            time.sleep(0.03)

    cli_training.EpochPrinter.__call__ = reporting
    return main(argv)


def hold(root: str) -> int:
    """Open the project for writing and keep it open until killed; if another process
    has it, print "refused MESSAGE" and end with code 3."""
    from engine.project import Project, ProjectLockedError

    try:
        project = Project.open(root)
    except ProjectLockedError as exc:
        print(f"refused {exc}", flush=True)
        return 3
    with project:
        project.catalog.ensure_person(f"held by {os.getpid()}")  # a write, committed
        print("holding", flush=True)
        time.sleep(3600)
    return 0


def serve() -> None:
    import engine.cli
    import engine.ingest
    import engine.training.runner
    from tests.reliability.synthetic import register_tiny_arch

    engine.cli.build_parser()  # imports every command module (torch, cv2, the zoo)
    register_tiny_arch()
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the kernel reaps killed children
    print("ready", flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            _forked(request["args"], request["out"])
        print(f"pid {pid}", flush=True)


def _forked(args: list[str], out: str) -> None:
    code = 1
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.close(fd)
        sys.stdin.close()
        code = run(args)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        print(f"exit {code}", flush=True)
        sys.stderr.flush()
        os._exit(code)


def run(args: list[str]) -> int:
    command, args = args[0], args[1:]
    if command == "relabel":
        relabel(args[0], int(args[1]), int(args[2]))
    elif command == "facelab":
        return facelab(args)
    elif command == "hold":
        return hold(args[0])
    elif command == "serve":
        serve()
    else:
        raise SystemExit(f"unknown command {command}")
    return 0


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
