"""The one error type the core raises for problems a user can act on."""

from __future__ import annotations


class HearthError(Exception):
    """A problem the user can fix: ``message`` says what, ``hint`` says what to do."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} {self.hint}" if self.hint else self.message
