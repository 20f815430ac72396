"""The history in the editor: what became of each answer (applied, kept at the next save, or
undone), and the commands `hearth.feedback`, `hearth.history` and `hearth.stats`.

An answer the server applies itself (`workspace/applyEdit`) is applied when the client says
so. An answer the client applies itself (a resolved code action) is applied when its text
appears in the document within the next changes. Either is then kept if its text is still
there at the next save; edited if the function it wrote is there but changed by the user (its
final version is stored: it is what the user wanted, and what later requests learn from); and
undone if neither.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

from pygls.exceptions import JsonRpcInvalidParams

from hearth.core.history import RATINGS, redacted, summary
from hearth.core.history.learn import function_text, normalised_code
from hearth.core.history.store import errors
from hearth.core.pipeline.types import ActionResult
from hearth.lsp.server import HearthServer
from hearth.lsp.workspace import document_key

log = logging.getLogger(__name__)
FEEDBACK, HISTORY, STATS = "hearth.feedback", "hearth.history", "hearth.stats"
# An answer not seen in the document after this many changes (or this long) was not applied.
WATCH_CHANGES, WATCH_S = 50, 600.0


@dataclass
class Watched:
    entry_id: int
    inserted: list[str]  # what the answer writes (each edit's text, stripped)
    function: str | None = None  # the function the answer (re)wrote, by qualified name
    before: str | None = None  # that function before the answer
    answered: str | None = None  # and as the answer wrote it (None: not a function)
    applied: bool = False
    changes: int = 0
    since: float = field(default_factory=time.monotonic)

    def present_in(self, text: str) -> bool:
        text = text.replace("\r\n", "\n")
        return all(piece in text for piece in self.inserted)

    def verdict(self, text: str) -> tuple[str, str | None]:
        """What the saved ``text`` says of the answer: "kept", "edited" with the function as
        the user left it (not the answer, not what was there before it), or "undone"."""
        now = function_text(text.replace("\r\n", "\n"), self.function) \
            if self.function and self.answered else None
        if now is None:  # no function to judge by (a Fix of lines), or it is gone
            return ("kept", None) if self.present_in(text) else ("undone", None)
        if normalised_code(now) == normalised_code(self.answered):
            return "kept", None
        if self.before is not None and normalised_code(now) == normalised_code(self.before):
            return "undone", None
        return "edited", now


def inserted_texts(result: ActionResult) -> list[str]:
    return [edit.new_text.replace("\r\n", "\n").strip()
            for edit in result.edits if edit.new_text.strip()]


class Outcomes:
    """The answers of each open document being watched, by document key."""

    def __init__(self, server: HearthServer) -> None:
        self.server = server
        self.watched: dict[str, list[Watched]] = {}

    def _set(self, entry_id: int, outcome: str, final: str | None = None) -> None:
        store = self.server.session.history.store
        if store is None:
            return
        try:
            store.set_outcome(entry_id, outcome, redacted(final))
        except errors() as exc:  # the history is a convenience: never fail the editor
            log.warning("Cannot record the outcome of #%d: %s", entry_id, exc)

    def _follow(self, uri: str, result: ActionResult, source: str, applied: bool) -> None:
        """Watch ``result``, computed on ``source``, in its document."""
        inserted = inserted_texts(result)
        if result.history_id is None or not inserted:
            return
        answered = function_text(result.new_source, result.function) \
            if result.new_source is not None else None
        self.watched.setdefault(document_key(uri), []).append(Watched(
            result.history_id, inserted, result.function,
            function_text(source, result.function), answered, applied=applied))

    def offered(self, uri: str, result: ActionResult, source: str) -> None:
        """The client got ``result``'s edit (computed on ``source``) and applies it itself, or
        not."""
        self._follow(uri, result, source, applied=False)

    def applied(self, uri: str, result: ActionResult, applied: bool, source: str) -> None:
        """The client answered `workspace/applyEdit` for ``result`` (computed on ``source``)."""
        if result.history_id is None:
            return
        self._set(result.history_id, "applied" if applied else "not applied")
        if applied:
            self._follow(uri, result, source, applied=True)

    def changed(self, uri: str, text: str) -> None:
        watched = self.watched.get(document_key(uri))
        if not watched:
            return
        now = time.monotonic()
        for item in list(watched):
            if item.applied:
                continue
            item.changes += 1
            if item.present_in(text):
                item.applied = True
                self._set(item.entry_id, "applied")
            elif item.changes >= WATCH_CHANGES or now - item.since > WATCH_S:
                watched.remove(item)
                self._set(item.entry_id, "not applied")

    def saved(self, uri: str, text: str) -> None:
        watched = self.watched.get(document_key(uri))
        if not watched:
            return
        for item in [item for item in watched if item.applied]:
            watched.remove(item)
            self._set(item.entry_id, *item.verdict(text))

    def closed(self, uri: str) -> None:
        self.watched.pop(document_key(uri), None)


def _argument(args: tuple[Any, ...], command: str) -> dict[str, Any]:
    value = args[0] if args else {}
    if value is None:
        value = {}
    if not isinstance(value, dict):
        raise JsonRpcInvalidParams(f"{command} expects one object argument, got {value!r:.200}")
    return value


def register(server: HearthServer) -> None:
    server.outcomes = Outcomes(server)

    def store_or_fail(command: str):
        store = server.session.history.store
        if store is None:
            raise JsonRpcInvalidParams(f"{command}: the history is off (hearth.history.enabled)")
        return store

    @server.command(FEEDBACK)
    def feedback(*args: Any) -> dict[str, Any]:
        value = _argument(args, FEEDBACK)
        entry_id, rating, note = value.get("id"), value.get("rating"), value.get("note")
        if not isinstance(entry_id, int) or isinstance(entry_id, bool):
            raise JsonRpcInvalidParams(f"{FEEDBACK}: id must be a history entry's number")
        if rating not in RATINGS:
            raise JsonRpcInvalidParams(f"{FEEDBACK}: rating must be good or bad, got "
                                       f"{rating!r:.50}")
        if note is not None and not isinstance(note, str):
            raise JsonRpcInvalidParams(f"{FEEDBACK}: note must be text")
        store_or_fail(FEEDBACK)
        if not server.session.history.rate(entry_id, rating, note):
            raise JsonRpcInvalidParams(f"{FEEDBACK}: there is no history entry #{entry_id}")
        return {"id": entry_id, "rating": rating}

    @server.command(HISTORY)
    def history(*args: Any) -> dict[str, Any]:
        value = _argument(args, HISTORY)
        limit, action = value.get("limit", 50), value.get("action")
        if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= 10_000:
            raise JsonRpcInvalidParams(f"{HISTORY}: limit must be a number from 1 to 10000")
        if action is not None and not isinstance(action, str):
            raise JsonRpcInvalidParams(f"{HISTORY}: action must be an action's name")
        store = server.session.history.store
        if store is None:
            return {"enabled": False, "entries": []}
        return {"enabled": True,
                "entries": [summary(e) for e in store.entries(action=action, limit=limit)]}

    @server.command(STATS)
    def stats(*args: Any) -> dict[str, Any]:
        return server.session.history.stats()
