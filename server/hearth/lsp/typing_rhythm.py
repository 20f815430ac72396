"""How long diagnostics wait after an edit, from the rhythm of the user's own typing.

A fixed debounce is wrong for everyone: too long after a lone edit (the user stopped, and
waits for the squiggle), too short for a slow typist (each keystroke's run is wasted on text
about to change). Each document keeps the gaps between its last few edits; the wait after an
edit is twice their median, between a floor and the user's ``diagnostics.debounceMs``. An edit
after a pause (no recent gaps) waits the floor only.
"""

from __future__ import annotations

import statistics
from collections import deque
from dataclasses import dataclass

# Gaps longer than this are pauses, not typing.
TYPING_GAP_S = 1.0
# Analysing 1,000 lines costs about 100 ms on two cores: waiting less than that after a lone
# edit would gain little and double the work when a second keystroke follows.
FLOOR_S = 0.1
GAPS_KEPT = 8


@dataclass
class _Document:
    last_edit: float
    gaps: deque[float]


class TypingRhythm:
    """Per-document edit times; owned by the server, forgotten when a document closes.

    ``pause_s``: a longer gap ends a burst of typing; ``kept``: the gaps of a burst kept."""

    def __init__(self, pause_s: float = TYPING_GAP_S, kept: int = GAPS_KEPT) -> None:
        self._documents: dict[str, _Document] = {}
        self._pause_s = pause_s
        self._kept = kept

    def record(self, key: str, now: float) -> float | None:
        """Record an edit of ``key`` at ``now`` (seconds, monotonic); the median gap between
        the edits of the burst it belongs to, or None when the burst has fewer than two."""
        document = self._documents.get(key)
        if document is None:
            self._documents[key] = document = _Document(now, deque(maxlen=self._kept))
        else:
            gap = now - document.last_edit
            document.last_edit = now
            if gap >= self._pause_s:
                document.gaps.clear()  # a pause ends a burst: its rhythm is over
            elif gap >= 0:
                document.gaps.append(gap)
        return statistics.median(document.gaps) if len(document.gaps) >= 2 else None

    def delay(self, key: str, now: float, ceiling_s: float) -> float:
        """Record an edit of ``key`` at ``now`` and return how long to wait before analysing
        it: at most ``ceiling_s`` (0 analyses at once)."""
        median = self.record(key, now)
        if ceiling_s <= 0:
            return 0.0
        if median is None:
            return min(FLOOR_S, ceiling_s)
        return min(max(2 * median, FLOOR_S), ceiling_s)

    def forget(self, key: str) -> None:
        self._documents.pop(key, None)
