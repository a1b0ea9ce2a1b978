"""Two FaceLab instances on one project: the second is told who has it open (an OS lock,
engine/project_lock.py) instead of writing beside it; read-only opens still work; a
lock left by a dead process is taken over; the window shows the message and stays on
the welcome page."""

from __future__ import annotations

import json
import os
import platform

import pytest

from engine.cli import main as cli_main
from engine.project import LOCK_NAME, Project, ProjectLockedError
from tests.reliability.helpers import main_window, report
from tests.reliability.processes import Child, integrity


def _hold(root, log) -> Child:
    child = Child(["-m", "tests.reliability.child", "hold", root], log)
    child.wait_for("holding", timeout=60)
    return child


@pytest.fixture
def root(tmp_path):
    root = tmp_path / "project"
    with Project.create(root) as project:
        project.catalog.ensure_person("Ann")
    return root


@pytest.fixture
def held(root, tmp_path):
    """The project, open for writing in another process."""
    child = _hold(root, tmp_path / "holder.log")
    yield child
    child.kill()


def test_second_instance_is_told_who_has_it_and_reading_still_works(root, held, capsys):
    with pytest.raises(ProjectLockedError) as refused:
        Project.open(root)
    message = str(refused.value)
    assert str(root) in message and f"process {held.proc.pid} on {platform.node()}" in message
    assert "\n" not in message

    before = (root / "catalog.sqlite").read_bytes()
    capsys.readouterr()
    assert cli_main(["import", str(root), str(root)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "open in another FaceLab" in err[0] and str(root) in err[0]
    assert (root / "catalog.sqlite").read_bytes() == before  # nothing written

    # Read-only opens work beside the writer, and see what it committed.
    assert cli_main(["stats", str(root), "--json"]) == 0
    persons = json.loads(capsys.readouterr().out)["persons"]
    assert set(persons) == {"Ann", f"held by {held.proc.pid}"}
    with Project.open(root, readonly=True) as project:
        assert project.catalog.person_by_name("Ann") is not None
    report(capsys, "two instances: the second writer was refused with the holder named "
                   "(pid, host, time); stats/read-only opens worked beside it")


def test_lock_of_a_killed_instance_is_taken_over(root, tmp_path, capsys):
    holder = _hold(root, tmp_path / "holder.log")
    assert holder.kill()
    assert json.loads((root / LOCK_NAME).read_text())["pid"] == holder.proc.pid  # stale
    with Project.open(root) as project:
        assert project.catalog.person_by_name(f"held by {holder.proc.pid}") is not None
        assert json.loads((root / LOCK_NAME).read_text())["pid"] == os.getpid()
    assert (root / LOCK_NAME).read_text() == ""  # released: no holder named
    assert integrity(root / "catalog.sqlite") == ("ok", [])
    report(capsys, "two instances: a lock left by a SIGKILLed instance was taken over")


def test_opens_within_one_process_share_the_lock_until_the_last_closes(root, tmp_path):
    # The window and its background jobs each open the project in the same process.
    first, second = Project.open(root), Project.open(root)
    second.close()
    refused = Child(["-m", "tests.reliability.child", "hold", root], tmp_path / "a.log")
    assert refused.wait_for("refused").startswith("refused ")
    assert refused.finish() == 3
    first.close()
    first.close()  # closing twice releases once
    holder = _hold(root, tmp_path / "b.log")  # free now
    holder.kill()


def test_two_instances_starting_together_one_wins(root, tmp_path):
    children = [Child(["-m", "tests.reliability.child", "hold", root], tmp_path / f"{n}.log")
                for n in range(3)]
    try:
        outcomes = sorted(c.wait_for("") .split()[0] for c in children)
    finally:
        for child in children:
            child.kill()
    assert outcomes == ["holding", "refused", "refused"]
    assert integrity(root / "catalog.sqlite") == ("ok", [])


def test_window_shows_the_message_instead_of_opening(root, held, qtbot, tmp_path):
    with main_window(qtbot, tmp_path / "settings") as window:
        assert window.open_project(str(root)) is False
        assert window.session is None and window.stack.currentWidget() is window.welcome
        assert window.banner.isVisible() and window.banner.kind == "error"
        assert "open in another FaceLab" in window.banner.text()
        assert f"process {held.proc.pid}" in window.banner.text()
