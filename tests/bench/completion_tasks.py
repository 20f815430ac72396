"""The inline completion corpus's shared pieces (helper of bench_complete.py, no model): the
positions of tests/completion_corpus/positions.json, the document the editor holds at each,
and how a suggestion is scored against the reference.

Scores (``score``):

- ``exact``: the suggestion's first line, from the cursor to a trailing comment, equals the
  reference's first line, both trimmed of whitespace.
- ``similarity``: difflib's ratio (``SequenceMatcher(None, a, b, autojunk=False).ratio()``)
  of the same two trimmed first lines; 1.0 when both are empty.
- ``block_similarity`` (blocks only): the same ratio of the whole suggestion and the whole
  reference, trailing blanks and blank lines left out; ``block_similarity_max_lines`` the
  same against the reference's first ``max_lines`` lines (``completion.maxLines``).
"""

from __future__ import annotations

import difflib
import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[2]
POSITIONS = REPO / "tests" / "completion_corpus" / "positions.json"
KINDS = ("line", "mid", "block")


class PositionError(Exception):
    """positions.json is missing or does not fit the unpacked sources."""


def load_by_path(name: str, path: Path) -> ModuleType:
    """A script loaded as module ``name`` (once): the corpora's ``build.py``, which cannot
    be imported by name (``build`` is also a PyPI package)."""
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses look their module up there
        spec.loader.exec_module(module)
    return sys.modules[name]


def load_positions(path: Path = POSITIONS) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data.get("positions"), list):
            raise ValueError("no list of positions")
    except (OSError, ValueError, AttributeError) as error:
        raise PositionError(f"{path}: not a positions file ({error}); build it with "
                            "tests/completion_corpus/build.py") from error
    return data


def document_at(source: str, position: dict) -> str:
    """The file as the editor holds it at ``position``: the cursor's line cut at the cursor,
    and for a block the rest of the body (to ``end_line``) gone too. Raises PositionError
    when the file does not hold the position's prefix and reference there (another version)."""
    lines = source.splitlines(keepends=True)
    line, col, end = position["line"], position["col"], position["end_line"]
    if end >= len(lines):
        raise PositionError(f"{position['id']}: the file has {len(lines)} lines")
    text = lines[line]
    if text[:col] != position["prefix"]:
        raise PositionError(f"{position['id']}: the line is {text!r}, not {position['prefix']!r}")
    hidden = "".join([text[col:]] + lines[line + 1: end + 1])
    if not hidden.startswith(position["reference"]):
        raise PositionError(f"{position['id']}: the reference is not at the cursor")
    newline = text[len(text.rstrip("\r\n")):] or "\n"
    return "".join(lines[:line]) + text[:col] + newline + "".join(lines[end + 1:])


def key_before(document: str, position: dict) -> tuple[str, int, int]:
    """The document one keystroke before ``position`` (from ``document_at``), and its cursor
    (line, column): at a line start, before the Enter that made the line (the editor indents
    the new line as part of it); mid-line, before the last character typed."""
    lines = document.splitlines(keepends=True)
    line, col = position["line"], position["col"]
    if position["prefix"].strip():
        text = lines[line]
        return "".join(lines[:line]) + text[:col - 1] + text[col:] + "".join(lines[line + 1:]), \
            line, col - 1
    above = lines[line - 1]
    return "".join(lines[:line] + lines[line + 1:]), line - 1, len(above.rstrip("\r\n"))


def code_end(line: str) -> int:
    """Where a line's code ends: before a ``#`` outside string literals, trailing blanks
    left out. Strings are read by their quotes alone (a fragment of code need not parse)."""
    quote, index = "", 0
    while index < len(line):
        char = line[index]
        if quote:
            if char == "\\":
                index += 1
            elif line.startswith(quote, index):
                index += len(quote) - 1
                quote = ""
        elif char == "#":
            break
        elif char in "'\"":
            quote = char * 3 if line.startswith(char * 3, index) else char
            index += len(quote) - 1
        index += 1
    return len(line[:index].rstrip())


def first_line(text: str) -> str:
    return text.split("\n", 1)[0].rstrip("\r")


def suggested_line(prefix: str, suggestion: str) -> str:
    """The code the suggestion's first line adds to the cursor's line (its trailing comment,
    if it writes one, left out)."""
    line = prefix + first_line(suggestion)
    return line[len(prefix): max(len(prefix), code_end(line))]


def ratio(a: str, b: str) -> float:
    if not a and not b:
        return 1.0
    return difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()


def block_lines(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.splitlines() if line.strip())


def score(position: dict, suggestion: str, max_lines: int | None = None) -> dict:
    """The scores of ``suggestion`` (the text inserted at the cursor) at ``position``; for a
    block also against the reference's first ``max_lines`` lines, all that a suggestion of
    at most that many lines can hold."""
    wanted = first_line(position["reference"]).strip()
    got = suggested_line(position["prefix"], suggestion).strip()
    out = {"exact": got == wanted, "similarity": round(ratio(got, wanted), 4),
           "empty": not suggestion.strip()}
    if position["kind"] == "block":
        mine = block_lines(suggestion)
        out["block_similarity"] = round(ratio(mine, block_lines(position["reference"])), 4)
        if max_lines is not None:
            head = "\n".join(position["reference"].split("\n")[:max_lines])
            out["block_similarity_max_lines"] = round(ratio(mine, block_lines(head)), 4)
    return out


def with_suggestion(document: str, position: dict, suggestion: str) -> str:
    """The document with ``suggestion`` inserted at the cursor, as accepting it gives."""
    lines = document.splitlines(keepends=True)
    before = "".join(lines[:position["line"]]) + position["prefix"]
    return before + suggestion + document[len(before):]
