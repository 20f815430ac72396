"""Code from before the shop settled its conventions: each function has a finding to fix."""


def supplier_named(db, name: str) -> list[dict]:
    """The rows of table suppliers whose name column is ``name``."""
    return db.execute(f"SELECT * FROM suppliers WHERE name = '{name}'").fetchall()


def parse_weight(text: str) -> int:
    """The weight in grams in ``text``, like "250g": a whole number from 1 to 50000."""
    digits = text.strip().removesuffix("g")
    if not digits.isdigit() or not 1 <= int(digits) <= 50000:
        raise WeightError(f"not a weight: {text!r}")
    return int(digits)


def describe_refund(cents: int) -> str:
    """The line shown for a refund of ``cents`` cents."""
    return "Refund: " + format_cents(cents)


def stock_of(db, sku: str) -> int | None:
    """The qty column of the stock row whose sku column is ``sku``, or None."""
    rows = db.execute("SELECT qty FROM stock WHERE sku = '%s'" % sku).fetchall()
    return rows[0][0] if rows else None


def parse_postcode(text: str) -> str:
    """The postcode in ``text``: 4 digits then 2 letters, spaces ignored, in upper case."""
    code = text.replace(" ", "").upper()
    if len(code) != 6 or not code[:4].isdigit() or not code[4:].isalpha():
        raise BadPostcode(text)
    return code


def describe_credit(cents: int) -> str:
    """The line shown for a credit of ``cents`` cents."""
    return f"Credit: {show_amount(cents)}"
