"""The project catalog: one SQLite file holding photos, faces, persons and labels."""

from engine.catalog.catalog import Catalog, Face, LabelChange, NewFace, Person, Photo, Split
from engine.catalog.runs import EpochRecord, LabelIssueRecord, RunRecord
from engine.catalog.db import CatalogError, SchemaTooNewError
from engine.catalog.schema import LATEST_VERSION

__all__ = ["Catalog", "CatalogError", "EpochRecord", "Face", "LabelChange", "LabelIssueRecord",
           "LATEST_VERSION", "NewFace", "Person", "Photo", "RunRecord", "SchemaTooNewError", "Split"]
