"""Suggestions already made, reused without the model: the same text before the cursor gets
the same suggestion, and a user typing through a suggestion (the characters typed are its
start) gets the rest of it at once."""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

MAX_ENTRIES = 32
# Only the end of the text before the cursor is kept and compared, and the whole text's
# length: enough to tell a continuation from an edit elsewhere at no cost per keystroke.
TAIL_CHARS = 2000


@dataclass(frozen=True)
class _Entry:
    before_tail: str
    before_len: int
    after: str  # the text after the cursor it was made for (its first lines)
    text: str
    multiline: bool


class SuggestionCache:
    """Bounded, per document: the Completer owns one and clears it with the document. The
    inference thread fills it while the server's event loop reads it: a lock guards it."""

    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self._entries: OrderedDict[tuple[str, int], _Entry] = OrderedDict()
        self._max = max_entries
        self._lock = threading.Lock()

    def put(self, document: str, before: str, after: str, text: str, multiline: bool) -> None:
        key = (document, len(before))
        with self._lock:
            self._entries[key] = _Entry(before[-TAIL_CHARS:], len(before), after, text,
                                        multiline)
            self._entries.move_to_end(key)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)

    def get(self, document: str, before: str, after: str) -> tuple[str, bool] | None:
        """The rest of a suggestion made at this point or at an earlier one that the text
        typed since continues; None when there is none."""
        with self._lock:
            entries = list(self._entries.items())
        size = len(before)
        for (doc, length), entry in reversed(entries):
            if doc != document or length > size or entry.after != after:
                continue
            typed = before[length:] if length < size else ""
            if len(typed) > len(entry.text) or not entry.text.startswith(typed):
                continue
            tail = entry.before_tail
            if before[length - len(tail):length] != tail:
                continue
            rest = entry.text[len(typed):]
            if rest.strip():
                return rest, entry.multiline and "\n" in rest
        return None

    def forget(self, document: str) -> None:
        with self._lock:
            for key in [key for key in self._entries if key[0] == document]:
                del self._entries[key]

    def __len__(self) -> int:
        return len(self._entries)
