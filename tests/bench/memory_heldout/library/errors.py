"""Errors of the library package."""


class CatalogError(Exception):
    """Every error the library package raises on bad input."""
