"""What a signature promises, read against the results the ranker recorded: the annotated
builtin return type, and no exception on every well-typed input."""

from __future__ import annotations

import ast

import pytest

from hearth.core.pipeline.properties import expected_forms, raises_on_valid_inputs, wrong_return


def fn_of(source: str) -> ast.FunctionDef:
    node = ast.parse(source).body[0]
    assert isinstance(node, ast.FunctionDef)
    return node


@pytest.mark.parametrize(("annotation", "forms"), [
    ("int", ("int:",)),
    ("float", ("f:", "int:")),
    ("list[int]", ("list[",)),
    ("Optional[str]", ("str:", "None")),
    ("str | None", ("str:", "None")),
    ("'Dict[str, int]'", ("dict{",)),
    ("Union[int, bool]", ("int:", "True", "False")),
    ("Iterator[int]", None),  # promises nothing this can check
    ("MyClass", None),
    ("Union[int, MyClass]", None),
])
def test_the_forms_an_annotation_allows(annotation: str, forms: tuple[str, ...] | None) -> None:
    assert expected_forms(ast.parse(annotation, mode="eval").body) == forms


def test_results_of_another_type_are_counted() -> None:
    fn = fn_of("def f(x: int) -> int:\n    pass\n")
    assert wrong_return(fn, ("int:1", "str:'1'", "raise ValueError", "None")) == (2, 3, "str:'1'")
    assert wrong_return(fn_of("def f(x) -> Iterator[int]:\n    pass\n"),
                        ("list[int:1]",)) == (0, 1, "")
    assert wrong_return(fn_of("def f(x):\n    pass\n"), ("str:'a'",)) == (0, 1, "")


def test_raising_on_every_valid_input_unless_the_docstring_warns() -> None:
    calls = ("raise TypeError", "raise TypeError", "raise KeyError")
    assert raises_on_valid_inputs(fn_of("def f(xs: list[int], n: int) -> int:\n    pass\n"),
                                  calls) == "TypeError"
    assert raises_on_valid_inputs(fn_of(
        'def f(n: int) -> int:\n    """Raises ValueError for odd n."""\n'), calls) is None
    # Untyped or custom-typed parameters get guessed values: raising on them proves nothing.
    assert raises_on_valid_inputs(fn_of("def f(pred, xs: list) -> bool:\n    pass\n"),
                                  calls) is None
    assert raises_on_valid_inputs(fn_of("def f(p: Path) -> bool:\n    pass\n"), calls) is None
    assert raises_on_valid_inputs(fn_of("def f(n: int) -> int:\n    pass\n"),
                                  ("raise TypeError", "int:1")) is None
    assert raises_on_valid_inputs(fn_of("def f(n: int) -> int:\n    pass\n"),
                                  ("raise Timeout", "raise Timeout")) is None
