"""The checks every Python candidate gets after its action's own that read its code alone: new
flake8 findings (undefined names among them, as hallucinations), placeholders and trivial
bodies. The checks that resolve names against the environment are pipeline.jedi_checks; what a
candidate wrote is pipeline.edited.

Each check is a callable ``(ActionRequest, Candidate) -> list[Finding]`` (the engine's
``Validator``); what a finding costs is ``hearth.core.pipeline.scoring``'s table. Only the lines
the candidate wrote are judged: what the user's file already had is not the candidate's fault.
"""

from __future__ import annotations

import ast
import doctest
import io
import logging
import re
import tokenize
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from inspect import Parameter, Signature
from pathlib import Path

from hearth.core.analysis import new_findings, run_flake8
from hearth.core.analysis.findings import Severity
from hearth.core.errors import HearthError
from hearth.core.pipeline.edited import SHOWN, edited, plural, quoted_names
from hearth.core.pipeline.scoring import finding
from hearth.core.pipeline.types import ActionRequest, Candidate, Finding, FunctionNode

log = logging.getLogger(__name__)

PLACEHOLDER_COMMENT = re.compile(r"\b(TODO|FIXME|XXX)\b|your code here|implement (this|me)\b",
                                 re.IGNORECASE)
UNDEFINED_NAME = re.compile(r"undefined name '([^']+)'")


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
                                    f"{plural(functions, 'which is', 'which are')} defined "
                                    "nowhere (hallucinated?)"))
        if names:
            findings.append(finding("undefined-name", f"uses {quoted_names(names)}, "
                                    f"{plural(names, 'which is', 'which are')} defined "
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
