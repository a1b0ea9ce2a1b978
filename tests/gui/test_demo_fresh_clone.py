"""The README's app command on a fresh clone, as a student's laptop has it: no
../shared beside the checkout, no FACELAB_DEMO_PHOTOS. `bash scripts/dev.sh app` must
build the demo project from the faces FaceLab draws, and the app must open it with its
persons and faces.

The clone is of the committed tree (HEAD), as anyone cloning gets it. The virtual
environment is the one running these tests: FACELAB_VENV points dev.sh at a folder whose
bin/python is this interpreter with pip stubbed out (nothing is installed anywhere; a
real set-up takes minutes and the network) and whose bin/facelab is the console
script's module, so the clone's own code runs.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _script(path: Path, body: str) -> None:
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


def _venv_of_these_tests(folder: Path) -> Path:
    bin_dir = folder / "bin"
    bin_dir.mkdir(parents=True)
    _script(bin_dir / "python",
            '[ "$1" = "-m" ] && [ "$2" = "pip" ] && exit 0  # installed already\n'
            f'exec "{sys.executable}" "$@"\n')
    _script(bin_dir / "facelab", f'exec "{sys.executable}" -m gui.launcher "$@"\n')
    return folder


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_the_app_command_builds_and_opens_a_drawn_demo_on_a_fresh_clone(
        qtbot, window, tmp_path, monkeypatch):
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.fail("this test clones the repository: it needs git and a git checkout")
    clone = tmp_path / "elsewhere" / "facelab"  # nothing called shared beside it
    subprocess.run(["git", "clone", "--quiet", str(REPO), str(clone)], check=True,
                   timeout=300)
    assert not (clone.parent / "shared").exists()
    home = tmp_path / "home"
    env = {key: value for key, value in os.environ.items()
           if key not in ("FACELAB_DEMO_PHOTOS", "FACELAB_DATASETS", "PYTHONPATH")}
    env.update({"FACELAB_HOME": str(home), "PYTHONPATH": str(clone),
                "FACELAB_VENV": str(_venv_of_these_tests(tmp_path / "venv")),
                "QT_QPA_PLATFORM": "offscreen"})

    # --no-gui: the same set-up and demo build, then the stats instead of a window.
    app = subprocess.run(["bash", "scripts/dev.sh", "app", "--no-gui"], cwd=clone, env=env,
                         check=False, capture_output=True, text=True, timeout=1500)
    assert app.returncode == 0, app.stderr[-4000:]
    assert "drawn by FaceLab" in app.stderr
    demo_dir = home / "demo-project"
    stats = json.loads(subprocess.run(
        [str(Path(env["FACELAB_VENV"]) / "bin" / "facelab"), "stats", str(demo_dir), "--json"],
        cwd=clone, env=env, capture_output=True, text=True, check=True, timeout=300).stdout)
    print(f"[figure] drawn demo: {stats['photos']} photos, {stats['faces']} faces, "
          f"{stats['no_face_photos']} photo(s) without a face found")
    assert len(stats["persons"]) >= 6 and min(stats["persons"].values()) >= 25
    assert stats["pending_photos"] == 0 and stats["unlabeled_faces"] == 0
    assert stats["no_face_photos"] <= stats["photos"] // 10

    # One photo a person was misfiled on purpose (the last, photo-029, in the next
    # person's folder): the label-mistake finder must find most of them.
    from engine.demo import DRAWN_PHOTOS_PER_PERSON
    from engine.evaluation.mistakes import find_label_mistakes
    from engine.project import Project

    misfiled_name = f"photo-{DRAWN_PHOTOS_PER_PERSON - 1:03d}.jpg"
    persons = len(stats["persons"])
    with Project.open(demo_dir) as project:
        catalog = project.catalog
        search = find_label_mistakes(project, seed=0)  # the app's default method
        most_suspicious = [Path(catalog.photo(catalog.face(m.face_id).photo_id).path).name
                           for m in search.mistakes[:persons]]
    found = most_suspicious.count(misfiled_name)
    print(f"[figure] drawn demo: {found} of the {persons} misfiled photos are among the "
          f"{persons} most suspicious labels")
    assert found >= persons // 2, most_suspicious

    monkeypatch.setenv("FACELAB_HOME", str(home))
    window.welcome.refresh_demo_text()
    assert "drawn by FaceLab" in window.welcome.demo_hint.text()
    assert "FACELAB_DEMO_PHOTOS" in window.welcome.demo_hint.text()
    window.open_demo_project()  # built already: opens at once
    assert window.session is not None and Path(window.session.root) == demo_dir
    library = window.library_page
    qtbot.waitUntil(lambda: library.grid_model.rowCount() == stats["faces"], timeout=60_000)
    assert sorted(p.name for p in library.persons_model.persons()) == sorted(stats["persons"])
