"""The checks every Python candidate gets after its action's own: new flake8 findings, names and
imports that do not exist (hallucinations), wrong call arities, placeholders, trivial bodies,
and, for Fix, edits that stray outside the region asked for.

Each check is a callable ``(ActionRequest, Candidate) -> list[Finding]`` (the engine's
``Validator``); what a finding costs is ``hearth.core.pipeline.scoring``'s table. Only the lines
the candidate wrote are judged: what the user's file already had is not the candidate's fault.
"""

from __future__ import annotations

import ast
import difflib
import doctest
import io
import logging
import re
import sys
import tokenize
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from importlib.machinery import PathFinder
from importlib.util import find_spec
from inspect import Parameter, Signature
from pathlib import Path

from hearth.core.pipeline.types import ActionRequest, Candidate, Finding
from hearth.core.analysis import new_findings, run_flake8
from hearth.core.analysis.findings import Severity, utf8_offset_to_column
from hearth.core.errors import HearthError
from hearth.core.pipeline.scoring import finding

log = logging.getLogger(__name__)

FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef
PLACEHOLDER_COMMENT = re.compile(r"\b(TODO|FIXME|XXX)\b|your code here|implement (this|me)\b",
                                 re.IGNORECASE)
UNDEFINED_NAME = re.compile(r"undefined name '([^']+)'")
MAX_JEDI_QUERIES = 48  # per check and candidate: bounds the time a huge answer can take
SHOWN = 3  # names quoted in one reason


# -- what the candidate wrote -----------------------------------------------------------------
@dataclass(frozen=True)
class Edited:
    """A candidate's new source, parsed, with the lines it wrote (1-based, of the new source)."""

    source: str
    tree: ast.Module
    original: ast.Module | None
    lines: frozenset[int]

    def touches(self, node: ast.AST) -> bool:
        start = getattr(node, "lineno", None)
        if start is None:
            return False
        end = getattr(node, "end_lineno", None) or start
        return any(line in self.lines for line in range(start, end + 1))

    def line_text(self, line: int) -> str:
        lines = self.source.splitlines()
        return lines[line - 1] if 0 < line <= len(lines) else ""

    def column(self, line: int, byte_offset: int) -> int:
        """ast's UTF-8 byte offset as the code-point column jedi expects."""
        return utf8_offset_to_column(self.line_text(line), byte_offset)


def written_lines(original: str, new: str) -> frozenset[int]:
    """The 1-based lines of ``new`` that are not unchanged lines of ``original``."""
    matcher = difflib.SequenceMatcher(None, original.splitlines(), new.splitlines(),
                                      autojunk=False)
    lines: set[int] = set()
    for tag, _, _, j1, j2 in matcher.get_opcodes():
        if tag != "equal":
            lines.update(range(j1 + 1, j2 + 1))
    return frozenset(lines)


def _edited(original: str, new: str) -> Edited | None:
    try:
        tree = ast.parse(new)
    except (SyntaxError, ValueError):
        return None
    try:
        before = ast.parse(original)
    except (SyntaxError, ValueError):
        before = None
    return Edited(new, tree, before, written_lines(original, new))


def edited(request: ActionRequest, candidate: Candidate) -> Edited | None:
    """The parsed candidate, or None when there is nothing Python to check."""
    if request.language != "python" or candidate.new_source is None:
        return None
    new = candidate.new_source
    return request.analysis.memo(("edited", request.source, new),
                                 lambda: _edited(request.source, new))


def quoted_names(nodes: list[str]) -> str:
    shown = ", ".join(f"`{name}`" for name in nodes[:SHOWN])
    return shown + (f" and {len(nodes) - SHOWN} more" if len(nodes) > SHOWN else "")


def _plural(nodes: list[str], one: str, many: str) -> str:
    return one if len(nodes) == 1 else many


# -- jedi (through the request's AnalysisContext, which owns jedi's project and Script) -----
def candidate_path(request: ActionRequest, workspace: Path | None) -> Path:
    """Where jedi is told the code lives (a loose buffer gets a name in the workspace)."""
    return request.path or ((workspace or Path.cwd()) / "hearth_candidate.py")


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


# -- flake8: new findings, undefined names ----------------------------------------------------
def _called_names(tree: ast.Module) -> set[str]:
    return {node.func.id for node in ast.walk(tree)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)}


@dataclass(frozen=True)
class Flake8Check:
    """New flake8 findings compared with the original; undefined names called out as
    hallucinated functions or names."""

    workspace: Path | None = None

    def __call__(self, request: ActionRequest, candidate: Candidate) -> list[Finding]:
        edit = edited(request, candidate)
        if edit is None and candidate.new_source is not None and request.language == "python":
            return [finding("syntax", "the file does not parse after the edit")]
        if edit is None:
            return []
        filename = str(request.path or "hearth_candidate.py")
        try:
            before = request.analysis.memo(
                ("flake8", request.source, filename, self.workspace),
                lambda: run_flake8(request.source, filename, self.workspace))
            added = new_findings(before,
                                 run_flake8(edit.source, filename, self.workspace))
        except HearthError as error:  # the user's flake8 configuration is broken
            log.warning("flake8 could not check a candidate: %s", error)
            return []
        if any(f.code.startswith("E9") for f in added):
            return [finding("syntax", "the file does not parse after the edit")]
        undefined = [m.group(1) for f in added if f.code == "F821"
                     for m in [UNDEFINED_NAME.search(f.message)] if m]
        called = _called_names(edit.tree)
        functions = sorted({name for name in undefined if name in called})
        names = sorted({name for name in undefined if name not in called})
        findings = []
        if functions:
            findings.append(finding("missing-function", f"calls {quoted_names(functions)}, "
                                    f"{_plural(functions, 'which is', 'which are')} defined "
                                    "nowhere (hallucinated?)"))
        if names:
            findings.append(finding("undefined-name", f"uses {quoted_names(names)}, "
                                    f"{_plural(names, 'which is', 'which are')} defined "
                                    "nowhere (hallucinated?)"))
        rest = [f for f in added if f.code != "F821"]
        for rule, picked in (
                ("flake8-error", [f for f in rest if f.severity is Severity.ERROR]),
                ("flake8-warning", [f for f in rest if f.severity is not Severity.ERROR
                                    and f.code.startswith("F")]),
                ("flake8-style", [f for f in rest if f.severity is not Severity.ERROR
                                  and not f.code.startswith("F")])):
            if picked:
                shown = "; ".join(f"{f.code} {f.message} (line {f.line + 1})"
                                  for f in picked[:SHOWN])
                findings.append(finding(rule, f"new flake8 finding(s): {shown}"))
        return findings


# -- imports ----------------------------------------------------------------------------------


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


# -- attributes that do not exist -------------------------------------------------------------
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
                        f"{_plural(unknown, 'which does', 'which do')} not exist "
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


# -- calls with the wrong number of arguments -------------------------------------------------
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


# -- placeholders -----------------------------------------------------------------------------
def _comments(source: str) -> Iterator[tuple[int, str]]:
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.type == tokenize.COMMENT:
                yield token.start[0], token.string
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return


def _is_stub_body(fn: FunctionNode) -> bool:
    body = fn.body[1:] if ast.get_docstring(fn) is not None else fn.body
    if not body:
        return True
    only = body[0] if len(body) == 1 else None
    if isinstance(only, ast.Pass):
        return True
    if isinstance(only, ast.Expr) and isinstance(only.value, ast.Constant):
        return only.value.value is Ellipsis
    if isinstance(only, ast.Raise) and only.exc is not None:
        exc = only.exc.func if isinstance(only.exc, ast.Call) else only.exc
        return isinstance(exc, ast.Name) and exc.id == "NotImplementedError"
    return False


def _abstract(fn: FunctionNode) -> bool:
    return any("abstract" in ast.unparse(d) or "overload" in ast.unparse(d)
               for d in fn.decorator_list)


@dataclass(frozen=True)
class PlaceholderCheck:
    """TODO/FIXME comments and stub functions (pass, ..., NotImplementedError) that the
    candidate wrote. Text in strings is left alone: a string may legitimately say TODO."""

    def __call__(self, request: ActionRequest, candidate: Candidate) -> list[Finding]:
        edit = edited(request, candidate)
        if edit is None or any(f.rule == "placeholder" for f in candidate.findings):
            return []
        old = Counter(text.strip() for _, text in _comments(request.source)
                      if PLACEHOLDER_COMMENT.search(text))
        found = []
        for line, text in _comments(edit.source):
            if line in edit.lines and PLACEHOLDER_COMMENT.search(text):
                if old[text.strip()] > 0:
                    old[text.strip()] -= 1
                else:
                    found.append(text.strip())
        protocol = {id(fn) for cls in ast.walk(edit.tree) if isinstance(cls, ast.ClassDef)
                    and any(ast.unparse(b).endswith("Protocol") for b in cls.bases)
                    for fn in cls.body}
        stubs = [fn.name for fn in ast.walk(edit.tree)
                 if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef))
                 and any(stmt.lineno in edit.lines for stmt in fn.body)
                 and _is_stub_body(fn) and not _abstract(fn) and id(fn) not in protocol]
        findings = []
        if found:
            findings.append(finding("placeholder", f"leaves a placeholder comment: {found[0]}"))
        if stubs and not found:
            findings.append(finding("placeholder", f"leaves {quoted_names(stubs)} as a stub "
                                    "(pass, ... or NotImplementedError)"))
        return findings


# -- trivial bodies ---------------------------------------------------------------------------
def _parameters(fn: FunctionNode) -> list[str]:
    args = fn.args
    names = [a.arg for a in args.posonlyargs + args.args + args.kwonlyargs]
    names += [a.arg for a in (args.vararg, args.kwarg) if a is not None]
    return [n for n in names if n not in ("self", "cls")]


def _trivial_return(fn: FunctionNode) -> ast.Return | None:
    """The function's only statement (docstring aside), if it returns a constant, an empty
    container or one of its own parameters unchanged."""
    body = fn.body[1:] if ast.get_docstring(fn) is not None else fn.body
    if len(body) != 1 or not isinstance(body[0], ast.Return):
        return None
    value = body[0].value
    if value is None or isinstance(value, ast.Constant):
        return body[0]
    if isinstance(value, (ast.List, ast.Tuple, ast.Set)) and not value.elts:
        return body[0]
    if isinstance(value, ast.Dict) and not value.keys:
        return body[0]
    if isinstance(value, ast.Name) and value.id in _parameters(fn):
        return body[0]
    return None


def _what_it_returns(fn: FunctionNode, returned: ast.expr | None, call: ast.Call) -> object:
    """What the trivial body returns for ``call`` (a literal), or raises ValueError."""
    if returned is None:
        return None
    if isinstance(returned, ast.Name):
        bound = Signature([Parameter(n, Parameter.POSITIONAL_OR_KEYWORD)
                           for n in [a.arg for a in fn.args.posonlyargs + fn.args.args]
                           if n not in ("self", "cls")])
        arguments = bound.bind_partial(*call.args, **{k.arg: k.value for k in call.keywords
                                                      if k.arg}).arguments
        if returned.id not in arguments:
            raise ValueError(returned.id)
        return ast.literal_eval(arguments[returned.id])
    return ast.literal_eval(returned)


def contradicting_example(fn: FunctionNode) -> str | None:
    """A docstring example of ``fn`` whose expected output a trivial body would not give."""
    returned = _trivial_return(fn)
    docstring = ast.get_docstring(fn, clean=True)
    if returned is None or not docstring:
        return None
    try:
        examples = doctest.DocTestParser().get_examples(docstring)
    except ValueError:
        return None
    for example in examples:
        try:
            call = ast.parse(example.source.strip(), mode="eval").body
            expected = ast.literal_eval(example.want.strip()) if example.want.strip() else None
        except (SyntaxError, ValueError):
            continue
        if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name)
                and call.func.id == fn.name):
            continue
        try:
            got = _what_it_returns(fn, returned.value, call)
        except (ValueError, TypeError, SyntaxError):
            continue
        if got != expected or type(got) is not type(expected):
            return example.source.strip()
    return None


@dataclass(frozen=True)
class TrivialBodyCheck:
    """A body that only returns a constant or an argument unchanged: fatal when the
    docstring's own examples expect something else; a penalty when it ignores every
    parameter (a constant for all inputs is rarely what a documented function means)."""

    def __call__(self, request: ActionRequest, candidate: Candidate) -> list[Finding]:
        edit = edited(request, candidate)
        if edit is None:
            return []
        findings = []
        for fn in ast.walk(edit.tree):
            if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)) or not any(
                    stmt.lineno in edit.lines for stmt in fn.body):
                continue
            returned = _trivial_return(fn)
            if returned is None:
                continue
            shown = ast.unparse(returned)
            example = contradicting_example(fn)
            if example is not None:
                findings.append(finding("trivial-body", f"`{fn.name}` only does `{shown}`, "
                                        f"but its docstring's example `{example}` expects "
                                        "otherwise"))
            elif (not isinstance(returned.value, ast.Name) and _parameters(fn)
                  and not _abstract(fn)):
                findings.append(finding("ignores-parameters", f"`{fn.name}` only does "
                                        f"`{shown}`, whatever its arguments"))
        return findings


# -- Fix: stay in the region ------------------------------------------------------------------
def functions_by_name(tree: ast.Module) -> dict[str, list[FunctionNode]]:
    found: dict[str, list[FunctionNode]] = {}

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                found.setdefault(prefix + child.name, []).append(child)
                visit(child, f"{prefix}{child.name}.")
            elif isinstance(child, ast.ClassDef):
                visit(child, f"{prefix}{child.name}.")
            else:
                visit(child, prefix)

    visit(tree, "")
    return found
