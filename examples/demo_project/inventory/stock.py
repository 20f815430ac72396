"""Stock levels for a small shop."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Item:
    sku: str
    name: str
    quantity: int
    unit_price: float


def total_value(items: list[Item]) -> float:
    """Return the total value of the stock: the sum of quantity * unit_price."""
    return sum(item.quantity * item.unit_price for item in items)


def low_stock(items: list[Item], threshold: int = 5) -> list[str]:
    """Return the SKUs of items whose quantity is below ``threshold``, sorted alphabetically."""
    pass
