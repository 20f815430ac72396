"""Reading what customers type."""

from shop.errors import ShopError


def parse_quantity(text: str) -> int:
    """The quantity in ``text``: a whole number from 1 to 999, spaces around it allowed.
    Anything else raises ShopError with a message saying what was wrong."""
    pass


def parse_discount(text: str) -> int:
    """The discount percentage in ``text``, like "15" or "15%": a whole number from 0 to 100."""
    pass


def parse_sku(text: str) -> str:
    """The product code in ``text``: exactly 8 letters or digits, returned in upper case."""
    pass


def parse_country(text: str) -> str:
    """The two-letter country code in ``text`` (letters only), returned in upper case."""
    pass
