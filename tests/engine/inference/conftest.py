"""Fixtures for the predictor tests: the trained 5celeb run and a predictor over it."""

from __future__ import annotations

import pytest

from tests.engine.inference.celeb_run import celeb_run as build_celeb_run


@pytest.fixture(scope="module")
def celeb_run(tmp_path_factory, datasets):
    return build_celeb_run(tmp_path_factory, datasets)


@pytest.fixture(scope="module")
def celeb_project(celeb_run):
    from engine.project import Project

    with Project.open(celeb_run.root) as project:
        yield project


@pytest.fixture(scope="module")
def predictor(celeb_project, celeb_run):
    from engine.inference.predictor import Predictor

    # Threshold 0: a one-epoch model is rarely sure, and these tests check the names.
    return Predictor.from_run(celeb_project, celeb_run.run_id, threshold=0.0, device="cpu")
