"""Textbook fixes that need no model: an unused import (F401) and an unused local (F841).

Each rule rewrites the statement the finding is on and returns the new text of the fix's
region, or None when the statement is not one it knows. The result is an ordinary answer: it
goes through every check a model's answer goes through, and Fix takes it only if it passes
(docs/quality.md, "Answers known without the model").
"""

from __future__ import annotations

import ast
import re

from hearth.core.analysis.python_targets import parse_or_none
from hearth.core.text import indent_of, split_lines

_QUOTED = re.compile(r"'([^']+)'")
PURE_BUILTINS = frozenset("""abs all any ascii bin bool bytes callable chr complex dict divmod
    enumerate float format frozenset hash hex id int isinstance issubclass len list max min oct
    ord pow range repr reversed round set slice sorted str sum tuple type zip""".split())
"""Builtins whose call only computes a value (unless the module binds the name itself)."""


def rule_fix(source: str, code: str, message: str, line: int,
             region: tuple[int, int]) -> str | None:
    """The region ``(start, end)`` (0-based, inclusive) rewritten so that the finding
    ``code: message`` on ``line`` (0-based) is gone; None if no rule applies."""
    tree = parse_or_none(source)
    quoted = _QUOTED.search(message)
    if tree is None or quoted is None:
        return None
    if code == "F401":
        replaced = _without_import(source, tree, line, quoted.group(1))
    elif code == "F841":
        replaced = _without_unused_local(source, tree, line, quoted.group(1))
    else:
        return None
    if replaced is None:
        return None
    (first, last), new_lines = replaced
    start, end = region
    if not start <= first <= last <= end:
        return None
    lines = split_lines(source)
    kept = lines[start:first] + new_lines + lines[last + 1:end + 1]
    return "".join(kept)


def _statement_at(tree: ast.AST, line: int, kinds: tuple[type, ...]) -> ast.stmt | None:
    for node in ast.walk(tree):
        if isinstance(node, kinds) and node.lineno - 1 <= line <= node.end_lineno - 1:
            return node
    return None


def _without_import(source: str, tree: ast.AST, line: int,
                    unused: str) -> tuple[tuple[int, int], list[str]] | None:
    """The import statement on ``line`` without the name flake8 quotes ("os", "os.path as
    p", "typing.List"); no line at all when it was the only name."""
    node = _statement_at(tree, line, (ast.Import, ast.ImportFrom))
    if node is None or _has_comment(source, node) or not _alone_on_its_lines(source, node):
        return None
    kept = [alias for alias in node.names if _quoted_name(node, alias) != unused]
    if len(kept) == len(node.names):
        return None
    span = (node.lineno - 1, node.end_lineno - 1)
    if not kept:
        return span, []
    rewritten = ast.ImportFrom(node.module, kept, node.level) \
        if isinstance(node, ast.ImportFrom) else ast.Import(kept)
    lines = split_lines(source)
    return span, [indent_of(lines[span[0]]) + ast.unparse(rewritten) + _ending(lines[span[1]])]


def _ending(line: str) -> str:
    """The line's own ending, so that a rewrite keeps a CRLF file CRLF (a last line without
    one gets a newline, as the statement after it needs)."""
    return line[len(line.rstrip("\r\n")):] or "\n"


def _quoted_name(node: ast.Import | ast.ImportFrom, alias: ast.alias) -> str:
    """How pyflakes names an imported binding in its message."""
    name = alias.name
    if isinstance(node, ast.ImportFrom):
        name = "." * node.level + (f"{node.module}." if node.module else "") + name
    return f"{name} as {alias.asname}" if alias.asname else name


def _without_unused_local(source: str, tree: ast.AST, line: int,
                          name: str) -> tuple[tuple[int, int], list[str]] | None:
    """``except E as name:`` loses ``as name``; ``name = value`` keeps only ``value`` when
    it calls something (the call may matter), else goes."""
    lines = split_lines(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.ExceptHandler) and node.name == name \
                and node.lineno - 1 == line:
            text = lines[line]
            new, count = re.subn(rf"\s+as\s+{re.escape(name)}\s*:", ":", text, count=1)
            return ((line, line), [new]) if count else None
    node = _statement_at(tree, line, (ast.Assign, ast.AnnAssign))
    if node is None:
        return None
    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
    if len(targets) != 1 or not isinstance(targets[0], ast.Name) or targets[0].id != name:
        return None
    if not _alone_on_its_lines(source, node):
        return None
    span = (node.lineno - 1, node.end_lineno - 1)
    value = node.value
    if value is None or not _may_act(value, _bound_names(tree)):
        return span, []
    if _has_comment(source, node):
        return None
    segment = ast.get_source_segment(source, value)
    if segment is None:
        return None
    return span, [indent_of(lines[span[0]]) + segment + _ending(lines[span[1]])]


def _may_act(value: ast.expr, bound: set[str]) -> bool:
    """Whether evaluating ``value`` may do something besides giving a value: any call but
    to a builtin that only computes (and that ``bound`` does not shadow), any await or
    yield."""
    for part in ast.walk(value):
        if isinstance(part, (ast.Await, ast.Yield, ast.YieldFrom)):
            return True
        if isinstance(part, ast.Call) and not (isinstance(part.func, ast.Name)
                                               and part.func.id in PURE_BUILTINS - bound):
            return True
    return False


def _bound_names(tree: ast.AST) -> set[str]:
    """Every name the module binds anywhere (definitions, assignments, imports)."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.alias):
            names.add(node.asname or node.name.split(".")[0])
        elif isinstance(node, ast.arg):
            names.add(node.arg)
    return names


def _has_comment(source: str, node: ast.stmt) -> bool:
    """Whether the statement's lines hold a comment, which a rewrite would lose (such a
    statement is left to the model)."""
    lines = split_lines(source)[node.lineno - 1:node.end_lineno]
    return any("#" in text for text in lines)


def _alone_on_its_lines(source: str, node: ast.stmt) -> bool:
    """Whether nothing but the statement (and blanks) is on its lines: the rules rewrite whole
    lines, and ``x = 1; import os`` must not lose ``x = 1``."""
    lines = split_lines(source)
    # ast's columns are UTF-8 byte offsets.
    before = lines[node.lineno - 1].encode("utf-8", "surrogatepass")[:node.col_offset]
    after = lines[node.end_lineno - 1].encode("utf-8", "surrogatepass")[node.end_col_offset:]
    return not before.strip() and not after.strip()
