"""Shared fixtures. Tests never touch the user's own FaceLab folders or the network."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True, scope="session")
def _isolated_home(tmp_path_factory):
    """Per-user data (demo project, weights) and torch's cache go to a temp folder."""
    home = tmp_path_factory.mktemp("facelab-home")
    saved = {k: os.environ.get(k) for k in ("FACELAB_HOME", "TORCH_HOME", "FACELAB_WEIGHTS_DIR")}
    os.environ["FACELAB_HOME"] = str(home)
    os.environ["TORCH_HOME"] = str(home / "torch")
    # FaceLab's weights folder follows platformdirs, not FACELAB_HOME; weights converted on
    # first use (Face ResNet's, from the installed dlib package) must not land in the real one.
    os.environ["FACELAB_WEIGHTS_DIR"] = str(home / "weights")
    yield home
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def _datasets_dir() -> Path | None:
    env = os.environ.get("FACELAB_DATASETS")
    for candidate in ([Path(env)] if env else []) + [REPO.parent / "shared" / "datasets",
                                                     REPO / "shared" / "datasets"]:
        if candidate.is_dir():
            return candidate
    return None


@pytest.fixture(scope="session")
def datasets() -> Path:
    """../shared/datasets (real face photos). CI sets FACELAB_REQUIRE_DATASETS=1, so there
    a missing folder fails the run instead of skipping these tests."""
    found = _datasets_dir()
    if found is None:
        message = "../shared/datasets not found (set FACELAB_DATASETS)"
        if os.environ.get("FACELAB_REQUIRE_DATASETS"):
            pytest.fail(message)
        pytest.skip(message)
    return found


@pytest.fixture
def project(tmp_path):
    from engine.project import Project

    with Project.create(tmp_path / "project") as proj:
        yield proj


@pytest.fixture(scope="session")
def cropped_5celeb(datasets, tmp_path_factory) -> Path:
    """A project with ../shared/datasets/5celeb imported (labels from folders) and
    cropped, built once per test session. Tests that change it work on a copy
    (`project_copy`)."""
    from engine.ingest import crop_pending, import_paths
    from engine.project import Project

    root = tmp_path_factory.mktemp("shared-5celeb") / "project"
    with Project.create(root) as project:
        import_paths(project, [datasets / "5celeb"], labels_from_folders=True)
        crop_pending(project)
    return root


@pytest.fixture
def project_copy(tmp_path):
    """Copy a built project folder into this test's tmp_path and open it."""
    import shutil

    from engine.project import Project

    opened = []

    def make(source: Path):
        target = tmp_path / source.name
        shutil.copytree(source, target)
        project = Project.open(target)
        opened.append(project)
        return project

    yield make
    for project in opened:
        project.close()


@pytest.fixture(scope="session")
def changed_5celeb(cropped_5celeb, datasets, tmp_path_factory):
    """Issue 18's lab loop, built once per session: the 5celeb project with a tiny run on
    its 5 persons, then a 6th person imported from a folder and a second tiny run.
    Returns (root, old run id, new run id). Tests that use the runs' models register
    the tiny architecture (tests.trained_runs.tiny_arch_registered) and work on a copy."""
    from tests.trained_runs import changed_project, tiny_arch_registered

    with tiny_arch_registered():
        root = tmp_path_factory.mktemp("changed-5celeb") / "project"
        old_run, new_run = changed_project(cropped_5celeb, root, datasets)
    return root, old_run, new_run
