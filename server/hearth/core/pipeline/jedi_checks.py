"""The checks that resolve the candidate's names against the workspace's environment, through
the request's AnalysisContext (which owns jedi's project, its Script and the search path): new
imports of modules that do not exist, attributes that do not exist, calls with the wrong number
of arguments. jedi failing never sinks a candidate: the check then finds nothing."""

from __future__ import annotations

import ast
import logging
import re
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from importlib.machinery import PathFinder
from importlib.util import find_spec
from inspect import Parameter, Signature
from pathlib import Path

from hearth.core.pipeline.edited import SHOWN, Edited, candidate_path, edited, plural, quoted_names
from hearth.core.pipeline.scoring import finding
from hearth.core.pipeline.types import ActionRequest, Candidate, Finding

log = logging.getLogger(__name__)

MAX_JEDI_QUERIES = 48  # per check and candidate: bounds the time a huge answer can take


def _script(request: ActionRequest, edit: Edited, workspace: Path | None):
    return request.analysis.script(edit.source, candidate_path(request, workspace))


def _with_jedi(request: ActionRequest, candidate: Candidate,
               problems: Callable[[ActionRequest, Edited], Iterable[str]]) -> list[str]:
    """The distinct problems a jedi-based check finds; none if jedi itself fails."""
    edit = edited(request, candidate)
    if edit is None:
        return []
    try:
        return list(dict.fromkeys(problems(request, edit)))
    except Exception:  # noqa: BLE001 - jedi's inference must never sink a candidate
        log.warning("jedi failed while checking a candidate", exc_info=True)
        return []


def module_exists(name: str, search_path: tuple[str, ...]) -> bool:
    """Whether ``import name`` would find a module, without running the project's code.

    The standard library is asked through importlib (importing at most its own parent
    packages, such as ``os`` for ``os.path``); anything else is looked up on ``search_path``
    with PathFinder, package by package, so no ``__init__`` of the project or its
    dependencies runs inside the server.
    """
    top, *rest = name.split(".")
    if top in sys.builtin_module_names or top in sys.stdlib_module_names:
        try:
            return find_spec(name) is not None
        except (ImportError, ValueError):
            return False
    spec = PathFinder.find_spec(top, list(search_path))
    for part in rest:
        if spec is None or not spec.submodule_search_locations:
            return False
        spec = PathFinder.find_spec(part, list(spec.submodule_search_locations))
    return spec is not None


def _relative_base(path: Path | None, level: int) -> Path | None:
    if path is None:
        return None
    base = path.parent
    for _ in range(level - 1):
        base = base.parent
    return base


@dataclass(frozen=True)
class ImportCheck:
    """New imports of modules the workspace's environment does not have."""

    workspace: Path | None = None

    def __call__(self, request: ActionRequest, candidate: Candidate) -> list[Finding]:
        edit = edited(request, candidate)
        if edit is None:
            return []
        missing = [name for name in self._new_modules(request, edit)
                   if not self._resolves(name, request)]
        if not missing:
            return []
        return [finding("unresolved-import", f"imports {quoted_names(missing)}, which the "
                        "workspace's Python environment does not have")]

    @staticmethod
    def _new_modules(request: ActionRequest, edit: Edited) -> list[str]:
        def modules(tree: ast.AST | None, only_written: bool) -> list[str]:
            found = []
            for node in ast.walk(tree) if tree is not None else ():
                if only_written and not edit.touches(node):
                    continue
                if isinstance(node, ast.Import):
                    found += [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.module:
                    found.append("." * node.level + node.module)
            return found

        old = set(modules(edit.original, False))
        return list(dict.fromkeys(m for m in modules(edit.tree, True) if m not in old))

    def _resolves(self, name: str, request: ActionRequest) -> bool:
        level = len(name) - len(name.lstrip("."))
        if level:
            base = _relative_base(request.path, level)
            return True if base is None else module_exists(name[level:], (str(base),))
        return module_exists(name, request.analysis.search_path())


def _dotted(node: ast.expr) -> bool:
    while isinstance(node, ast.Attribute):
        node = node.value
    return isinstance(node, ast.Name)


@dataclass(frozen=True)
class AttributeCheck:
    """``os.path.joinx``, ``math.sqr``, ``text.uppercase()``: attributes that a module, a class
    or a built-in type jedi resolves does not have; also ``from module import missing``."""

    workspace: Path | None = None

    def __call__(self, request: ActionRequest, candidate: Candidate) -> list[Finding]:
        unknown = _with_jedi(request, candidate, self._unknown)
        if not unknown:
            return []
        return [finding("unknown-attribute", f"uses {quoted_names(unknown)}, "
                        f"{plural(unknown, 'which does', 'which do')} not exist "
                        "(hallucinated?)")]

    def _unknown(self, request: ActionRequest, edit: Edited) -> Iterator[str]:
        script = None
        seen: set[str] = set()
        queries = 0
        for parent_at, name_at, shown in self._accesses(edit):
            if shown in seen or queries >= MAX_JEDI_QUERIES:
                continue
            seen.add(shown)
            queries += 1
            script = script or _script(request, edit, self.workspace)
            parents = script.infer(*parent_at)
            if not parents or not all(self._closed(p) for p in parents):
                continue
            if not script.goto(*name_at) and not script.infer(*name_at):
                yield shown

    def _accesses(self, edit: Edited) -> Iterator[tuple[tuple[int, int], tuple[int, int], str]]:
        """(where the owner is, where the name is, how to show it) for each access written."""
        for node in ast.walk(edit.tree):
            if (isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Load)
                    and _dotted(node.value) and edit.touches(node)
                    and node.end_lineno == node.value.end_lineno):
                owner = (node.value.end_lineno,
                         edit.column(node.value.end_lineno, node.value.end_col_offset) - 1)
                name_col = edit.column(node.end_lineno, node.end_col_offset) - len(node.attr)
                yield owner, (node.end_lineno, name_col), ast.unparse(node)
            elif (isinstance(node, ast.ImportFrom) and node.module and not node.level
                  and edit.touches(node)):
                match = re.match(r"\s*from\s+([\w.]+)", edit.line_text(node.lineno))
                if not match:
                    continue
                owner = (node.lineno, match.end(1) - 1)
                for alias in node.names:
                    if alias.name != "*" and alias.lineno is not None:
                        at = (alias.lineno, edit.column(alias.lineno, alias.col_offset))
                        yield owner, at, f"{node.module}.{alias.name}"

    @staticmethod
    def _closed(definition) -> bool:  # noqa: ANN001 - a jedi Name
        """True for owners whose attributes jedi knows in full: modules (without a PEP 562
        ``__getattr__``), classes, and instances of built-in types."""
        if definition.type == "module":
            return not any(n.name == "__getattr__" for n in definition.defined_names())
        if definition.type == "class":
            return True
        return definition.type == "instance" and definition.module_name == "builtins"


def _has_default(param) -> bool:  # noqa: ANN001 - a jedi ParamName
    try:
        parsed = ast.parse(f"def _({param.to_string()}): pass").body[0]
    except SyntaxError:
        return True  # unreadable: assume the lenient answer
    assert isinstance(parsed, ast.FunctionDef)
    return bool(parsed.args.defaults or any(parsed.args.kw_defaults))


def _signature(jedi_signature) -> Signature | None:  # noqa: ANN001
    try:
        return Signature([
            Parameter(p.name, p.kind, default=None if _has_default(p) else Parameter.empty)
            for p in jedi_signature.params])
    except (ValueError, TypeError):
        return None


@dataclass(frozen=True)
class ArityCheck:
    """Calls to the project's own functions with arguments their signatures do not accept."""

    workspace: Path | None = None

    def __call__(self, request: ActionRequest, candidate: Candidate) -> list[Finding]:
        problems = _with_jedi(request, candidate, self._problems)
        if not problems:
            return []
        return [finding("wrong-arity", "; ".join(problems[:SHOWN]))]

    def _problems(self, request: ActionRequest, edit: Edited) -> Iterator[str]:
        script = None
        for queries, node in enumerate(n for n in ast.walk(edit.tree) if self._checkable(n, edit)):
            if queries >= MAX_JEDI_QUERIES:
                return
            script = script or _script(request, edit, self.workspace)
            line = node.func.end_lineno
            col = edit.column(line, node.func.end_col_offset) + 1  # just inside the "("
            try:
                found = script.get_signatures(line, col)
            except ValueError:  # parso: a position it cannot place (odd layouts); skip it
                continue
            signatures = [s for s in found
                          if s.type == "function" and self._in_project(s.module_path, request)]
            if not signatures:
                continue
            arguments = ([object()] * len(node.args), {k.arg: None for k in node.keywords})
            errors = []
            for jedi_signature in signatures:
                signature = _signature(jedi_signature)
                if signature is None:
                    break
                try:
                    signature.bind(*arguments[0], **arguments[1])
                    break
                except TypeError as error:
                    errors.append(str(error))
            else:
                call = ast.unparse(node)
                call = call if len(call) <= 60 else ast.unparse(node.func) + "(...)"
                yield f"`{call}` does not match the signature: {errors[0]}"

    @staticmethod
    def _checkable(node: ast.AST, edit: Edited) -> bool:
        return (isinstance(node, ast.Call) and isinstance(node.func, (ast.Name, ast.Attribute))
                and _dotted(node.func) and edit.touches(node)
                and not any(isinstance(a, ast.Starred) for a in node.args)
                and all(k.arg is not None for k in node.keywords))

    def _in_project(self, module_path: Path | None, request: ActionRequest) -> bool:
        if module_path is None:
            return False
        if request.path is not None and Path(module_path) == request.path:
            return True
        root = self.workspace or (request.path.parent if request.path else None)
        if root is None:
            return Path(module_path).name == "hearth_candidate.py"
        try:
            relative = Path(module_path).resolve().relative_to(root.resolve())
        except ValueError:
            return False
        return not any(part in ("site-packages", ".venv", "venv", ".tox") or
                       part.startswith(".") for part in relative.parts[:-1])
