"""Reading the shop's database."""

from shop.db import query


def find_customer(db, customer_id: int) -> dict | None:
    """The customer row with this id, or None. Uses query() with a :customer_id placeholder
    (never format values into SQL)."""
    pass


def find_product(db, sku: str) -> dict | None:
    """The row of table products whose sku column is ``sku``, or None."""
    pass


def orders_of(db, customer_id: int) -> list[dict]:
    """The rows of table orders whose customer_id column is ``customer_id``."""
    pass
