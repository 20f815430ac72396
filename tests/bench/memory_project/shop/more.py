"""More of the shop."""

from shop.db import query
from shop.errors import ShopError
from shop.money import money


def parse_price(text: str) -> int:
    """The price in ``text`` in cents: digits with an optional "." and two decimals, like
    "12.50" or "3"."""
    pass


def parse_rating(text: str) -> int:
    """A review's rating in ``text``: one digit from 1 to 5."""
    pass


def parse_email(text: str) -> str:
    """The e-mail address in ``text``, trimmed and lower case; it must hold exactly one "@"
    with text on both sides."""
    pass


def format_balance(cents: int) -> str:
    """A customer's balance as "Balance: <amount>"."""
    pass


def format_saving(before: int, after: int) -> str:
    """How much a customer saves, "You save <amount>", from two prices in cents."""
    pass


def format_unit_price(cents: int, unit: str) -> str:
    """A price per unit, like "<amount> per kg" for unit "kg"."""
    pass


def count_orders(db, customer_id: int) -> int:
    """How many rows of table orders have this customer_id (use SELECT COUNT(*) AS n)."""
    pass


def products_under(db, max_cents: int) -> list[dict]:
    """The rows of table products whose price column is at most ``max_cents``."""
    pass


def delete_order(db, order_id: int) -> None:
    """Delete the row of table orders with this id."""
    pass


def find_order(db, order_id: int) -> dict | None:
    """The row of table orders with this id, or None."""
    pass
