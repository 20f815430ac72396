"""Finding the Python function under the cursor and deciding whether its body is a stub."""

from __future__ import annotations

import ast
import dataclasses
import re
from dataclasses import dataclass

from hearth.core.text import Pos, indent_of, split_lines

DEF_LINE = re.compile(r"^([ \t]*)(?:async[ \t]+)?def[ \t]")
FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef


@dataclass(frozen=True)
class FunctionTarget:
    """A function whose body Hearth may replace, with everything a prompt and an edit need."""

    name: str
    qualname: str
    def_line: int  # 0-based line of the first decorator or the `def`
    end_line: int  # 0-based, inclusive: the last line of the function
    header: str  # decorators and signature lines, as written
    docstring_source: str  # the docstring lines as written ("" if none)
    body_indent: str
    region_start: Pos  # the replaced region: after the docstring (or header) ...
    region_end: Pos  # ... to the end of the body
    class_context: str  # the enclosing class's header and docstring, "" at module level
    is_stub: bool


def parse_or_none(source: str) -> ast.Module | None:
    """The module's tree, or None if it does not parse. A request parses its source once
    (``ActionRequest.tree``); this is for the texts a check makes."""
    try:
        return ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def is_stub_statement(node: ast.stmt) -> bool:
    if isinstance(node, ast.Pass):
        return True
    if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
        return node.value.value is Ellipsis or isinstance(node.value.value, str)
    if isinstance(node, ast.Raise) and node.exc is not None:
        exc = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
        return isinstance(exc, ast.Name) and exc.id == "NotImplementedError"
    return False


def docstring_node(fn: FunctionNode) -> ast.Expr | None:
    first = fn.body[0]
    if (isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
            and isinstance(first.value.value, str)):
        return first
    return None


STATEMENT_LISTS = ("body", "orelse", "finalbody", "handlers", "cases")


def _enclosing_functions(tree: ast.AST, line: int):
    """(function, qualname, enclosing class) for every function spanning ``line`` (1-based).

    Only statements whose span holds the line are visited, so a large module costs a few
    hundred node visits, not one per expression.
    """
    def spans(node: ast.AST) -> bool:
        start = min([d.lineno for d in getattr(node, "decorator_list", [])] + [node.lineno])
        return start <= line <= (node.end_lineno or node.lineno)

    def children(node: ast.AST):
        for field in STATEMENT_LISTS:
            for child in getattr(node, field, None) or []:
                if isinstance(child, (ast.ExceptHandler, ast.match_case)):
                    yield from children(child)
                elif isinstance(child, ast.stmt) and spans(child):
                    yield child

    def visit(node: ast.AST, prefix: str, cls: ast.ClassDef | None):
        for child in children(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                qualname = f"{prefix}{child.name}"
                yield child, qualname, cls
                yield from visit(child, qualname + ".", None)
            elif isinstance(child, ast.ClassDef):
                yield from visit(child, f"{prefix}{child.name}.", child)
            else:
                yield from visit(child, prefix, cls)

    yield from visit(tree, "", None)


def function_at(source: str, position: Pos,
                tree: ast.Module | None = None) -> FunctionTarget | None:
    """The innermost function containing ``position``, or None.

    In a file that does not parse, the function around the cursor is parsed on its own.
    """
    tree = tree or parse_or_none(source)
    if tree is None:
        return _isolated_function_at(source, position)
    found = list(_enclosing_functions(tree, position.line + 1))
    if not found:
        return None
    fn, qualname, cls = max(found, key=lambda item: item[0].lineno)
    return _target(source, fn, qualname, cls)


def _isolated_function_at(source: str, position: Pos) -> FunctionTarget | None:
    """The function around ``position`` when the rest of the file has a syntax error."""
    lines = split_lines(source)
    cursor = min(max(position.line, 0), len(lines) - 1)
    start, match = next(((i, m) for i in range(cursor, -1, -1)
                         if (m := DEF_LINE.match(lines[i]))), (None, None))
    if start is None:
        return None
    indent = match.group(1)
    end = start + 1
    while end < len(lines):
        stripped = lines[end].strip()
        if stripped and not stripped.startswith("#") and len(indent_of(lines[end])) <= len(indent):
            break
        end += 1
    if cursor >= end:
        return None
    # Keep the line numbers, blank everything else, and dedent the function to column 0.
    segment = [line[len(indent):] if line.startswith(indent) else line.lstrip(" \t")
               for line in lines[start:end]]
    padded = "".join(["\n"] * start + segment + ["\n"] * (len(lines) - end))
    tree = parse_or_none(padded)
    if tree is None:
        return None
    target = function_at(padded, Pos(cursor, 0), tree)
    if target is None or not indent:
        return target
    return dataclasses.replace(
        target, body_indent=indent + target.body_indent,
        region_start=Pos(target.region_start.line, target.region_start.col + len(indent)),
        region_end=Pos(target.region_end.line, target.region_end.col + len(indent)))


def _target(source: str, fn: FunctionNode, qualname: str,
            cls: ast.ClassDef | None) -> FunctionTarget:
    lines = split_lines(source)
    def_line = min([d.lineno for d in fn.decorator_list] + [fn.lineno]) - 1
    doc = docstring_node(fn)
    rest = fn.body[1:] if doc else fn.body
    stub = all(is_stub_statement(node) for node in rest)
    first_body = fn.body[0]
    inline = first_body.lineno == fn.lineno or (doc is not None and doc.end_lineno == fn.lineno)
    last = fn.body[-1]
    end_line = (last.end_lineno or last.lineno) - 1
    end_col = last.end_col_offset or 0
    # Comment lines right after the last statement, indented as the body, belong to it.
    body_col = first_body.col_offset
    while end_line + 1 < len(lines):
        following = lines[end_line + 1]
        stripped = following.strip()
        if stripped.startswith("#") and len(indent_of(following)) >= body_col > 0:
            end_line += 1
            end_col = len(following.rstrip("\r\n"))
        else:
            break
    header_end = _header_end_line(lines, fn, first_body)
    if inline:
        header_text = lines[fn.lineno - 1]
        colon = header_text.rfind(":", 0, first_body.col_offset)
        region_start = Pos(fn.lineno - 1, colon + 1)
        if doc is not None and doc.end_lineno == fn.lineno and len(fn.body) > 1:
            region_start = Pos(fn.lineno - 1, doc.end_col_offset or 0)
        def_indent = indent_of(lines[fn.lineno - 1])
        body_indent = def_indent + ("\t" if def_indent.startswith("\t") else "    ")
    elif doc is not None:
        region_start = Pos(doc.end_lineno - 1, doc.end_col_offset or 0)
        body_indent = indent_of(lines[first_body.lineno - 1])
    else:
        region_start = Pos(header_end, len(lines[header_end].rstrip("\r\n")))
        body_indent = indent_of(lines[first_body.lineno - 1])
    header = "".join(lines[def_line: header_end + 1])
    docstring_source = ""
    if doc is not None and not inline:
        docstring_source = "".join(lines[doc.lineno - 1: doc.end_lineno])
    return FunctionTarget(
        name=fn.name, qualname=qualname, def_line=def_line, end_line=end_line,
        header=header if not inline else lines[fn.lineno - 1][: region_start.col] + "\n",
        docstring_source=docstring_source, body_indent=body_indent,
        region_start=region_start, region_end=Pos(end_line, end_col),
        class_context=_class_context(lines, cls), is_stub=stub)


def _header_end_line(lines: list[str], fn: FunctionNode, first_body: ast.stmt) -> int:
    """The 0-based line holding the signature's closing colon."""
    line = first_body.lineno - 2
    while line >= fn.lineno - 1:
        stripped = lines[line].strip()
        if stripped and not stripped.startswith("#"):
            return line
        line -= 1
    return fn.lineno - 1


def _class_context(lines: list[str], cls: ast.ClassDef | None) -> str:
    if cls is None:
        return ""
    start = min([d.lineno for d in cls.decorator_list] + [cls.lineno]) - 1
    first = cls.body[0]
    doc_end = first.end_lineno if (isinstance(first, ast.Expr) and isinstance(
        getattr(first, "value", None), ast.Constant)) else first.lineno - 1
    header = "".join(lines[start: doc_end or cls.lineno])
    members = []
    for node in cls.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            members.append(lines[node.lineno - 1].rstrip("\r\n").rstrip(":") + ": ...")
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            members.append("".join(lines[node.lineno - 1: node.end_lineno]).rstrip("\r\n"))
    return header + "\n".join(members) + ("\n" if members else "")


def stub_functions(source: str, tree: ast.Module | None = None) -> list[FunctionTarget]:
    """Every stub function in the module (used to list code actions and by the CLI)."""
    tree = tree or parse_or_none(source)
    if tree is None:
        return []
    targets = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            target = function_at(source, Pos(node.lineno - 1, 0), tree)
            if target is not None and target.is_stub:
                targets.append(target)
    return targets


def find_function(tree: ast.Module, name: str) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    """The function called ``name``: top level first, then inside classes, then anywhere."""
    candidates = [node for node in ast.walk(tree)
                  if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
                  and node.name == name]
    return candidates[0] if candidates else None
