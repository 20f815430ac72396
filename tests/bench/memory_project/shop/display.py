"""What the shop shows customers."""

from shop.money import money


def format_line(name: str, cents: int, quantity: int) -> str:
    """One line of a receipt: "<name> x <quantity>: <total>", the total (cents times
    quantity) shown with money()."""
    pass


def format_total(cents: int) -> str:
    """The last line of a receipt: "Total: <amount>"."""
    pass


def format_refund(cents: int) -> str:
    """What a refund note says: "Refunded <amount>" for a positive amount in cents."""
    pass
