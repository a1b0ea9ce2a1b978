"""Getting photos in: import (scan, hash, de-duplicate) and face auto-crop."""

from engine.ingest.crop import CropReport, CropSettings, crop_pending
from engine.ingest.images import ImageReadError
from engine.ingest.importer import ImportReport, import_paths

__all__ = ["CropReport", "CropSettings", "ImageReadError", "ImportReport", "crop_pending",
           "import_paths"]
