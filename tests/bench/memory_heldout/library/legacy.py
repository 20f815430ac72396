"""Code from before the library settled its conventions: each function has a finding to fix."""

from datetime import date, timedelta


def parse_barcode(text: str) -> str:
    """The barcode in ``text``: exactly 10 digits, spaces around it allowed."""
    code = text.strip()
    if len(code) != 10 or not code.isdigit():
        raise BarcodeError(f"not a barcode: {text!r}")
    return code


def overdue_line(title: str, due: date) -> str:
    """The line printed for a book that was due on ``due``."""
    return f"{title!r} was due {format_day(due)}"


def extend_loan(loans: dict, loan_id: int, days: int) -> None:
    """Push the due date of loan ``loan_id`` back by ``days`` days."""
    loans[loan_id]["due"] = loans[loan_id]["due"] + timedelta(days=days)
    log_change("loan.extended", loan_id)


def parse_fine(text: str) -> int:
    """The fine in cents in ``text``, like "2.50": at most 100.00."""
    euros, _, cents = text.strip().partition(".")
    if not euros.isdigit() or not (cents.isdigit() and len(cents) == 2 or not cents):
        raise FineError(text)
    total = int(euros) * 100 + int(cents or 0)
    if total > 10000:
        raise FineError(text)
    return total
