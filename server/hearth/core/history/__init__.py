"""What Hearth remembers of a workspace: every action's request and answer, what became of
it and what the user said of it (store), the response cache and the lessons a new request
draws from past answers (history, learn). docs/history.md describes it."""

from hearth.core.history.history import (
    History,
    cache_key,
    data_base,
    details,
    history_path,
    redacted,
    summary,
)
from hearth.core.history.store import OUTCOMES, RATINGS, Entry, HistoryStore, Retention

__all__ = ["OUTCOMES", "RATINGS", "Entry", "History", "HistoryStore", "Retention", "cache_key",
           "data_base", "details", "history_path", "redacted", "summary"]
