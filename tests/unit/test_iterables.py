"""The docstring's examples with their iterables passed as iterators (pipeline/iterables.py):
which parameters count, how the calls are rewritten, and the ranker's ``iterator-failed`` for
an answer that passes the examples as written but loses items of an iterator."""

from __future__ import annotations

import ast
from pathlib import Path

from hearth.core.pipeline.inputs import doctest_examples
from hearth.core.pipeline.iterables import iterable_parameters, iterator_variant
from hearth.core.pipeline.rank import default_ranker
from hearth.core.pipeline.types import ActionRequest, Candidate
from hearth.core.text import Pos

SPY = '''from itertools import chain, islice


def spy(iterable, n=1):
    """The first *n* items of *iterable* as a list, and an iterator over all of them.

    >>> head, rest = spy('abc')
    >>> head
    ['a']
    >>> list(rest)
    ['a', 'b', 'c']
    """
    pass
'''
LOSES = ("    head = list(islice(iterable, n))\n"
         "    return head, iter(iterable)\n")  # an iterator's first items are gone
KEEPS = ("    iterator = iter(iterable)\n"
         "    head = list(islice(iterator, n))\n"
         "    return head, chain(head, iterator)\n")


def fn_of(source: str) -> ast.FunctionDef:
    return next(n for n in ast.parse(source).body if isinstance(n, ast.FunctionDef))


def test_which_parameters_take_an_iterable() -> None:
    assert iterable_parameters(fn_of(SPY)) == ["iterable"]
    documented = 'def f(seq, key):\n    """Group the items of an iterable by key."""\n'
    assert iterable_parameters(fn_of(documented)) == ["seq"]
    undocumented = 'def f(seq, key):\n    """Group seq by key."""\n'
    assert iterable_parameters(fn_of(undocumented)) == []


def test_only_the_function_s_own_calls_change() -> None:
    fn = fn_of(SPY)
    variant = iterator_variant(fn, doctest_examples(fn))
    assert [source for source, _, _ in variant] == [
        "head, rest = spy(iter('abc'))\n", "head\n", "list(rest)\n"]
    assert [want for _, want, _ in variant] == ["", "['a']\n", "['a', 'b', 'c']\n"]
    keyword = [["spy(n=2, iterable=[1, 2, 3])\n", "x\n", None], ["len('abc')\n", "3\n", None]]
    assert iterator_variant(fn, keyword)[0][0] == "spy(n=2, iterable=iter([1, 2, 3]))\n"
    assert iterator_variant(fn, keyword[1:]) == []  # nothing to rewrite: no variant


def run(tmp_path: Path, body: str) -> Candidate:
    path = tmp_path / "look.py"
    path.write_text(SPY, encoding="utf-8")
    request = ActionRequest(SPY, Pos(SPY.count("\n") - 2, 4), path=path, workspace=tmp_path)
    candidate = Candidate(None, new_source=SPY.replace("    pass\n", body), function="spy")
    default_ranker(tmp_path)(request, [candidate])
    return candidate


def test_an_answer_that_loses_an_iterator_s_items_is_caught(tmp_path: Path) -> None:
    loses = run(tmp_path, LOSES)
    assert [f.rule for f in loses.findings] == ["iterator-failed"]
    assert loses.findings[0].reason == ("takes an iterable, yet with one passed as an iterator "
                                        "(`head, rest = spy(iter('abc'))`) its docstring's example "
                                        "`list(rest)` fails (1 of 3)")
    assert loses.evidence[0] == "passes the 3 examples its docstring gives"
    keeps = run(tmp_path, KEEPS)
    assert keeps.findings == [] and keeps.confidence == 1.0


def test_a_fix_is_not_held_to_it(tmp_path: Path) -> None:
    # A Fix rewrites a region and keeps what the function did, iterators and all: a function
    # that already lost an iterator's items is not the fix's doing.
    path = tmp_path / "look.py"
    path.write_text(SPY, encoding="utf-8")
    request = ActionRequest(SPY, Pos(SPY.count("\n") - 2, 4), path=path, workspace=tmp_path)
    fixed = Candidate(None, new_source=SPY.replace("    pass\n", LOSES), region=(12, 12))
    default_ranker(tmp_path)(request, [fixed])
    assert "iterator-failed" not in {f.rule for f in fixed.findings}
