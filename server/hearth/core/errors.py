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


class NoAnswer(HearthError):
    """The model was asked, and none of its answers passed the checks. With the history on,
    ``history_id`` is the failure's entry: the user may rate it bad with a note saying what to
    do, and the note goes with the request when it is asked again."""

    history_id: int | None = None
