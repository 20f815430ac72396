"""For an undefined name (F821), the names the project itself defines that may be what was
meant: its exception classes for a name raised or caught, else its functions and classes whose
name is spelt alike or whose name and docstring share its words.

Asked to fix ``raise WeightError(...)`` in a package whose errors are all ``ShopError``, the
model imported the made-up name from the package (`from shop.errors import WeightError`), and
``"Refund: " + format_cents(cents)`` where the package has ``money(cents)`` went the same way
(bench-memory, docs/BENCHMARKS.md). The prompt now names what the package has. Only a file
inside a package is looked around, and only that package (its top folder), so a file that
stands alone gets the hint it always had.
"""

from __future__ import annotations

import ast
import difflib
import io
import logging
import re
import tokenize
from dataclasses import dataclass

from hearth.core.pipeline.conventions import package_files, parse_module
from hearth.core.pipeline.rank import module_name
from hearth.core.pipeline.types import ActionRequest
from hearth.core.text import split_lines

log = logging.getLogger(__name__)

MAX_NAMES = 3
SPELT_ALIKE = 0.8  # difflib's ratio of two names, lower-cased
UNDEFINED = re.compile(r"undefined name '([^']+)'")
_EXCEPTION = re.compile(r"(?:Error|Exception|Warning)$")
# Words of a name that say nothing about what it is.
_GENERIC = frozenset({"get", "set", "make", "do", "the", "a", "an", "of", "to", "is", "for"})


@dataclass(frozen=True)
class Meant:
    """A definition of the project that the undefined name may stand for."""

    name: str
    module: str  # dotted, to import it from
    header: str  # `class ShopError(Exception)` / `def money(cents: int) -> str`
    summary: str  # the first line of its docstring

    def describe(self) -> str:
        about = f": {self.summary}" if self.summary else ""
        return f"`{self.name}` (`from {self.module} import {self.name}`; {self.header}{about})"


def undefined_name(message: str) -> str | None:
    match = UNDEFINED.search(message)
    return match.group(1) if match else None


def _scored(request: ActionRequest, name: str) -> list[tuple[float, Meant, ast.AST]]:
    """Every definition of the package that ``name`` may stand for, with its score, best
    first."""
    around = package_files(request.path)
    if around is None:
        return []
    raised = _is_raised(request, name)
    scored: list[tuple[float, Meant, ast.AST]] = []
    for module in filter(None, map(parse_module, around[1])):
        for node in module.tree.body:
            if not isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            if node.name.startswith("_"):
                continue
            score = _score(name, node, raised)
            if score > 0:
                scored.append((score, Meant(node.name, module.name, _header(node),
                                            _summary(node)), node))
    scored.sort(key=lambda entry: -entry[0])
    return scored


def names_meant(request: ActionRequest, name: str, limit: int = MAX_NAMES) -> list[Meant]:
    """The project's definitions that ``name`` (undefined at the request) may stand for, best
    first; none for a file outside a package."""
    return [meant for _, meant, _ in _scored(request, name)[:limit]]


def name_to_use(request: ActionRequest, name: str) -> Meant | None:
    """The one definition of the package that ``name`` surely stands for, if there is one: for
    a name raised or caught, the package's only root exception class (one that derives from
    none of the package's own); for another name, the only definition spelt alike (a typo)."""
    scored = _scored(request, name)
    if _is_raised(request, name):
        classes = [(meant, node) for _, meant, node in scored]
        own = {meant.name for meant, _ in classes}
        roots = [meant for meant, node in classes
                 if not any(_base_name(base) in own for base in node.bases)]  # type: ignore
        return roots[0] if len(roots) == 1 else None
    alike = [meant for score, meant, _ in scored if score > 1.0]
    return alike[0] if len(alike) == 1 else None


def renamed(request: ActionRequest, region: tuple[int, int], name: str,
            meant: Meant) -> str | None:
    """The region's lines (0-based, inclusive) with every use of ``name`` replaced by
    ``meant``'s name, led by the import it needs; None if the source does not tokenize or the
    region never uses the name."""
    start, end = region
    lines = split_lines(request.source)
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(request.source).readline))
    except (tokenize.TokenError, SyntaxError):
        return None
    changed = {n: lines[n] for n in range(start, end + 1)}
    previous = None
    # Right to left within a line, so that the columns of earlier uses still hold.
    uses = []
    for token in tokens:
        if (token.type == tokenize.NAME and token.string == name
                and start <= token.start[0] - 1 <= end
                and not (previous is not None and previous.string == ".")):
            uses.append(token)
        if token.type not in (tokenize.NL, tokenize.COMMENT):
            previous = token
    if not uses:
        return None
    for token in reversed(uses):
        row, column = token.start[0] - 1, token.start[1]
        text = changed[row]
        changed[row] = text[:column] + meant.name + text[column + len(name):]
    return (f"{import_line(request, meant.module, meant.name)}\n"
            + "".join(changed[n] for n in range(start, end + 1)))


def import_line(request: ActionRequest, module: str, name: str) -> str:
    """``from M import N``, relative when the file imports its package's modules that way."""
    here_module, _ = module_name(request.path)
    tree = request.tree
    relative = tree is not None and any(isinstance(node, ast.ImportFrom) and node.level > 0
                                        for node in tree.body)
    if relative and here_module is not None:
        here = here_module.split(".")[:-1]
        there = module.split(".")
        if there[:len(here)] == here:
            return f"from .{'.'.join(there[len(here):])} import {name}"
    return f"from {module} import {name}"


def meant_hint(request: ActionRequest, message: str) -> str:
    """A line for Fix's prompt naming what an undefined name may stand for, or ""."""
    name = undefined_name(message)
    if not name:
        return ""
    try:
        meant = names_meant(request, name)
    except (OSError, ValueError, RecursionError):
        log.warning("Could not read the package around %s for names like %s", request.path,
                    name, exc_info=True)
        return ""
    if not meant:
        return ""
    return (f"`{name}` is defined nowhere. This project defines "
            + ("this, which may be what is meant: " if len(meant) == 1 else
               "these, one of which may be what is meant: ")
            + "; ".join(m.describe() for m in meant)
            + ". Use the project's name (with its import) rather than inventing one.")


def _is_raised(request: ActionRequest, name: str) -> bool:
    """Whether ``name`` reads as an exception: named like one, raised or caught."""
    if _EXCEPTION.search(name):
        return True
    tree = request.tree
    if tree is None:
        return False
    for node in ast.walk(tree):
        if isinstance(node, ast.Raise) and node.exc is not None:
            raised = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
            if isinstance(raised, ast.Name) and raised.id == name:
                return True
        if isinstance(node, ast.ExceptHandler) and node.type is not None:
            caught = node.type.elts if isinstance(node.type, ast.Tuple) else [node.type]
            if any(isinstance(c, ast.Name) and c.id == name for c in caught):
                return True
    return False


def _score(name: str, node: ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef,
           raised: bool) -> float:
    """How likely ``node`` is what ``name`` stands for; 0 when it is not a candidate."""
    is_exception = isinstance(node, ast.ClassDef) and (
        bool(_EXCEPTION.search(node.name))
        or any(_EXCEPTION.search(_base_name(base)) for base in node.bases))
    alike = difflib.SequenceMatcher(None, name.lower(), node.name.lower()).ratio()
    if raised:
        return (1.0 + alike) if is_exception else 0.0
    if is_exception:
        return 0.0
    wanted = _words(name) - _GENERIC
    if not wanted:
        return alike if alike >= SPELT_ALIKE else 0.0
    described = _words(node.name) | _words(ast.get_docstring(node) or "")
    shared = len(wanted & described) / len(wanted)
    if alike >= SPELT_ALIKE:
        return 1.0 + alike
    return shared


def _words(text: str) -> set[str]:
    """Lower-case words of identifiers and prose, a plural's "s" taken off."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", text)
    words = set()
    for word in re.findall(r"[A-Za-z]+", spaced):
        word = word.lower()
        if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
            word = word[:-1]
        words.add(word)
    return words


def _base_name(node: ast.expr) -> str:
    if isinstance(node, ast.Attribute):
        return node.attr
    return node.id if isinstance(node, ast.Name) else ""


def _header(node: ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) -> str:
    if isinstance(node, ast.ClassDef):
        bases = ", ".join(ast.unparse(base) for base in node.bases)
        return f"class {node.name}({bases})" if bases else f"class {node.name}"
    returns = f" -> {ast.unparse(node.returns)}" if node.returns is not None else ""
    return f"def {node.name}({ast.unparse(node.args)}){returns}"


def _summary(node: ast.AST) -> str:
    docstring = ast.get_docstring(node) or ""  # type: ignore[arg-type]
    first = docstring.strip().split("\n\n")[0]
    return " ".join(first.split())[:160]
