"""What a signature promises, checked on the candidates' runs: the return type it annotates,
and no exception on every well-typed input when the docstring mentions none.

Both read the results the ranker's harness already recorded for the generated inputs (each a
normal form such as ``int:3``, ``str:'a'``, ``list[...]``, ``None``, ``raise TypeError``), so
they cost nothing to run. Only builtin types are judged: a custom class, ``Iterator`` or
``Any`` promises nothing this can check.
"""

from __future__ import annotations

import ast
import re

from hearth.core.pipeline.types import FunctionNode

# The normal forms (rank_harness_program.normal) a value of each annotated type takes.
FORMS: dict[str, tuple[str, ...]] = {
    "int": ("int:",), "float": ("f:", "int:"), "complex": ("complex", "f:", "int:"),
    "str": ("str:",), "bytes": ("bytes:",), "bool": ("True", "False"),
    "list": ("list[",), "List": ("list[",), "tuple": ("tuple[",), "Tuple": ("tuple[",),
    "dict": ("dict{",), "Dict": ("dict{",), "set": ("set{",), "Set": ("set{",),
    "frozenset": ("set{",), "FrozenSet": ("set{",), "None": ("None",),
}
# Parameter types whose generated values are valid inputs (inputs.values_for makes them).
WELL_TYPED = frozenset(FORMS) - {"None", "complex"}


def expected_forms(annotation: ast.expr | None) -> tuple[str, ...] | None:
    """The normal forms a result of ``annotation`` may take; None when it cannot be told."""
    if annotation is None:
        return None
    if isinstance(annotation, ast.Constant):
        if annotation.value is None:
            return FORMS["None"]
        if isinstance(annotation.value, str):
            try:
                return expected_forms(ast.parse(annotation.value, mode="eval").body)
            except SyntaxError:
                return None
        return None
    if isinstance(annotation, ast.BinOp) and isinstance(annotation.op, ast.BitOr):
        left, right = expected_forms(annotation.left), expected_forms(annotation.right)
        return left + right if left is not None and right is not None else None
    if isinstance(annotation, ast.Subscript):
        name = _name(annotation.value)
        inner = annotation.slice
        args = list(inner.elts) if isinstance(inner, ast.Tuple) else [inner]
        if name == "Optional":
            forms = expected_forms(args[0])
            return forms + FORMS["None"] if forms is not None else None
        if name == "Union":
            parts = [expected_forms(arg) for arg in args]
            return None if any(p is None for p in parts) else sum(parts, ())  # type: ignore
        return FORMS.get(name)
    return FORMS.get(_name(annotation))


def _name(node: ast.expr) -> str:
    if isinstance(node, ast.Attribute):
        return node.attr
    return node.id if isinstance(node, ast.Name) else ""


def wrong_return(fn: FunctionNode, calls: tuple[str, ...]) -> tuple[int, int, str]:
    """How many of the calls that returned gave another type than annotated, of how many,
    and the first such result (0, n, "" when the annotation promises nothing checkable)."""
    forms = expected_forms(fn.returns)
    returned = [call for call in calls if not call.startswith("raise ")]
    if forms is None:
        return 0, len(returned), ""
    wrong = [call for call in returned if not call.startswith(forms)]
    return len(wrong), len(returned), wrong[0] if wrong else ""


def raises_on_valid_inputs(fn: FunctionNode, calls: tuple[str, ...]) -> str | None:
    """The exception every generated call raised, when every parameter is of a builtin type
    (so the inputs were valid) and the docstring mentions no exception; else None."""
    params = [a for a in fn.args.posonlyargs + fn.args.args if a.arg not in ("self", "cls")]
    if len(calls) < 2 or not params:
        return None
    if not all(_name(a.annotation.value if isinstance(a.annotation, ast.Subscript)
                     else a.annotation) in WELL_TYPED for a in params if a.annotation is not None):
        return None
    if any(a.annotation is None for a in params):
        return None
    docstring = ast.get_docstring(fn) or ""
    if re.search(r"\braise|\bexception\b|\berror\b", docstring, re.IGNORECASE):
        return None
    if all(call.startswith("raise ") for call in calls) and "raise Timeout" not in calls:
        return calls[0][len("raise "):]
    return None
