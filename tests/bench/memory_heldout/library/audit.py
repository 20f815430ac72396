"""The audit log: every change to loans, books and members is recorded here."""

EVENTS: list[tuple[str, dict]] = []


def audit(event: str, **fields) -> None:
    """Record ``event`` with its ``fields`` for the audit log."""
    EVENTS.append((event, fields))
