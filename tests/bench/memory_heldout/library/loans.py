"""Changing loans, books and members."""

from datetime import date, timedelta

from library.audit import audit


def renew_loan(loans: dict, loan_id: int, days: int) -> date:
    """Move the "due" date of loan ``loan_id`` (a dict in ``loans``) ``days`` later and return
    it. Records audit("loan.renewed", loan_id=loan_id), as every change here records its own
    event."""
    pass


def return_loan(loans: dict, loan_id: int) -> None:
    """Mark loan ``loan_id`` as returned (its "returned" key becomes True)."""
    pass


def lose_loan(loans: dict, loan_id: int) -> None:
    """Mark loan ``loan_id`` as lost (its "lost" key becomes True)."""
    pass


def add_copy(books: dict, isbn: str) -> int:
    """One more copy of book ``isbn``: its "copies" count goes up by one; the new count."""
    pass


def remove_copy(books: dict, isbn: str) -> int:
    """One copy fewer of book ``isbn`` (never below 0); the new count."""
    pass


def block_member(members: dict, member_id: int) -> None:
    """Block member ``member_id``: their "blocked" key becomes True."""
    pass
