"""Client-side helpers for the end-to-end tests: applying edits as an editor would."""

from __future__ import annotations

from lsprotocol import types


def _offset(text: str, position: types.Position, encoding: str) -> int:
    lines = text.splitlines(keepends=True) or [""]
    if position.line >= len(lines):
        return len(text)
    start = sum(len(line) for line in lines[: position.line])
    line = lines[position.line].rstrip("\r\n")
    codec = {"utf-8": "utf-8", "utf-16": "utf-16-le", "utf-32": "utf-32-le"}[encoding]
    width = {"utf-8": 1, "utf-16": 2, "utf-32": 4}[encoding]
    encoded = line.encode(codec)[: position.character * width]
    return start + len(encoded.decode(codec))


def apply_text_edits(text: str, edits: list[types.TextEdit], encoding: str = "utf-16") -> str:
    spans = sorted(((_offset(text, e.range.start, encoding), _offset(text, e.range.end, encoding),
                     e.new_text) for e in edits), reverse=True)
    for start, end, new_text in spans:
        text = text[:start] + new_text + text[end:]
    return text


def edits_for(edit: types.WorkspaceEdit, uri: str) -> tuple[list[types.TextEdit], int | None]:
    """The text edits a WorkspaceEdit makes to ``uri``, and the version it was made for."""
    if edit.document_changes:
        for change in edit.document_changes:
            if isinstance(change, types.TextDocumentEdit) and change.text_document.uri == uri:
                return list(change.edits), change.text_document.version
    if edit.changes and uri in edit.changes:
        return list(edit.changes[uri]), None
    raise AssertionError(f"the edit does not touch {uri}: {edit}")


def position_of(text: str, needle: str, encoding: str = "utf-16", offset: int = 0
                ) -> types.Position:
    """The client position of ``needle`` (plus ``offset`` characters) in ``text``."""
    index = text.index(needle) + offset
    line = text.count("\n", 0, index)
    line_start = text.rfind("\n", 0, index) + 1
    prefix = text[line_start:index]
    codec = {"utf-8": "utf-8", "utf-16": "utf-16-le", "utf-32": "utf-32-le"}[encoding]
    width = {"utf-8": 1, "utf-16": 2, "utf-32": 4}[encoding]
    return types.Position(line, len(prefix.encode(codec)) // width)
