"""Reading what librarians type."""

from library.errors import CatalogError


def parse_isbn(text: str) -> str:
    """The ISBN in ``text``: 13 digits, hyphens allowed between them; returned as the digits
    alone. Anything else raises CatalogError with a message saying what was wrong."""
    pass


def parse_year(text: str) -> int:
    """The publication year in ``text``: a whole number from 1450 to 2100."""
    pass


def parse_shelf(text: str) -> str:
    """The shelf code in ``text``: one letter then one or two digits, like "b7" or "C12";
    returned in upper case."""
    pass


def parse_copies(text: str) -> int:
    """How many copies ``text`` says: a whole number from 1 to 50."""
    pass


def parse_member_id(text: str) -> int:
    """The member number in ``text``, written "M-" then digits, like "M-1042"."""
    pass
