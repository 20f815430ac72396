"""Context that names what the code uses: the signatures and docstrings of the project's own
functions and classes that the target refers to or its module imports, resolved with jedi.

A vector search finds code that looks like the query; a helper the body should call often
does not (``more.py`` importing ``take`` from ``recipes.py``). The model, shown only the stub,
then re-implements the helper or invents one. Naming the imported helpers, each as its header
and the first lines of its docstring, costs a few tokens per name and gives the model the
project's vocabulary. Only definitions inside the workspace are shown: the model knows the
standard library, and third-party code is not the project's vocabulary.
"""

from __future__ import annotations

import ast
import logging
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from hearth.core.analysis.findings import utf8_offset_to_column
from hearth.core.analysis.python_targets import function_at
from hearth.core.memory.retrieve import estimate_tokens
from hearth.core.memory.tokens import identifiers
from hearth.core.pipeline.prompt import ContextSnippet
from hearth.core.pipeline.types import ActionRequest
from hearth.core.text import lines_of

log = logging.getLogger(__name__)

MAX_NAMES = 12
DOC_LINES = 6  # of each docstring: what it does, rarely how


def used_names_context(request: ActionRequest, budget_tokens: int,
                       allowed: Callable[[str], bool] = lambda rel_path: True,
                       ) -> list[ContextSnippet]:
    """Snippets for the project names the request's target uses or its module imports, most
    relevant first, within ``budget_tokens``; none outside Python or a workspace.
    ``allowed(rel_path)``: whether a workspace file may be shown (the index's exclusions)."""
    tree = request.tree
    if (request.language != "python" or tree is None or request.path is None
            or request.workspace is None or budget_tokens <= 0):
        return []
    workspace = request.workspace.resolve()
    imported = _imported_names(tree, workspace)
    if not imported:
        return []
    target = function_at(request.source, request.position, tree)
    focus = ""
    if target is not None:
        lines = lines_of(request.source)
        focus = "\n".join(lines[target.def_line: target.end_line + 1])
    ranked = _ranked(imported, focus, request.source)
    snippets, used = [], 0
    for name in ranked:
        if len(snippets) >= MAX_NAMES:
            break
        line, column = imported[name]
        try:
            found = _describe(request, name, line, column, workspace, allowed)
        except Exception:  # noqa: BLE001 - jedi's inference must never sink a request
            log.debug("jedi could not resolve %s", name, exc_info=True)
            continue
        if found is None:
            continue
        cost = estimate_tokens(found.text)
        if used + cost > budget_tokens:
            continue
        snippets.append(found)
        used += cost
    return snippets


def _imported_names(tree: ast.Module, workspace: Path) -> dict[str, tuple[int, int]]:
    """Each name a ``from ... import`` of the project binds at module level (a relative
    import, or an absolute one whose top package is in the workspace), and where (1-based
    line, column of the imported name, which jedi resolves) to ask about it."""
    found: dict[str, tuple[int, int]] = {}
    for node in tree.body:
        if not isinstance(node, ast.ImportFrom):
            continue
        if node.level == 0 and not _in_project((node.module or "").split(".")[0], workspace):
            continue
        for alias in node.names:
            if alias.name != "*":
                found[alias.asname or alias.name] = (alias.lineno, alias.col_offset)
    return found


def _in_project(package: str, workspace: Path) -> bool:
    return any((base / package).is_dir() or (base / f"{package}.py").is_file()
               for base in (workspace, workspace / "src"))


def _ranked(imported: dict[str, tuple[int, int]], focus: str, source: str) -> list[str]:
    """The names the target mentions first (its docstring, annotations, body), then the ones
    the module uses most; names that are only imported come last."""
    mentions = Counter(word for word in identifiers(focus) if word in imported)
    uses = Counter(word for word in identifiers(source) if word in imported)
    return sorted(imported, key=lambda name: (-mentions[name], -uses[name], name))


def _describe(request: ActionRequest, name: str, line: int, column: int, workspace: Path,
              allowed: Callable[[str], bool]) -> ContextSnippet | None:
    """The header and docstring of what ``name`` (imported at ``line``) is, if the project
    defines it."""
    script = request.analysis.script(request.source, request.path)
    lines = lines_of(request.source)
    text = lines[line - 1] if 0 < line <= len(lines) else ""
    definitions = script.goto(line, utf8_offset_to_column(text, column), follow_imports=True)
    for definition in definitions:
        path = definition.module_path
        if path is None or definition.type not in ("function", "class"):
            continue
        path = Path(path).resolve()
        if not path.is_relative_to(workspace) or path == request.path.resolve():
            continue
        if not allowed(path.relative_to(workspace).as_posix()):
            return None  # excluded from the index: not to be shown either
        header = _header(definition)
        doc = definition.docstring(raw=True).strip().splitlines()[:DOC_LINES]
        body = header + ("\n    \"\"\"" + "\n    ".join(doc) + "\"\"\"" if doc else "") + \
            "\n    ..."
        start = definition.line or 1
        return ContextSnippet(path=str(path.relative_to(workspace)), name=definition.name,
                              start_line=start, end_line=start, text=body)
    return None


def _header(definition) -> str:  # noqa: ANN001 - a jedi Name
    """``def name(params) -> result:`` or ``class Name(params):`` as jedi reads it."""
    signatures = definition.get_signatures()
    keyword = "class" if definition.type == "class" else "def"
    if signatures:
        return f"{keyword} {signatures[0].to_string()}:"
    return f"{keyword} {definition.name}(...):"
