"""Project settings (key -> JSON) and the migration that added them."""

from __future__ import annotations

import pytest

from engine.catalog import Catalog, CatalogError, LATEST_VERSION
from engine.catalog import schema

SETTINGS_VERSION = 3  # the migration that created the settings table


def test_settings_are_stored_as_json_and_replaced(tmp_path):
    catalog = Catalog(tmp_path / "catalog.sqlite")
    assert catalog.get_setting("crop_settings") is None
    catalog.set_setting("crop_settings", '{"margin": 0.4}')
    catalog.set_setting("crop_settings", '{"margin": 0.3}')
    catalog.close()

    reopened = Catalog(tmp_path / "catalog.sqlite")
    assert reopened.get_setting("crop_settings") == '{"margin": 0.3}'
    with pytest.raises(CatalogError, match="must be JSON"):
        reopened.set_setting("crop_settings", "margin=0.3")
    assert reopened.get_setting("crop_settings") == '{"margin": 0.3}'
    reopened.close()


def test_a_version_2_catalog_upgrades_and_keeps_its_data(tmp_path, monkeypatch):
    path = tmp_path / "catalog.sqlite"
    with monkeypatch.context() as old_facelab:
        old_facelab.setattr("engine.catalog.db.MIGRATIONS", schema.MIGRATIONS[:2])
        old_facelab.setattr("engine.catalog.db.LATEST_VERSION", 2)
        old = Catalog(path)
        assert old.db.schema_version() == 2
        # as FaceLab wrote it then (today's ensure_person and runs.create need later columns)
        old.db.conn.execute("INSERT INTO persons(name, created_at) VALUES ('Alice', 0)")
        with old.db.write() as conn:  # the columns a version-2 FaceLab wrote
            conn.execute("""INSERT INTO runs(id, arch, split_id, config, persons, status,
                            run_dir, created_at) VALUES ('r1', 'customcnn1', NULL, '{}',
                            '["Alice"]', 'completed', 'runs/r1', 0)""")
        old.close()

    upgraded = Catalog(path)
    assert upgraded.db.schema_version() == LATEST_VERSION >= SETTINGS_VERSION
    assert upgraded.person_counts() == {"Alice": 0}
    assert upgraded.runs.get("r1").persons == ("Alice",)
    assert upgraded.runs.get("r1").person_ids is None  # matched by name (run_persons)
    assert upgraded.get_setting("crop_settings") is None
    upgraded.set_setting("crop_settings", "{}")
    assert upgraded.get_setting("crop_settings") == "{}"
    upgraded.close()
