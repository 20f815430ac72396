"""Tests the model writes from a docstring alone, as checks for ranking (after CodeT, Chen et
al. 2022: candidates and generated tests vouch for each other).

One greedy request asks for a few ``assert`` lines about the function, shown only its
signature and docstring, never a candidate. The tests are then run against every candidate
beside the docstring's own examples. A small model's tests are often wrong, so they never
decide alone: the ranker weighs a group of identically behaving candidates by its size times
the number of generated tests it passes (dual agreement), a test no candidate passes counts
for nothing, and the confidence they move is small and calibrated.
"""

from __future__ import annotations

import ast

from hearth.core.models.backend import ChatMessage
from hearth.core.pipeline.prompt import Prompt, fence, system_prompt
from hearth.core.pipeline.types import Example

MAX_TESTS = 8
MAX_TOKENS = 200


def tests_prompt(name: str, signature: str, count: int = 6) -> Prompt:
    """The request for ``count`` assertions about ``name``, given its header and docstring."""
    user = (f"Here is the signature and docstring of `{name}`; its body is not written yet.\n"
            + fence(signature, "python")
            + f"\nWrite {count} short test assertions for `{name}`, one per line, using only "
            "what the docstring says. Each line is `assert " + name + "(...) == ...` with "
            "literal arguments and the literal result the docstring implies; cover the "
            "examples and the edge cases it mentions. Answer with the assert lines only, in "
            "one ```python block.")
    system = system_prompt("python", "You write precise unit tests from specifications.")
    return Prompt(messages=[ChatMessage("system", system), ChatMessage("user", user)],
                  prefill=f"```python\nassert {name}(", max_tokens=MAX_TOKENS)


def parse_tests(text: str, name: str, accepts: int | None = None) -> list[Example]:
    """The assertions in ``text`` that call ``name`` with literal arguments and compare it with
    a literal, as checks; ``accepts`` is how many positional arguments are allowed at most.
    Contradicting tests (one call, two answers) are both dropped."""
    by_call: dict[str, set[str]] = {}
    order: list[str] = []
    for line in text.replace("```python", "").replace("```", "").splitlines():
        parsed = _assertion(line.strip(), name, accepts)
        if parsed is None:
            continue
        call, expect = parsed
        if call not in by_call:
            order.append(call)
        by_call.setdefault(call, set()).add(expect)
    kept = [call for call in order if len(by_call[call]) == 1]
    return [Example(call, next(iter(by_call[call])), None, f"assert {call} == "
                    f"{next(iter(by_call[call]))}", origin="generated")
            for call in kept[:MAX_TESTS]]


def _assertion(line: str, name: str, accepts: int | None) -> tuple[str, str] | None:
    if not line.startswith("assert "):
        return None
    try:
        node = ast.parse(line).body[0]
    except (SyntaxError, ValueError, IndexError):
        return None
    if not isinstance(node, ast.Assert):
        return None
    test = node.test
    # Only comparisons: `assert f(x)` tests truthiness, which a check of equality would
    # misread, and anything else is not a statement about one call's result.
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1
            and isinstance(test.ops[0], (ast.Eq, ast.Is))):
        return None
    call_node = test.left
    try:
        expect = ast.literal_eval(test.comparators[0])
    except (ValueError, SyntaxError, TypeError):
        return None
    if not (isinstance(call_node, ast.Call) and isinstance(call_node.func, ast.Name)
            and call_node.func.id == name and not call_node.keywords):
        return None
    if accepts is not None and len(call_node.args) > accepts:
        return None
    try:
        arguments = [ast.literal_eval(arg) for arg in call_node.args]
    except (ValueError, SyntaxError, TypeError):
        return None
    return f"{name}({', '.join(map(repr, arguments))})", repr(expect)
