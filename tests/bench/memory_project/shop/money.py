"""How the shop shows amounts of money."""


def money(cents: int) -> str:
    """An amount in cents as the shop shows it, e.g. 123456 -> 'EUR 1.234,56'."""
    sign = "-" if cents < 0 else ""
    whole, rest = divmod(abs(cents), 100)
    return f"EUR {sign}{whole:,}".replace(",", ".") + f",{rest:02d}"
