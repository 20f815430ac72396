"""Tests the model writes from a docstring, read as checks, and the ranking by dual agreement
(candidates and tests vouching for each other), with a small scripted backend in place of the
model and the real sandboxed harness."""

from __future__ import annotations

from pathlib import Path

from hearth.core.actions.generate import GenerateAction
from hearth.core.pipeline.engine import EngineOptions, run_action
from hearth.core.pipeline.generated_tests import parse_tests
from hearth.core.pipeline.rank import ExecutionRanker
from hearth.core.pipeline.types import ActionRequest
from hearth.core.text import Pos
from tests.unit.scripted import ScriptedModel


def test_only_comparisons_of_one_call_with_literals_are_read() -> None:
    text = """```python
assert digits_sum(123) == 6
assert digits_sum(0) == 0
assert digits_sum(-45) == 9
assert digits_sum(0) == 1
assert digits_sum(x) == 3
assert digits_sum(7)
assert other(1) == 1
assert digits_sum(5) is None
print(digits_sum(9))
assert digits_sum(10) == len("a")
```"""
    checks = parse_tests(text, "digits_sum")
    # digits_sum(0) got two answers: both dropped; names, truthiness, other functions,
    # non-literal results and plain calls are not read.
    assert [(c.call, c.expect) for c in checks] == [
        ("digits_sum(123)", "6"), ("digits_sum(-45)", "9"), ("digits_sum(5)", "None")]
    assert {c.origin for c in checks} == {"generated"}
    assert parse_tests("assert digits_sum(1, 2) == 3", "digits_sum", accepts=1) == []


STUB = '''def digits_sum(n: int) -> int:
    """The sum of the decimal digits of n, ignoring its sign."""
    pass
'''
WRONG = "    return sum(int(c) for c in str(n) if c != '-') if n > 0 else 0\n"
RIGHT = "    return sum(int(c) for c in str(abs(n)))\n"
TESTS = ("assert digits_sum(123) == 6\nassert digits_sum(-45) == 9\nassert digits_sum(-7) == 7\n"
         "assert digits_sum(7) == 8\n")


def generate(tmp_path: Path, generated_tests: bool) -> tuple[str, object, ScriptedModel]:
    path = tmp_path / "digits.py"
    path.write_text(STUB, encoding="utf-8")
    request = ActionRequest(STUB, Pos(2, 4), path=path, workspace=tmp_path)
    # Two wrong answers that agree, then the right one: agreement alone picks a wrong one.
    model = ScriptedModel([WRONG, WRONG, RIGHT], TESTS)
    options = EngineOptions(samples=3, ranker=ExecutionRanker(tmp_path),
                            generated_tests=generated_tests)
    result = run_action(GenerateAction(), request, model, options)
    return result.new_source or "", result, model


def test_candidates_and_generated_tests_vouch_for_each_other(tmp_path: Path) -> None:
    chosen, result, model = generate(tmp_path, generated_tests=True)
    assert RIGHT in chosen
    assert len(model.requests) == 2  # the candidates, then the tests, each asked once
    tests_prompt = model.requests[1].messages[-1].content
    assert "The sum of the decimal digits" in tests_prompt and "abs(n)" not in tests_prompt
    # Strength is group size times tests passed: the wrong pair 2 x 1, the right one 1 x 3.
    # digits_sum(7) == 8 is the model's own mistake, passed by no candidate: it counts for
    # nothing, in the ranking and in the confidence.
    assert "passes 3 of the 4 tests the model wrote from its docstring" in result.evidence
    assert not any("tests written from its docstring" in r for r in result.reasons)
    assert result.tokens == 3 * 20 + 30


def test_without_generated_tests_agreement_alone_decides(tmp_path: Path) -> None:
    chosen, result, model = generate(tmp_path, generated_tests=False)
    assert WRONG in chosen and len(model.requests) == 1  # and the tests are never asked for
    assert "its docstring gives no example to check it against" in result.evidence
