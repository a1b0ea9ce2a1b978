"""The crop settings of a project are recorded, so prediction can crop the same way."""

from __future__ import annotations

import pytest

from engine.catalog import CatalogError
from engine.ingest.crop import (
    CROP_SETTINGS_KEY,
    CropSettings,
    project_crop_settings,
    record_crop_settings,
)
from tests.engine.inference.celeb_run import CROP_SETTINGS


def test_a_project_never_cropped_has_the_default_settings(project):
    assert project.catalog.get_setting(CROP_SETTINGS_KEY) is None
    assert project_crop_settings(project) == CropSettings()


def test_recorded_settings_read_back(project):
    settings = CropSettings(margin=0.25, crop_size=160, detector="haar", min_score=0.8)
    record_crop_settings(project, settings)
    assert project_crop_settings(project) == settings


@pytest.mark.slow
def test_crop_records_the_settings_it_used_with_the_detector_it_resolved(celeb_project):
    recorded = project_crop_settings(celeb_project)
    assert recorded.margin == CROP_SETTINGS.margin
    assert recorded.detector == "mtcnn"  # "auto" resolved, so prediction uses the same one


def test_settings_from_an_unknown_facelab_are_refused(project):
    project.catalog.set_setting(CROP_SETTINGS_KEY, '{"margin": 0.4, "warp": 2}')
    with pytest.raises(CatalogError, match="unexpected warp"):
        project_crop_settings(project)


def _pending_photo(project, tmp_path, name: str) -> None:
    from engine.ingest import import_paths
    from tests.imagegen import gradient, save

    import_paths(project, [save(tmp_path / "in" / name, gradient(64, 48, seed=len(name)))])


def test_an_import_from_the_app_keeps_the_projects_crop_settings(project, tmp_path):
    """`facelab crop --margin 0.2`, then an import the way the app crops (no settings):
    the project's margin stays 0.2 (it was reset to the default 0.4)."""
    from engine.cli import main as cli_main
    from engine.ingest import crop_pending

    _pending_photo(project, tmp_path, "a.png")
    project.close()
    assert cli_main(["crop", str(project.root), "--margin", "0.2", "--detector", "haar"]) == 0
    from engine.project import Project

    with Project.open(project.root) as reopened:
        _pending_photo(reopened, tmp_path, "bb.png")
        crop_pending(reopened)  # as gui/jobs/project_jobs.py and the demo call it
        assert project_crop_settings(reopened).margin == 0.2
        assert project_crop_settings(reopened).detector == "haar"
        _pending_photo(reopened, tmp_path, "ccc.png")
    # `facelab crop` without --margin keeps it too; a typed option changes only itself.
    assert cli_main(["crop", str(project.root), "--size", "160"]) == 0
    with Project.open(project.root) as reopened:
        settings = project_crop_settings(reopened)
        assert (settings.margin, settings.crop_size, settings.detector) == (0.2, 160, "haar")


def test_a_run_cuts_new_faces_with_its_own_crop_settings(tmp_path):
    """A run records the crop settings of its faces; prediction uses them even after the
    project is cropped again with others."""
    import engine.models as models
    from engine.inference.predictor import Predictor
    from engine.project import Project
    from engine.training.config import TrainConfig
    from engine.training.runner import train_run
    from tests.reliability.synthetic import TINY_ARCH, labelled_project, register_tiny_arch

    register_tiny_arch()
    try:
        root = labelled_project(tmp_path / "p", persons=2, per_person=6)
        with Project.open(root) as project:
            record_crop_settings(project, CropSettings(margin=0.25, detector="haar"))
            run_id = train_run(project, TrainConfig(arch=TINY_ARCH, epochs=1, batch_size=4,
                                                    augment="none"), evaluate=False).run_id
            assert project.catalog.runs.get(run_id).config["crop"]["margin"] == 0.25
            record_crop_settings(project, CropSettings(margin=0.6, detector="haar"))
            predictor = Predictor.from_run(project, run_id, device="cpu")
            assert predictor.crop_settings.margin == 0.25
    finally:
        models.unregister_architecture(TINY_ARCH)
