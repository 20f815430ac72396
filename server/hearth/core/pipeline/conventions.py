"""What the user's package does one way only, as a check on what a candidate writes.

A package that calls a method only inside one short helper of its own, which hands its own
arguments on to it (``db.execute(sql, params)`` only in ``query(db, sql, params)``), has made
that helper its convention: the helper is where the placeholders, the logging or the error
handling live. A candidate that calls the method
directly still works, and every other check passes it, yet the user would not keep it
(bench-memory, docs/BENCHMARKS.md: a Fix of SQL formatted from a parameter answered with
``db.execute(sql, params)`` at full confidence). Such a call is a finding that names the
helper, so that the answer is shown with a reason the user can check and a repair can act on.

Only the package around the file is read (its top folder, as Fix's names are), tests and the
file itself left out: the file being edited is where the convention may be broken already.
Methods of the built-in types are never a convention (a helper that strips text does not make
every ``.strip()`` wrong), a method called anywhere else in the package is none either, and a
call on an imported module or name (``re.finditer``, though funcy calls it only inside
``re_iter``) is the library's, not the data's.
"""

from __future__ import annotations

import ast
import logging
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from hearth.core.pipeline.edited import edited
from hearth.core.pipeline.rank import module_name
from hearth.core.pipeline.scoring import finding
from hearth.core.pipeline.types import ActionRequest, Candidate, Finding

log = logging.getLogger(__name__)

MAX_FILES = 300  # of the package, read for their definitions
MAX_FILE_BYTES = 400_000
MAX_HELPER_STATEMENTS = 12  # longer than this, a function is more than a wrapper
BUILTIN_METHODS = frozenset(
    name for kind in (str, bytes, bytearray, list, dict, set, frozenset, tuple, int, float,
                      complex, object, memoryview, range, slice)
    for name in dir(kind))


@dataclass(frozen=True)
class Module:
    """A module of the package: its dotted name, its file and its tree."""

    name: str
    path: Path
    tree: ast.Module


@dataclass(frozen=True)
class Helper:
    """A public function of the package, the one place that calls ``method`` on a parameter."""

    name: str
    module: str
    method: str

    def describe(self) -> str:
        return f"`{self.name}()` (`from {self.module} import {self.name}`)"


def _is_test(path: Path) -> bool:
    return (path.name.startswith("test_") or path.name.endswith("_test.py")
            or path.name == "conftest.py" or bool({"tests", "test"} & set(path.parts)))


def package_files(path: Path | None) -> tuple[str, list[Path]] | None:
    """The dotted name of the file at ``path`` and the other modules of its top package
    (sorted, at most MAX_FILES, tests left out); None for a file outside a package."""
    module, top = module_name(path)
    if module is None or top is None or path is None:
        return None
    package = top / module.split(".")[0]
    files = [p for p in sorted(package.rglob("*.py"))[:MAX_FILES]
             if p != path and not _is_test(p.relative_to(top))]
    return module, files


def parse_module(path: Path) -> Module | None:
    dotted, _ = module_name(path)
    if dotted is None:
        return None
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            return None
        return Module(dotted, path, ast.parse(path.read_text(encoding="utf-8"), str(path)))
    except (OSError, UnicodeDecodeError, SyntaxError, ValueError, RecursionError):
        return None


def _method_calls(node: ast.AST) -> list[ast.Call]:
    return [call for call in ast.walk(node)
            if isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)]


def _forwards(call: ast.Call, parameters: set[str]) -> bool:
    """Whether ``call`` hands on one of ``parameters`` as an argument (``db.execute(sql,
    params)`` in ``query(db, sql, params)``): what makes a function a wrapper of the method,
    not merely a function that uses it (funcy's ``cache(timeout)`` calls
    ``timeout.total_seconds()``)."""
    values = [*call.args, *(keyword.value for keyword in call.keywords)]
    values = [value.value if isinstance(value, ast.Starred) else value for value in values]
    return any(isinstance(value, ast.Name) and value.id in parameters for value in values)


def helpers_of(modules: list[Module]) -> dict[str, Helper]:
    """The methods the package calls only inside one short public function, on one of its
    parameters and with another of them as an argument, by method name."""
    everywhere: Counter[str] = Counter()
    wrapping: dict[str, set[tuple[str, str]]] = {}
    in_wrappers: Counter[str] = Counter()
    for module in modules:
        for call in _method_calls(module.tree):
            everywhere[call.func.attr] += 1  # type: ignore[attr-defined]
        for node in module.tree.body:
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            if node.name.startswith("_") or len(node.body) > MAX_HELPER_STATEMENTS:
                continue
            arguments = node.args
            parameters = {a.arg for a in (*arguments.posonlyargs, *arguments.args,
                                          *arguments.kwonlyargs)}
            for call in _method_calls(node):
                receiver = call.func.value  # type: ignore[attr-defined]
                if (isinstance(receiver, ast.Name) and receiver.id in parameters
                        and _forwards(call, parameters - {receiver.id})):
                    method = call.func.attr  # type: ignore[attr-defined]
                    wrapping.setdefault(method, set()).add((module.name, node.name))
                    in_wrappers[method] += 1
    found = {}
    for method, wrappers in wrapping.items():
        if (len(wrappers) == 1 and everywhere[method] == in_wrappers[method]
                and method not in BUILTIN_METHODS and not method.startswith("_")):
            (module, name), = wrappers
            found[method] = Helper(name, module, method)
    return found


def _signature(files: list[Path]) -> tuple:
    stamps = []
    for path in files:
        try:
            stat = path.stat()
        except OSError:
            continue
        stamps.append((str(path), stat.st_mtime_ns, stat.st_size))
    return tuple(stamps)


def package_modules(request: ActionRequest) -> list[Module]:
    """The other modules of the package around the request's file, parsed, memoised on its
    analysis context until a file of the package changes."""
    around = package_files(request.path)
    if around is None:
        return []
    _, files = around
    return request.analysis.memo(
        ("modules", _signature(files)),
        lambda: [m for m in map(parse_module, files) if m is not None])


def package_helpers(request: ActionRequest) -> dict[str, Helper]:
    """The package's helpers (``helpers_of``) around the request's file, memoised as its
    modules are."""
    around = package_files(request.path)
    if around is None:
        return {}
    return request.analysis.memo(("helpers", _signature(around[1])),
                                 lambda: helpers_of(package_modules(request)))


def _imported_names(tree: ast.Module) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            names.update(alias.asname or alias.name for alias in node.names)
    return names


def _root_name(node: ast.expr) -> str | None:
    while isinstance(node, (ast.Attribute, ast.Call, ast.Subscript)):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else None


@dataclass(frozen=True)
class HelperCheck:
    """A method the candidate calls directly where its package always goes through a
    helper: ``bypasses-helper``, naming the helper."""

    def __call__(self, request: ActionRequest, candidate: Candidate) -> list[Finding]:
        edit = edited(request, candidate)
        if edit is None:
            return []
        try:
            helpers = package_helpers(request)
        except (OSError, ValueError, RecursionError):
            log.warning("Could not read the package around %s", request.path, exc_info=True)
            return []
        if not helpers:
            return []
        defined = {node.name for node in ast.walk(edit.tree)
                   if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
                   and edit.touches(node)}
        imported = _imported_names(edit.tree)
        bypassed: dict[str, str] = {}
        for call in _method_calls(edit.tree):
            helper = helpers.get(call.func.attr)  # type: ignore[attr-defined]
            if helper is None or helper.name in defined or not edit.touches(call):
                continue
            if _root_name(call.func) in imported:  # `re.finditer`: a module's, not the data's
                continue
            bypassed.setdefault(helper.method, ast.unparse(call.func))
        return [finding("bypasses-helper",
                        f"calls `{called}()` directly, which this package does only inside "
                        f"its helper {helpers[method].describe()}")
                for method, called in bypassed.items()]
