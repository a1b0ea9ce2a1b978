"""The project catalog: one SQLite file holding photos, faces, persons and labels."""

from engine.catalog.catalog import Catalog, Face, LabelChange, NewFace, Person, Photo
from engine.catalog.db import CatalogError, SchemaTooNewError
from engine.catalog.schema import LATEST_VERSION

__all__ = ["Catalog", "CatalogError", "Face", "LabelChange", "LATEST_VERSION", "NewFace",
           "Person", "Photo", "SchemaTooNewError"]
