"""Qt item models over the catalog, and the thumbnail cache."""
