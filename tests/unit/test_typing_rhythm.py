"""The wait before diagnostics follows the user's typing: short after a lone edit, longer than
the gaps between keystrokes while typing, never above the user's ceiling."""

from __future__ import annotations

import pytest

from hearth.lsp.typing_rhythm import FLOOR_S, TypingRhythm


def typed(rhythm: TypingRhythm, gaps: list[float], ceiling: float = 0.3) -> float:
    now, delay = 100.0, 0.0
    delay = rhythm.delay("a.py", now, ceiling)
    for gap in gaps:
        now += gap
        delay = rhythm.delay("a.py", now, ceiling)
    return delay


def test_a_lone_edit_waits_the_floor_only() -> None:
    assert typed(TypingRhythm(), []) == FLOOR_S


def test_typing_waits_twice_the_median_gap() -> None:
    assert typed(TypingRhythm(), [0.08, 0.07, 0.09, 0.08], ceiling=1.0) == pytest.approx(0.16)


def test_the_setting_is_the_ceiling_and_zero_means_at_once() -> None:
    assert typed(TypingRhythm(), [0.25, 0.3, 0.28]) == 0.3
    assert typed(TypingRhythm(), [0.25, 0.3, 0.28], ceiling=0) == 0


def test_a_pause_ends_the_burst_and_documents_keep_their_own_rhythm() -> None:
    rhythm = TypingRhythm()
    assert typed(rhythm, [0.2, 0.2, 0.2, 5.0], ceiling=1.0) == FLOOR_S
    assert rhythm.delay("b.py", 200.0, 1.0) == FLOOR_S
    rhythm.forget("a.py")
    assert rhythm.delay("a.py", 200.1, 1.0) == FLOOR_S
