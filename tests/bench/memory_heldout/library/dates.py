"""How the library shows dates."""

from datetime import date


def show_date(day: date) -> str:
    """A date as the library prints it on slips and screens."""
    return f"{day:%d.%m.%Y}"
