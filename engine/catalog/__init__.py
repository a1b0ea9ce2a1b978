"""The project catalog: one SQLite file holding photos, faces, persons and labels."""

from engine.catalog.catalog import (NUMBER_KEYS, Catalog, Face, LabelChange, NewFace, Person,
                                    Photo, Split, person_name)
from engine.catalog.runs import EpochRecord, LabelIssueRecord, RunRecord
from engine.catalog.db import CatalogError, SchemaTooNewError
from engine.catalog.schema import LATEST_VERSION

__all__ = ["NUMBER_KEYS", "Catalog", "CatalogError", "EpochRecord", "Face", "LabelChange",
           "LabelIssueRecord", "LATEST_VERSION", "NewFace", "Person", "Photo", "RunRecord",
           "SchemaTooNewError", "Split", "person_name"]
