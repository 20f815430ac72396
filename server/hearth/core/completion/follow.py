"""A model answer in flight that the user is typing along: kept, not thrown away.

While keys come faster than the model writes a line, each key used to cancel the answer being
written and start another, so nothing was shown until the user paused (two requests in three
were cancelled in the typing replay, docs/BENCHMARKS.md). When the text typed since the answer
was asked for agrees with what the model has written so far, the newer request waits for that
answer instead, and then takes the rest of it from the suggestion cache. Once the model writes
something the user did not type, the answer is cancelled at once, from the decoder's thread.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from hearth.core.cancel import CancelToken


@dataclass
class Decoding:
    """What one model answer was asked at (the window around the cursor, as the suggestion
    cache keys it) and what it has written so far. The decoder's thread appends; the server's
    event loop asks whether a newer request follows it."""

    document: str
    before: str
    after: str
    heal: str = ""  # what the answer writes again first (token healing), not suggested
    cancel: CancelToken | None = None
    multiline: bool = False
    _written: list[str] = field(default_factory=list)
    _typed: str | None = None  # typed since ``before`` by the latest request following it
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def suggestion(self) -> str | None:
        """The suggestion so far (after what it writes again first), or None when the model
        wrote something other than that."""
        with self._lock:
            written = "".join(self._written)
        if len(written) < len(self.heal):
            return "" if self.heal.startswith(written) else None
        return written[len(self.heal):] if written.startswith(self.heal) else None

    def agrees(self, typed: str) -> bool:
        """Whether ``typed`` may still be the start of this answer's suggestion."""
        so_far = self.suggestion()
        if so_far is None:
            return False
        return so_far.startswith(typed) or typed.startswith(so_far)

    def typed_since(self, document: str, before: str, after: str) -> str | None:
        """The text typed since this answer was asked for, if a request at ``before`` and
        ``after`` continues it: the same document and text after the cursor, the same text
        before it plus what was typed (within the line, unless the answer is a block)."""
        if document != self.document or after != self.after \
                or not before.startswith(self.before):
            return None
        typed = before[len(self.before):]
        if "\n" in typed and not self.multiline:
            return None
        return typed

    def follow(self, typed: str) -> bool:
        """A newer request typed ``typed`` and waits for this answer: True when it agrees so
        far; from now on the answer is cancelled as soon as it disagrees."""
        with self._lock:
            self._typed = typed
        return self.agrees(typed)

    def wrote(self, piece: str) -> None:
        """The decoder's ``on_token``: append, and stop an answer the user typed past."""
        with self._lock:
            self._written.append(piece)
            typed = self._typed
        if typed is not None and self.cancel is not None and not self.agrees(typed):
            self.cancel.cancel()


class Decodings:
    """The answers in flight, one per document at most (the Completer owns it)."""

    def __init__(self) -> None:
        self._by_document: dict[str, Decoding] = {}
        self._lock = threading.Lock()

    def start(self, decoding: Decoding) -> None:
        with self._lock:
            self._by_document[decoding.document] = decoding

    def end(self, decoding: Decoding) -> None:
        with self._lock:
            if self._by_document.get(decoding.document) is decoding:
                del self._by_document[decoding.document]

    def following(self, document: str, before: str, after: str) -> Decoding | None:
        """The answer in flight that a request at ``before``/``after`` continues, the text
        typed since agreeing with what it has written so far; None otherwise."""
        with self._lock:
            decoding = self._by_document.get(document)
        if decoding is None:
            return None
        typed = decoding.typed_since(document, before, after)
        if typed is None or not decoding.follow(typed):
            return None
        return decoding
