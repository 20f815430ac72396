"""Converting between core positions (code points) and LSP positions in the negotiated encoding."""

from __future__ import annotations

from lsprotocol import types

from hearth.core.text import Pos, TextEdit, split_lines


def _units(char: str, encoding: str) -> int:
    if encoding == types.PositionEncodingKind.Utf8:
        # A lone surrogate (JSON can carry one) counts as the three bytes it would take.
        return len(char.encode("utf-8", "surrogatepass"))
    if encoding == types.PositionEncodingKind.Utf32:
        return 1
    return 2 if ord(char) > 0xFFFF else 1


def to_core(lines: list[str], position: types.Position, encoding: str) -> Pos:
    """A client position as a core one; past the end of a line or file clamps, as LSP says."""
    if position.line >= len(lines):
        last = len(lines) - 1
        return Pos(last, len(lines[last].rstrip("\r\n")))
    content = lines[max(position.line, 0)].rstrip("\r\n")
    units = 0
    for index, char in enumerate(content):
        if units >= position.character:
            return Pos(position.line, index)
        units += _units(char, encoding)
    return Pos(position.line, len(content))


def to_client(lines: list[str], pos: Pos, encoding: str) -> types.Position:
    line = min(pos.line, len(lines) - 1)
    content = lines[line].rstrip("\r\n")
    return types.Position(line, sum(_units(c, encoding) for c in content[: pos.col]))


def edits_to_client(source: str, edits: list[TextEdit], encoding: str) -> list[types.TextEdit]:
    lines = split_lines(source)
    return [types.TextEdit(range=types.Range(to_client(lines, e.start, encoding),
                                             to_client(lines, e.end, encoding)),
                           new_text=e.new_text)
            for e in edits]
