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
