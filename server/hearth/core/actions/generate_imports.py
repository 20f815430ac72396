"""The imports a generated function needs and its module lacks.

Generate writes one function, so the model cannot add an import: asked for ``parse_port`` in a
package whose errors are ``AppError``, the 1.5B model raised ``AppError`` without importing it
(undefined, shown at confidence 0.28), and a user's note "import it" changed nothing. A name
the new function uses and nothing defines is imported when exactly one module of the file's
own package defines it at top level (a class or a function), or, used as ``name.attribute``,
when it is a standard-library module (``re.match`` without ``import re``). Anything else stays
undefined, for the checks to report.
"""

from __future__ import annotations

import ast
import logging
import sys

from pyflakes import messages
from pyflakes.checker import Checker

from hearth.core.actions.fix_names import import_line
from hearth.core.pipeline.conventions import package_modules
from hearth.core.pipeline.types import ActionRequest
from hearth.core.text import Pos, TextEdit, split_lines

log = logging.getLogger(__name__)


def undefined_names(source: str) -> dict[str, bool]:
    """The names ``source`` uses that nothing defines (pyflakes' F821), each with whether it
    is only ever used as ``name.attribute``; {} when it does not parse."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError):
        return {}
    names = {message.message_args[0] for message in Checker(tree).messages
             if isinstance(message, messages.UndefinedName)}
    as_module = dict.fromkeys(names, True)
    attributes = {id(node.value) for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id in names and id(node) not in attributes:
            as_module[node.id] = False
    return as_module


def package_definitions(request: ActionRequest, name: str) -> list[str]:
    """The dotted modules of the file's package (the file itself aside) that define ``name``
    at top level as a class or a function."""
    return [module.name for module in package_modules(request) if any(
        isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
        and node.name == name for node in module.tree.body)]


def import_for(request: ActionRequest, name: str, as_module: bool) -> str | None:
    """The import that defines ``name``: the package's only definition of it, or the
    standard-library module of that name (only for ``name.attribute`` uses)."""
    defined = package_definitions(request, name)
    if len(defined) == 1:
        return import_line(request, defined[0], name)
    if not defined and as_module and name in sys.stdlib_module_names and not name.startswith("_"):
        return f"import {name}"
    return None


def insertion_line(source: str) -> int:
    """Where a new import goes: after the module's last top-level import, else after its
    docstring, else at the top (0-based)."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError):
        return 0
    line = 0
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            line = node.end_lineno or node.lineno
        elif (not line and isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
              and isinstance(node.value.value, str) and node is tree.body[0]):
            line = node.end_lineno or node.lineno
    return line


def _is_import(line: str) -> bool:
    return line.startswith(("import ", "from "))


def import_edit(request: ActionRequest, new_source: str) -> TextEdit | None:
    """An edit of the original document adding the imports that ``new_source`` (the document
    after the answer) needs and the original did not; None when none is needed or none can
    be found."""
    before = undefined_names(request.source)
    wanted = {name: as_module for name, as_module in undefined_names(new_source).items()
              if name not in before}
    lines: list[str] = []
    for name, as_module in sorted(wanted.items()):
        try:
            line = import_for(request, name, as_module)
        except (OSError, ValueError) as exc:  # a package that cannot be read: no import
            log.info("no import for %s: %s", name, exc)
            line = None
        if line is not None and line not in lines:
            lines.append(line)
    if not lines:
        return None
    at = insertion_line(request.source)
    newline = "\r\n" if "\r\n" in request.source else "\n"
    text = newline.join(lines) + newline
    source_lines = split_lines(request.source)
    if at >= len(source_lines) and source_lines and not source_lines[-1].endswith("\n"):
        text = newline + text
    elif at < len(source_lines) and source_lines[at].strip() and not _is_import(
            source_lines[at]):
        text += newline * 2  # code right below: PEP 8's two blank lines (flake8 E302)
    return TextEdit(Pos(at, 0), Pos(at, 0), text)
