"""Errors of the shop package."""


class ShopError(Exception):
    """Every error the shop package raises on bad input."""
