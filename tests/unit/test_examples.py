"""The examples a docstring gives in prose, mined as checks: each form it reads, and prose that
must not be mistaken for an example (a wrong check would count against correct answers)."""

from __future__ import annotations

import ast

import pytest

from hearth.core.pipeline.examples import examples_from_docstring


def mined(source: str) -> list[tuple[str, str | None, str | None]]:
    fn = ast.parse(source).body[0]
    assert isinstance(fn, ast.FunctionDef)
    return [(e.call, e.expect, e.raises) for e in examples_from_docstring(fn)]


def test_a_call_with_an_arrow_or_a_verb_and_a_literal() -> None:
    assert mined('''def first_vowel(s: str) -> str:
    """The first vowel, e.g. first_vowel('xbac') -> 'a'; first_vowel("oak") returns 'o'.

    first_vowel('abc') == 'a' and first_vowel([]) raises TypeError.
    """''') == [("first_vowel('xbac')", "'a'", None), ("first_vowel('oak')", "'o'", None),
                ("first_vowel('abc')", "'a'", None), ("first_vowel([])", None, "TypeError")]


def test_should_and_must_as_a_user_writes_them_in_a_note() -> None:
    assert mined('''def parse_email(text: str) -> str:
    """parse_email(' A@B.com ') should be 'a@b.com'; parse_email('x@y') must return 'x@y',
    and parse_email('ab.com') should raise ValueError. The result should be lower case.
    """''') == [("parse_email(' A@B.com ')", "'a@b.com'", None),
                ("parse_email('x@y')", "'x@y'", None),
                ("parse_email('ab.com')", None, "ValueError")]


def test_a_bare_arrow_fills_the_arguments() -> None:
    assert mined('''def initials(name: str) -> str:
    """Initials of a name.

    'Ada Lovelace' -> 'AL'
    - `'grace hopper'` -> `'GH'`
    """''') == [("initials('Ada Lovelace')", "'AL'", None),
                ("initials('grace hopper')", "'GH'", None)]
    assert mined('''def clamp(x, lo, hi=None):
    """Clamp.

    * (5, 0, 3) -> 3
    * (5, 0) -> 5
    """''') == [("clamp(5, 0, 3)", "3", None), ("clamp(5, 0)", "5", None)]
    # One required argument: the tuple is that argument.
    assert mined('''def total(pair, scale=1):
    """(1, 2) -> 3"""''') == [("total((1, 2))", "3", None)]


def test_an_arrow_inside_a_sentence_after_a_colon_or_e_g() -> None:
    assert mined('''def first_vowel(s: str) -> str:
    """The first vowel of s: 'xbac' -> 'a', 'oak' -> 'o'; e.g. `"yes"` -> `'e'`."""''') == [
        ("first_vowel('xbac')", "'a'", None), ("first_vowel('oak')", "'o'", None),
        ("first_vowel('yes')", "'e'", None)]
    # After an ordinary word an arrow is a range or a mapping, not an example.
    assert mined('''def count(n: int) -> int:
    """Counts from 0 -> 10 and maps 1 -> 2 in the table."""''') == []


@pytest.mark.parametrize(("sentence", "call"), [
    ("Raises ValueError on an empty list.", "mean([])"),
    ("raise ValueError if the list is empty", "mean([])"),
    ("Raises `ValueError` for None.", "mean(None)"),
    ("It raises a TypeError when given 'abc'.", "mean('abc')"),
])
def test_raises_in_words(sentence: str, call: str) -> None:
    error = sentence.split("`")[1] if "`" in sentence else (
        "TypeError" if "TypeError" in sentence else "ValueError")
    assert mined(f'''def mean(xs):
    """The mean of xs. {sentence}"""''') == [(call, None, error)]


def test_the_annotation_decides_what_empty_means() -> None:
    assert mined('''def shout(text: str) -> str:
    """Upper case. Raises ValueError if text is empty; returns 'X' for 'x'."""''') == [
        ("shout('')", None, "ValueError"), ("shout('x')", "'X'", None)]
    # "an empty input" of no annotated type could be anything: not a check.
    assert mined('''def first(items):
    """Raises ValueError on an empty input."""''') == []
    # The sentence says list, the annotation says str: not a check.
    assert mined('''def first(items: str):
    """Raises ValueError on an empty list."""''') == []


def test_returns_for_and_numbers_in_words() -> None:
    assert mined('''def safe_sqrt(n: float) -> float | None:
    """Square root. Returns None if n is negative, returns 0.0 for zero."""''') == [
        ("safe_sqrt(-1)", "None", None), ("safe_sqrt(0)", "0.0", None)]


def test_tables_of_inputs_and_outputs() -> None:
    assert mined('''def is_palindrome(s: str) -> bool:
    """Whether s reads the same backwards.

    ======  ======
    input   output
    ======  ======
    'aba'   True
    'ab'    False
    ======  ======

    | s | result |
    |---|--------|
    | 'x' | True |
    """''') == [("is_palindrome('aba')", "True", None), ("is_palindrome('ab')", "False", None),
                ("is_palindrome('x')", "True", None)]


@pytest.mark.parametrize("docstring", [
    "Maps x -> y for every key; see f(a, b) -> c.",  # names, not literals
    "Returns True if s is a palindrome, raises ValueError for invalid input.",
    "3 -> 4 is how the old version counted.",  # two arguments needed, one given
    "Return -1 if not found.",
    "The mapping {'a': 1} -> {'b': 2} of keys.",  # dicts for a function of two arguments
    ">>> f(1, 2)\\n3",  # doctest's business
    "| name | type |\\n|---|---|\\n| 1 | 2 |",  # a table, but not of inputs and outputs
])
def test_prose_that_is_not_an_example(docstring: str) -> None:
    assert mined(f'''def f(a, b):
    """{docstring}"""''') == []


def test_required_keyword_arguments_and_wrong_arity_give_no_checks() -> None:
    assert mined('''def f(a, *, key):
    """f(1) -> 2"""''') == []
    assert mined('''def g(a):
    """g(1, 2) -> 3 and g() -> 0, but g(1) -> 1."""''') == [("g(1)", "1", None)]
