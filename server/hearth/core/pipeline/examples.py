"""Examples that a docstring gives in prose, read as checks the ranker can run.

Users rarely write doctests. They write ``f('abc') -> 'x'``, ``'abc' -> 'x'`` under the
function's name, "returns None for an empty list", "raises ValueError on an empty list", or a
small table of inputs and outputs. Each of those is the user's own statement of what the
function does, so a candidate that contradicts one is wrong on the user's terms.

The miner is strict on purpose: a check it invents would count against correct candidates.
It keeps an example only when both sides are Python literals (``ast.literal_eval``), the call
names this function with an argument count its signature accepts, and, for the forms without
the function's name, the function takes exactly the arguments the example supplies. Doctest
lines (``>>>``) are left to doctest.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, replace

from hearth.core.pipeline.types import Example, FunctionNode

MAX_EXAMPLES = 12
# "should be" and "must return": how a user's note states what a call was meant to give.
ARROWS = (r"(?:->|=>|→|⟶|==|\bgives\b|\breturns\b|\byields\b|\bis\b"
          r"|\b(?:should|must)\s+(?:be|return|give)\b)")

# A value named in words, per the kind of thing the sentence calls it.
EMPTY_NOUNS: dict[str, object] = {
    "list": [], "sequence": [], "iterable": [], "array": [], "tuple": (),
    "string": "", "str": "", "text": "", "dict": {}, "dictionary": {}, "mapping": {},
    "set": set(),
}
GENERIC_NOUNS = frozenset({"sequence", "iterable", "input", "collection"})
TYPE_EMPTIES: dict[str, object] = {
    "str": "", "list": [], "List": [], "Sequence": [], "Iterable": [], "tuple": (),
    "Tuple": (), "dict": {}, "Dict": {}, "Mapping": {}, "set": set(), "Set": set(),
    "bytes": b"",
}
# The condition a sentence states runs to its end, or to the next "returns"/"raises" clause;
# a full stop ends it unless a digit follows (1.5).
CONDITION = (r"(?P<rest>(?i:on|for|if|when|given)\b"
             r"(?:(?!,?\s*(?:and\s+|or\s+)?(?i:returns?|raise[sd]?)\b)(?:\.(?=\d)|[^.;\n]))*)")
RAISES = re.compile(
    r"\b(?i:raise[sd]?)\s+(?i:an?\s+)?`{0,2}(?P<error>[A-Z]\w*(?:Error|Exception))`{0,2}"
    r"\s+" + CONDITION)
RETURNS_FOR = re.compile(r"\b(?i:returns?)\s+(?P<value>.+?)\s+" + CONDITION)
# Where an example may start inside a sentence: not after any word ("counts from 0 -> 10").
LEAD = re.compile(r"(?:^|[:(`,;]|\be\.g\.,?|\bfor example,?|\bsuch as)\s*", re.I)
REST_BORDER = re.compile(r"=+\s+=+")


@dataclass(frozen=True)
class _Signature:
    name: str
    params: tuple[str, ...]  # positional parameters, self/cls excepted
    required: int
    star: bool  # *args: any count from `required` on
    annotations: tuple[ast.expr | None, ...]

    def accepts(self, count: int) -> bool:
        return count >= self.required and (self.star or count <= len(self.params))


def _signature(fn: FunctionNode) -> _Signature:
    args = [a for a in fn.args.posonlyargs + fn.args.args if a.arg not in ("self", "cls")]
    required = len(args) - len(fn.args.defaults)
    return _Signature(fn.name, tuple(a.arg for a in args), max(required, 0),
                      fn.args.vararg is not None, tuple(a.annotation for a in args))


def examples_from_docstring(fn: FunctionNode) -> list[Example]:
    """The checks ``fn``'s docstring states in prose (none when it states none)."""
    return examples_in(fn, ast.get_docstring(fn, clean=True) or "")


def examples_in(fn: FunctionNode, text: str, origin: str = "docstring") -> list[Example]:
    """The checks ``text`` states in prose about ``fn``: its docstring, or the instruction
    the user gave with the request (``origin`` "instruction")."""
    if not text:
        return []
    docstring = text
    kwonly_required = any(d is None for d in fn.args.kw_defaults)
    if kwonly_required:
        return []  # the forms below cannot supply keyword-only arguments
    sig = _signature(fn)
    found: dict[tuple[str, str | None, str | None], Example] = {}
    lines = [line for line in docstring.splitlines() if not line.lstrip().startswith(
        (">>>", "..."))]
    for text in lines:
        for example in (*_calls(text, sig), *_bare(text, sig), *_raises(text, sig),
                        *_returns_for(text, sig)):
            found.setdefault((example.call, example.expect, example.raises), example)
    for example in _tables(lines, sig):
        found.setdefault((example.call, example.expect, example.raises), example)
    return [replace(example, origin=origin) for example in found.values()][:MAX_EXAMPLES]


def _literal(text: str) -> str | None:
    """``text`` as the source of a Python literal, or None."""
    text = text.strip().strip("`").strip()
    if not text:
        return None
    try:
        node = ast.parse(text, mode="eval").body
        value = ast.literal_eval(node)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None
    if isinstance(node, ast.Tuple) and not text.startswith("("):
        return None  # "1, 'b'" is two things in prose, not a tuple
    return repr(value)


def _longest_literal(text: str) -> str | None:
    """The longest literal ``text`` starts with (prose may follow it), or None."""
    text = text.strip()
    if text.startswith("`"):
        end = text.find("`", 1)
        return _literal(text[1:end]) if end > 0 else None
    for end in range(len(text), 0, -1):
        if end < len(text) and text[end] not in " ,.;:)":
            continue
        literal = _literal(text[:end].rstrip(".,;:"))
        if literal is not None:
            return literal
    return None


def _call_at(text: str, start: int, sig: _Signature) -> tuple[str, int] | None:
    """The call of ``sig.name`` starting at ``start`` with literal arguments, and where it
    ends."""
    depth, index = 0, text.index("(", start)
    for index in range(index, len(text)):
        depth += {"(": 1, ")": -1}.get(text[index], 0)
        if depth == 0:
            break
    else:
        return None
    source = text[start:index + 1]
    try:
        call = ast.parse(source, mode="eval").body
    except SyntaxError:
        return None
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name)
            and call.func.id == sig.name and not call.keywords):
        return None
    try:
        values = [ast.literal_eval(arg) for arg in call.args]
    except (ValueError, SyntaxError, TypeError):
        return None
    if not sig.accepts(len(values)):
        return None
    return f"{sig.name}({', '.join(map(repr, values))})", index + 1


def _calls(text: str, sig: _Signature) -> list[Example]:
    """``f(1, 2) -> 3``, ``f('a') returns 'b'``, ``f(x) == y``, ``f([]) raises ValueError``."""
    out = []
    for match in re.finditer(rf"(?<![\w.]){re.escape(sig.name)}\s*\(", text):
        call = _call_at(text, match.start(), sig)
        if call is None:
            continue
        source, end = call
        rest = text[end:].lstrip().lstrip("`").lstrip()
        error = re.match(r"(?:->|=>|→|(?:should|must)\s+)?\s*raises?\s+`{0,2}"
                         r"([A-Z]\w*(?:Error|Exception))\b", rest)
        if error:
            out.append(Example(source, None, error.group(1), text.strip()))
            continue
        arrow = re.match(rf"{ARROWS}\s*", rest)
        if arrow:
            expect = _longest_literal(rest[arrow.end():])
            if expect is not None:
                out.append(Example(source, expect, None, text.strip()))
    return out


def _bare(text: str, sig: _Signature) -> list[Example]:
    """``'abc' -> 'x'``: arguments, an explicit arrow, the result, on a line of their own or
    after a colon, "e.g.", a comma or a backtick; only when the left side fills the signature
    (one argument, or a parenthesised tuple of them)."""
    body = re.sub(r"^\s*(?:[-*•]|\d+[.)])\s+", "", text)
    out = []
    for arrow in re.finditer(r"\s*(?:->|=>|→|⟶)\s*", body):
        left = next((literal for lead in LEAD.finditer(body[:arrow.start()])
                     if (literal := _literal(body[lead.end():arrow.start()])) is not None), None)
        right = _longest_literal(body[arrow.end():])
        if left is None or right is None:
            continue
        value = ast.literal_eval(left)
        if _single(sig):
            arguments = [value]
        elif isinstance(value, tuple) and sig.required >= 2 and sig.accepts(len(value)):
            arguments = list(value)  # (1, 2) -> 3 for f(a, b)
        else:
            continue
        out.append(Example(f"{sig.name}({', '.join(map(repr, arguments))})", right, None,
                           text.strip()))
    return out


def _value_in_words(rest: str, sig: _Signature) -> object:
    """The single argument that "on an empty list", "for negative numbers", "if n is zero",
    "given None" or "for 'abc'" name; LookupError when the words do not name one for sure
    (an empty "input" of no annotated type, "invalid input", "a palindrome")."""
    words = re.sub(r"^(?:on|for|if|when|given)\s+(?:an?\s+|the\s+)?", "", rest.lower().strip())
    type_name = _type_name(sig.annotations[0])
    subject = rf"(?:{re.escape(sig.params[0].lower())}|it|the input|the argument|the value)"
    empty = re.match(r"empty\s+(\w+)", words) or re.match(
        rf"(?:{subject}|(\w+))\s+is\s+empty\b", words)
    if empty:
        noun = empty.group(1)
        by_type, by_noun = TYPE_EMPTIES.get(type_name or ""), EMPTY_NOUNS.get(noun or "")
        if (by_type is not None and by_noun is not None and noun not in GENERIC_NOUNS
                and type(by_type) is not type(by_noun)):
            raise LookupError(rest)  # the sentence and the annotation disagree
        value = by_type if by_type is not None else by_noun
        if value is None:
            raise LookupError(rest)
        return value
    numeric = type_name in (None, "int", "float")
    if numeric and re.match(rf"(?:{subject}\s+is\s+)?(?:a\s+)?negative\b", words):
        return -1
    if numeric and re.match(rf"(?:{subject}\s+is\s+)?(?:zero|0)\b", words):
        return 0
    if re.match(rf"(?:{subject}\s+is\s+)?none\b", words):
        return None
    given = re.match(r"(?:when\s+)?(?:on|for|given)\s+(.*)", rest.strip(), re.I)
    literal = _longest_literal(given.group(1)) if given else None
    if literal is None:
        raise LookupError(rest)
    return ast.literal_eval(literal)


def _type_name(annotation: ast.expr | None) -> str | None:
    if annotation is None:
        return None
    node = annotation.value if isinstance(annotation, ast.Subscript) else annotation
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Name):
        return node.id
    return "other"


def _single(sig: _Signature) -> bool:
    return sig.required == 1 and len(sig.params) >= 1


def _raises(text: str, sig: _Signature) -> list[Example]:
    """"Raises ValueError on an empty list" for a function of one argument."""
    if not _single(sig):
        return []
    out = []
    for match in RAISES.finditer(text):
        try:
            value = _value_in_words(match.group("rest"), sig)
        except LookupError:
            continue
        out.append(Example(f"{sig.name}({value!r})", None, match.group("error"), text.strip()))
    return out


def _returns_for(text: str, sig: _Signature) -> list[Example]:
    """"Returns None for an empty list", "returns 0 if n is negative" (one argument)."""
    if not _single(sig):
        return []
    out = []
    for match in RETURNS_FOR.finditer(text):
        expect = _literal(match.group("value"))
        if expect is None:
            continue
        try:
            value = _value_in_words(match.group("rest"), sig)
        except LookupError:
            continue
        out.append(Example(f"{sig.name}({value!r})", expect, None, text.strip()))
    return out


def _tables(lines: list[str], sig: _Signature) -> list[Example]:
    """Rows of a two-column table of inputs and outputs (Markdown pipes, or a reST simple
    table between ``===  ===`` borders) whose header names an input and an output."""
    out, index = [], 0
    while index < len(lines):
        stripped = lines[index].strip()
        if _pipe_row(stripped) is not None:
            rows = []
            while index < len(lines) and _pipe_row(lines[index].strip()) is not None:
                rows.append(_pipe_row(lines[index].strip()))
                index += 1
            out += _table_rows([r for r in rows if not all(set(c) <= set("-: ") for c in r)],
                               sig)
            continue
        if REST_BORDER.fullmatch(stripped):
            rows, borders = [], 1
            index += 1
            while index < len(lines) and borders < 3 and lines[index].strip():
                line = lines[index].strip()
                if REST_BORDER.fullmatch(line):
                    borders += 1
                else:
                    rows.append(re.split(r"\s{2,}", line))
                index += 1
            if all(len(r) == 2 for r in rows):
                out += _table_rows(rows, sig)
            continue
        index += 1
    return out


def _pipe_row(line: str) -> list[str] | None:
    if not (line.startswith("|") and line.endswith("|") and line.count("|") == 3):
        return None
    return [cell.strip() for cell in line.strip("|").split("|")]


def _table_rows(rows: list[list[str]], sig: _Signature) -> list[Example]:
    if len(rows) < 2 or not sig.params:
        return []
    header, data = rows[0], rows[1:]
    names = "|".join(["inputs?", "arguments?", "args?", "values?", re.escape(sig.params[0])])
    if not (re.fullmatch(rf"`?(?:{names})`?", header[0], re.I)
            and re.fullmatch(r"`?(?:outputs?|results?|returns?|expected|value)`?", header[1],
                             re.I)):
        return []
    out = []
    for left, right in data:
        call = _bare(f"{left.strip('`')} -> {right.strip('`')}", sig)
        out += [Example(e.call, e.expect, e.raises, f"| {left} | {right} |") for e in call]
    return out
