"""The docstring's own examples again, with every argument of a parameter documented as an
iterable handed over as a one-shot iterator (``spy(iter('abcdefg'))``): a function that takes
an iterable must give the same answers for an iterator as for a list or a string.

Examples written with lists and strings pass implementations that only work on sequences, or
that read their input twice: more-itertools' ``spy`` answered ``head = list(islice(iterable,
n)); return head, iter(iterable)``, which passes all 13 of its docstring's examples and loses
the first items of any iterator (quality corpus, dev). The same examples with ``iter(...)``
around the iterable catch it, with the user's own expected outputs.

Which parameters: one named ``iterable`` or ``iterables``, or named ``seq``, ``seqs``,
``coll`` or ``items`` in a function whose docstring says "iterable" or "iterator". Only the
calls of the function itself are rewritten; the rest of each example runs as written.
"""

from __future__ import annotations

import ast
import re

from hearth.core.pipeline.types import FunctionNode

ALWAYS = frozenset({"iterable", "iterables"})
IF_DOCUMENTED = frozenset({"seq", "seqs", "coll", "items"})
DOCUMENTED = re.compile(r"\biter(?:able|ator)s?\b", re.IGNORECASE)


def iterable_parameters(fn: FunctionNode) -> list[str]:
    """The parameters of ``fn`` that take an iterable, by the rules above."""
    arguments = fn.args
    names = [a.arg for a in (*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs)]
    documented = bool(DOCUMENTED.search(ast.get_docstring(fn) or ""))
    return [name for name in names
            if name in ALWAYS or (documented and name in IF_DOCUMENTED)]


class _Wrap(ast.NodeTransformer):
    """Calls of ``name`` with the iterable arguments wrapped in ``iter(...)``."""

    def __init__(self, fn: FunctionNode, wanted: list[str]) -> None:
        arguments = fn.args
        self.name = fn.name
        self.positional = [a.arg for a in (*arguments.posonlyargs, *arguments.args)]
        self.wanted = set(wanted)
        self.wrapped = 0

    def visit_Call(self, node: ast.Call) -> ast.AST:  # noqa: N802 - ast's name
        self.generic_visit(node)
        if not (isinstance(node.func, ast.Name) and node.func.id == self.name):
            return node
        for index, argument in enumerate(node.args):
            if isinstance(argument, ast.Starred):
                break
            if index < len(self.positional) and self.positional[index] in self.wanted:
                node.args[index] = self._iter(argument)
        for keyword in node.keywords:
            if keyword.arg in self.wanted:
                keyword.value = self._iter(keyword.value)
        return node

    def _iter(self, value: ast.expr) -> ast.expr:
        self.wrapped += 1
        return ast.Call(ast.Name("iter", ast.Load()), [value], [])


def iterator_variant(fn: FunctionNode, examples: list[list[str | None]]
                     ) -> list[list[str | None]]:
    """``examples`` ([source, want, exc_msg], as doctest_examples gives them) with the
    iterable arguments of ``fn``'s calls made iterators; [] when no call changes."""
    wanted = iterable_parameters(fn)
    if not wanted:
        return []
    variant, changed = [], False
    for source, want, exc_msg in examples:
        try:
            tree = ast.parse(source or "")
        except SyntaxError:
            variant.append([source, want, exc_msg])
            continue
        wrap = _Wrap(fn, wanted)
        tree = ast.fix_missing_locations(wrap.visit(tree))
        if wrap.wrapped:
            changed = True
            variant.append([ast.unparse(tree) + "\n", want, exc_msg])
        else:
            variant.append([source, want, exc_msg])
    return variant if changed else []
