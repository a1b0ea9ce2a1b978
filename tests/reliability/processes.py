"""Child processes for the reliability tests: started, read line by line, SIGKILLed."""

from __future__ import annotations

import json
import os
import queue
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# Windows has no SIGKILL; send_signal(SIGTERM) is TerminateProcess there, as abrupt.
HARD_KILL = getattr(signal, "SIGKILL", signal.SIGTERM)


class _Lines:
    """The lines a process prints, as they come (a reader thread fills `_queue`)."""

    log: Path

    def __init__(self) -> None:
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()

    def wait_for(self, prefix: str, timeout: float = 120.0) -> str:
        """The next line starting with ``prefix`` (lines before it are kept in `lines`)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no {prefix!r} line within {timeout:.0f} s\n"
                                     + self.stderr_tail()) from None
            if line is None:
                raise AssertionError(f"the child ended (code {self.proc.wait()}) before a "
                                     f"{prefix!r} line\n" + self.stderr_tail())
            self.lines.append(line)
            if line.startswith(prefix):
                return line

    def _drain(self) -> None:
        while (line := self._queue.get()) is not None:
            self.lines.append(line)
        self._queue.put(None)  # a later wait_for sees the end, not a hang

    def stderr_tail(self, lines: int = 15) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


class Child(_Lines):
    """``python ARGS`` from the repository root; stdout lines are collected as they come."""

    def __init__(self, args: list, log: Path, stdin: bool = False) -> None:
        super().__init__()
        self.log = log
        self._stderr = open(log, "w")
        self.proc = subprocess.Popen([sys.executable, *map(str, args)], cwd=REPO, text=True,
                                     stdout=subprocess.PIPE, stderr=self._stderr, bufsize=1,
                                     stdin=subprocess.PIPE if stdin else None,
                                     env={**os.environ, "PYTHONUNBUFFERED": "1"})
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    @property
    def running(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> bool:
        """SIGKILL; True if it was still running. Afterwards `lines` holds all it printed."""
        running = self.running
        if running:
            self.proc.send_signal(HARD_KILL)
        self.finish()
        return running

    def finish(self, timeout: float = 300.0) -> int:
        code = self.proc.wait(timeout)
        self._reader.join(timeout)
        self._drain()
        self._stderr.close()
        return code


class ForkServer:
    """`python -m tests.reliability.child serve`: forks a process per `start` (see there)."""

    def __init__(self, log: Path) -> None:
        self._server = Child(["-m", "tests.reliability.child", "serve"], log, stdin=True)
        self._stdin = self._server.proc.stdin
        self._started: list[Forked] = []
        self._server.wait_for("ready", timeout=300)

    def start(self, args: list, out: Path) -> "Forked":
        request = json.dumps({"args": [str(a) for a in args], "out": str(out)})
        self._stdin.write(request + "\n")
        self._stdin.flush()
        pid = int(self._server.wait_for("pid ", timeout=60).split()[1])
        self._started.append(Forked(pid, out))
        return self._started[-1]

    def close(self) -> None:
        for forked in self._started:  # a failed test may leave one running
            forked.kill()
        self._server.kill()


class Forked(_Lines):
    """A process forked by the server: its stdout and stderr go to ``out``, which it ends
    with "exit CODE" unless it is killed."""

    def __init__(self, pid: int, out: Path) -> None:
        super().__init__()
        self.pid, self.log, self.code = pid, out, None
        self._reader = threading.Thread(target=self._tail, daemon=True)
        self._reader.start()

    def _tail(self) -> None:
        while not self.log.exists():
            time.sleep(0.005)
        with open(self.log, errors="replace") as out:
            pending = ""
            while True:
                ended = not _alive(self.pid)  # before reading: then the read gets it all
                chunk = out.read()
                if chunk:
                    pending += chunk
                    *complete, pending = pending.split("\n")
                    for line in complete:
                        if line.startswith("exit ") and line[5:].lstrip("-").isdigit():
                            self.code = int(line[5:])
                        self._queue.put(line)
                elif ended:
                    break
                else:
                    time.sleep(0.005)
        self._queue.put(None)

    @property
    def running(self) -> bool:
        return _alive(self.pid)

    def kill(self) -> bool:
        running = self.running
        if running:
            os.kill(self.pid, HARD_KILL)
        self.finish()
        return running

    def finish(self, timeout: float = 300.0) -> int | None:
        """Wait until it has ended; its exit code (None when killed)."""
        deadline = time.monotonic() + timeout
        while _alive(self.pid):
            assert time.monotonic() < deadline, f"process {self.pid} did not end"
            time.sleep(0.01)
        self._reader.join(timeout)
        self._drain()
        return self.code


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def integrity(catalog: Path) -> tuple[str, list]:
    """(PRAGMA integrity_check, PRAGMA foreign_key_check) of a catalog file."""
    conn = sqlite3.connect(catalog)
    try:
        return (conn.execute("PRAGMA integrity_check").fetchone()[0],
                conn.execute("PRAGMA foreign_key_check").fetchall())
    finally:
        conn.close()


def count(catalog: Path, sql: str) -> int:
    """One number from a read-only connection, while a child writes."""
    conn = sqlite3.connect(f"{catalog.resolve().as_uri()}?mode=ro", uri=True, timeout=10)
    try:
        return int(conn.execute(sql).fetchone()[0])
    finally:
        conn.close()
