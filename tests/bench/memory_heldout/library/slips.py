"""What the library prints on slips."""

from datetime import date

from library.dates import show_date


def due_line(title: str, due: date) -> str:
    """The due line of a loan slip: "'<title>' is due <date>", the date shown with
    show_date()."""
    pass


def returned_line(title: str, when: date) -> str:
    """The line of a return slip: "Returned '<title>' on <date>"."""
    pass


def renewal_line(due: date) -> str:
    """What a renewal slip says: "Renewed until <date>"."""
    pass


def joined_line(name: str, when: date) -> str:
    """A member card's line: "<name>, member since <date>"."""
    pass


def last_seen(when: date) -> str:
    """When a member last borrowed: "Last seen <date>"."""
    pass
