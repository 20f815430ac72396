"""The shape of a suggestion: one line or a block, chosen from the syntax at the cursor, and
cut where it should end (the end of the line, the end of the block, text the document already
has after the cursor)."""

from __future__ import annotations

from dataclasses import dataclass

from hearth.core.text import Pos, split_lines

# A line ending with one of these opens a block: at an empty line after it, a suggestion may
# write the block's body.
BLOCK_OPENERS = (":", "{", "(", "[", "=>", "->")


@dataclass(frozen=True)
class Shape:
    multiline: bool
    indent: int  # the block's indentation: a later line indented less ends the suggestion
    max_lines: int
    line_suffix: str  # the text after the cursor on its line
    next_line: str  # the first non-blank line after the cursor's, stripped ("" if none)


def shape_at(source: str, position: Pos, mode: str, max_lines: int) -> Shape:
    lines = split_lines(source)
    line = min(position.line, max(0, len(lines) - 1))
    current = (lines[line] if lines else "").rstrip("\r\n")
    before, after = current[:position.col], current[position.col:]
    following = next((text.strip() for text in lines[line + 1:] if text.strip()), "")
    indent = len(before) - len(before.lstrip()) if before.strip() else len(before)
    if mode == "line":
        multiline = False
    elif mode == "block":
        multiline = True
    else:
        # Nothing typed on the line yet and nothing after the cursor, in a block whose body
        # has no code yet: the body is what the user is about to write.
        multiline = not before.strip() and not after.strip() and \
            _opens_empty_body(lines, line, indent)
    return Shape(multiline, indent, max_lines if multiline else 1, after, following)


def _opens_empty_body(lines: list[str], line: int, indent: int) -> bool:
    """Whether the lines above ``line`` end in a block opener, maybe followed by the body's
    docstring and comments (``def f(x):`` then ``\"\"\"Doc.\"\"\"``): then the body has no
    code yet. Read as text, as a document being typed need not parse."""
    index = line - 1
    while index >= 0 and (not lines[index].strip() or _is_comment_at(lines[index], indent)):
        index -= 1
    if index < 0:
        return False
    last = lines[index].rstrip()
    if last.endswith(BLOCK_OPENERS):
        return True
    start = _docstring_start(lines, index, indent)
    if start is None:
        return False
    opener = next((text.rstrip() for text in reversed(lines[:start]) if text.strip()), "")
    return opener.endswith(":")


def _is_comment_at(text: str, indent: int) -> bool:
    stripped = text.lstrip()
    return stripped.startswith("#") and len(text) - len(stripped) >= indent


def _docstring_start(lines: list[str], end: int, indent: int) -> int | None:
    """The first line of the string literal that ends on line ``end``, at ``indent``, when
    that line ends one (a docstring); None otherwise."""
    last = lines[end].strip()
    quote = next((q for q in ('"""', "'''") if last.endswith(q)), None)
    if quote is None:
        return None
    for index in range(end, -1, -1):
        text = lines[index]
        stripped = text.lstrip()
        # The line that opens it: the quote at the line's start (after a string prefix), not
        # the closing quote of the last line.
        body = stripped.lstrip("rRuUbBfF")
        if index < end and quote in body and not body.startswith(quote):
            return None  # a string that opens mid-line (``x = \"\"\"``): not a docstring
        if body.startswith(quote) and (index < end or body.count(quote) >= 2):
            return index if len(text) - len(stripped) == indent else None
    return None


def stop_rule(shape: Shape, heal: str = ""):
    """A ``stop_when`` for the decoder: the line (or the block) has ended, or the block has
    enough lines. ``heal``: the typed text the answer starts with again (token healing, maybe
    a line break), not part of the suggestion."""
    def done(text: str) -> bool:
        if len(text) < len(heal):
            return False
        lines = text[len(heal):].split("\n")
        complete = lines[:-1]  # the last one may still grow
        if len(complete) >= shape.max_lines:
            return True
        return any(_ends_block(line, shape) for line in complete[1:])
    return done


def _ends_block(line: str, shape: Shape) -> bool:
    stripped = line.strip()
    if not stripped:
        return False
    if len(line) - len(line.lstrip()) < shape.indent:
        return True
    return bool(shape.next_line) and stripped == shape.next_line


def trim(text: str, shape: Shape) -> str:
    """The part of the model's ``text`` worth showing."""
    text = text.replace("\r\n", "\n")
    lines = text.split("\n")
    if not shape.multiline:
        lines = lines[:1]
    else:
        kept = [lines[0]]
        for line in lines[1:shape.max_lines]:
            if _ends_block(line, shape):
                break
            kept.append(line)
        lines = kept
    while len(lines) > 1 and not lines[-1].strip():
        lines.pop()
    text = "\n".join(lines).rstrip()
    # What the line already has after the cursor (closing brackets, mostly) is not repeated.
    tail = shape.line_suffix.strip()
    if tail and text.endswith(tail):
        text = text[: len(text) - len(tail)].rstrip()
    return text if text.strip() else ""
