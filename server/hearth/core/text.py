"""Text positions and edits in code points (the LSP layer converts to the client's encoding)."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Pos:
    line: int  # 0-based
    col: int  # 0-based, in code points


@dataclass(frozen=True)
class TextEdit:
    start: Pos
    end: Pos
    new_text: str


_LINE_END = re.compile(r"\r\n|\r|\n")


def lines_of(text: str) -> list[str]:
    """``text.splitlines()`` as an editor counts lines: without their endings, no final empty
    line, but split only on ``\\n``, ``\\r\\n`` and ``\\r`` (see ``split_lines``)."""
    lines = _LINE_END.split(text)
    if lines[-1] == "":
        lines.pop()
    return lines


def split_lines(text: str) -> list[str]:
    """Lines with their endings kept, as an editor counts them (a final empty line included).

    Only ``\\n``, ``\\r\\n`` and ``\\r`` end a line, as in LSP and in Python's tokenizer;
    ``str.splitlines`` also splits on form feed, U+0085, U+2028 and others, and every position
    after one of those would be a line off.
    """
    # newline="": universal newlines for splitting, endings kept as they are.
    lines = io.StringIO(text, newline="").readlines()
    if not lines or lines[-1].endswith(("\n", "\r")):
        lines.append("")
    return lines


def newline_of(text: str) -> str:
    """The document's own line ending, so inserted text matches it."""
    index = text.find("\n")
    if index > 0 and text[index - 1] == "\r":
        return "\r\n"
    if index < 0 and "\r" in text:
        return "\r"
    return "\n"


def offset_of(lines: list[str], pos: Pos) -> int:
    """Offset into the joined text; positions past a line's end clamp to it (as LSP says)."""
    line = min(max(pos.line, 0), len(lines) - 1)
    content = lines[line].rstrip("\r\n")
    col = min(max(pos.col, 0), len(content))
    return sum(len(item) for item in lines[:line]) + col


def apply_edits(text: str, edits: list[TextEdit]) -> str:
    lines = split_lines(text)
    spans = sorted(((offset_of(lines, e.start), offset_of(lines, e.end), e.new_text)
                    for e in edits), reverse=True)
    for start, end, new_text in spans:
        text = text[:start] + new_text + text[end:]
    return text


def line_count(text: str) -> int:
    return len(split_lines(text))


def indent_of(line: str) -> str:
    return line[: len(line) - len(line.lstrip(" \t"))]
