"""What the execution ranker runs candidates on: small argument tuples made from a signature's
type hints (edge cases first, every parameter varied at once) and the examples of the
docstring, read with doctest's parser."""

from __future__ import annotations

import ast
import doctest
from collections.abc import Collection

from hearth.core.pipeline.types import FunctionNode

MAX_INPUTS = 8

# A handful of small values per type, edge cases first.
SCALARS: dict[str, list[object]] = {
    "int": [0, 1, -3, 7, 12, 2],
    "float": [0.0, 1.5, -2.25, 3.0, 10.0],
    "str": ["", "a", "Hello World", "héllo ✓", "abba", "a1 b2 c3"],
    "bool": [True, False],
    "bytes": [b"", b"ab", b"\x00\xff"],
    "None": [None],
}
UNTYPED: list[object] = [1, 0, "abc", [1, 2, 3], -2, ""]
SEQUENCES = {"list", "List", "Sequence", "Iterable", "Collection", "MutableSequence",
             "Iterator", "Generator"}
MAPPINGS = {"dict", "Dict", "Mapping", "MutableMapping", "DefaultDict", "OrderedDict"}
SETS = {"set", "Set", "frozenset", "FrozenSet", "AbstractSet", "MutableSet"}


def _base_name(node: ast.expr) -> str:
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Constant) and node.value is None:
        return "None"
    return ""


def _hashable(values: list[object]) -> list[object]:
    kept = []
    for value in values:
        try:
            hash(value)
        except TypeError:
            continue
        kept.append(value)
    return kept or [0, 1, "a"]


def _interleave(groups: list[list[object]]) -> list[object]:
    merged: list[object] = []
    for index in range(max(map(len, groups), default=0)):
        merged += [group[index] for group in groups if index < len(group)]
    return merged


def values_for(annotation: ast.expr | None) -> list[object]:
    """Small example values for a parameter annotated ``annotation`` (None: unannotated)."""
    if annotation is None:
        return list(UNTYPED)
    if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):
        try:
            return values_for(ast.parse(annotation.value, mode="eval").body)
        except SyntaxError:
            return list(UNTYPED)
    if isinstance(annotation, ast.BinOp) and isinstance(annotation.op, ast.BitOr):
        return _interleave([values_for(annotation.left), values_for(annotation.right)])
    name = _base_name(annotation.value if isinstance(annotation, ast.Subscript) else annotation)
    if not isinstance(annotation, ast.Subscript):
        if name in SCALARS:
            return list(SCALARS[name])
        if name in SEQUENCES:
            return [[], [1, 2, 3], ["a", "b"]]
        if name in MAPPINGS:
            return [{}, {"a": 1, "b": 2}]
        if name in SETS:
            return [set(), {1, 2}]
        if name in ("tuple", "Tuple"):
            return [(), (1, 2)]
        return list(UNTYPED)
    inner = annotation.slice
    args = list(inner.elts) if isinstance(inner, ast.Tuple) else [inner]
    if name == "Optional":
        return [None] + values_for(args[0])
    if name == "Union":
        return _interleave([values_for(arg) for arg in args])
    if name in SEQUENCES:
        items = values_for(args[0])
        return [[], items[1:2] or items[:1], items[:3], [items[-1], *items[:3], items[-1]]]
    if name in SETS:
        items = _hashable(values_for(args[0]))
        return [set(), set(items[:1]), set(items[:4])]
    if name in MAPPINGS:
        keys = _hashable(values_for(args[0]))
        values = values_for(args[-1]) if len(args) > 1 else list(UNTYPED)
        return [{}, {keys[0]: values[0]},
                {k: values[(i + 1) % len(values)] for i, k in enumerate(keys[:4])}]
    if name in ("tuple", "Tuple"):
        if len(args) == 2 and isinstance(args[1], ast.Constant) and args[1].value is Ellipsis:
            items = values_for(args[0])
            return [(), tuple(items[:1]), tuple(items[:3])]
        columns = [values_for(arg) for arg in args]
        return [tuple(column[(row + i) % len(column)] for i, column in enumerate(columns))
                for row in range(3)]
    return list(UNTYPED)


# An argument the harness replaces by a stand-in object named after its parameter
# (rank_harness_program.StandIn): ``{STAND_IN: "db"}``.
STAND_IN = "__hearth_stand_in__"
# Annotations that say what a parameter holds: a stand-in would lie about it.
_KNOWN = set(SCALARS) | SEQUENCES | MAPPINGS | SETS | {"tuple", "Tuple", "Optional", "Union"}


def object_parameters(fn: FunctionNode) -> list[str]:
    """The parameters ``fn`` uses as objects (``db.execute(...)``, ``flags.get(name)``)
    without an annotation that says what they hold: those a stand-in can take the place of."""
    used = {node.value.id for node in ast.walk(fn)
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)}
    return [a.arg for a in fn.args.posonlyargs + fn.args.args
            if a.arg in used and a.arg not in ("self", "cls")
            and (a.annotation is None or _base_name(
                a.annotation.value if isinstance(a.annotation, ast.Subscript)
                else a.annotation) not in _KNOWN)]


def inputs_for(fn: FunctionNode, limit: int = MAX_INPUTS,
               stand_ins: Collection[str] = ()) -> list[str]:
    """Up to ``limit`` argument tuples for ``fn``, as Python literals, varying every
    parameter at once (a diagonal through the values, not their product). The parameters
    named in ``stand_ins`` always get a stand-in object (``STAND_IN``)."""
    params = [a for a in fn.args.posonlyargs + fn.args.args if a.arg not in ("self", "cls")]
    required = len(params) - len(fn.args.defaults)
    if fn.args.kwonlyargs and any(d is None for d in fn.args.kw_defaults):
        return []  # required keyword-only arguments: not worth guessing
    columns = [[{STAND_IN: a.arg}] if a.arg in stand_ins else values_for(a.annotation)
               for a in params[:max(required, 0)]]
    if not columns:
        return ["()"]
    rows: list[str] = []
    for row in range(max(limit * 2, max(map(len, columns)))):
        text = repr(tuple(column[(row + i) % len(column)] for i, column in enumerate(columns)))
        if text not in rows:
            rows.append(text)
        if len(rows) >= limit:
            break
    return rows


def doctest_examples(fn: FunctionNode) -> list[list[str | None]]:
    """The examples of ``fn``'s docstring as [source, want, exc_msg] (the user's spec), but
    those marked ``# doctest: +SKIP``: their author says their output is not to be checked."""
    docstring = ast.get_docstring(fn, clean=True)
    if not docstring:
        return []
    try:
        examples = doctest.DocTestParser().get_examples(docstring)
    except ValueError:
        return []
    return [[e.source, e.want, e.exc_msg] for e in examples
            if not e.options.get(doctest.SKIP, False)]
