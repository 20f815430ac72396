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
from dataclasses import dataclass, field

# Gaps longer than this are pauses, not typing.
TYPING_GAP_S = 1.0
# Analysing 1,000 lines costs about 100 ms on two cores: waiting less than that after a lone
# edit would gain little and double the work when a second keystroke follows.
FLOOR_S = 0.1
GAPS_KEPT = 8


@dataclass
class _Document:
    last_edit: float
    gaps: deque[float] = field(default_factory=lambda: deque(maxlen=GAPS_KEPT))


class TypingRhythm:
    """Per-document edit times; owned by the server, forgotten when a document closes."""

    def __init__(self) -> None:
        self._documents: dict[str, _Document] = {}

    def delay(self, key: str, now: float, ceiling_s: float) -> float:
        """Record an edit of ``key`` at ``now`` (seconds, monotonic) and return how long to
        wait before analysing it: at most ``ceiling_s`` (0 analyses at once)."""
        document = self._documents.get(key)
        if document is None:
            self._documents[key] = document = _Document(now)
        else:
            gap = now - document.last_edit
            document.last_edit = now
            if gap >= TYPING_GAP_S:
                document.gaps.clear()  # a pause ends a burst: its rhythm is over
            elif gap >= 0:
                document.gaps.append(gap)
        if ceiling_s <= 0:
            return 0.0
        if len(document.gaps) < 2:
            return min(FLOOR_S, ceiling_s)
        return min(max(2 * statistics.median(document.gaps), FLOOR_S), ceiling_s)

    def forget(self, key: str) -> None:
        self._documents.pop(key, None)
