"""Lines as an editor counts them: only \\n, \\r\\n and \\r end a line, in the core as in LSP."""

from __future__ import annotations

import pytest

from hearth.core.text import lines_of, split_lines


@pytest.mark.parametrize("text", ["", "a", "a\n", "a\nb", "a\r\nb\r\n", "a\rb", "\n\n", "x\n\n"])
def test_lines_of_is_splitlines_on_ordinary_text(text: str) -> None:
    assert lines_of(text) == text.splitlines()


@pytest.mark.parametrize("separator", ["\u2028", "\u2029", "\x0c", "\x0b", "\x85", "\x1c"])
def test_other_separators_stay_inside_their_line(separator: str) -> None:
    text = f"a = 1  # one{separator}two\nb = 2\n"
    assert lines_of(text) == [f"a = 1  # one{separator}two", "b = 2"]
    assert len(lines_of(text)) == len(split_lines(text)) - 1
