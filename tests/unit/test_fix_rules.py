"""Fix's textbook rewrites (F401, F841), and the engine taking them without the model."""

from __future__ import annotations

import pytest

from hearth.core.pipeline.types import ActionRequest
from hearth.core.actions.fix import FixAction
from hearth.core.actions.fix_rules import rule_fix
from hearth.core.cancel import CancelToken
from hearth.core.models.backend import Completion, GenerationRequest
from hearth.core.pipeline.engine import EngineOptions, run_action
from hearth.core.text import Pos


def fixed(source: str, code: str, message: str, line: int) -> str | None:
    """The whole file after the rule, with the region set to the whole file."""
    end = source.count("\n") - 1
    region = rule_fix(source, code, message, line, (0, end))
    return None if region is None else region


@pytest.mark.parametrize(("source", "message", "expected"), [
    ("import os\nimport json\n", "'os' imported but unused", "import json\n"),
    ("from pathlib import Path, PurePath\n", "'pathlib.PurePath' imported but unused",
     "from pathlib import Path\n"),
    ("import os.path as p, sys\n", "'os.path as p' imported but unused", "import sys\n"),
    ("from . import a, b\n", "'.b' imported but unused", "from . import a\n"),
    ("from typing import (\n    Any,\n    List,\n)\n", "'typing.List' imported but unused",
     "from typing import Any\n"),
])
def test_an_unused_import_loses_only_its_name(source: str, message: str, expected: str):
    assert fixed(source, "F401", message, 0) == expected


def test_a_commented_import_is_left_to_the_model():
    assert fixed("import os  # for later\n", "F401", "'os' imported but unused", 0) is None


def test_an_unused_exception_name_is_dropped_from_the_handler():
    source = "try:\n    pass\nexcept ValueError as error:  # bad input\n    pass\n"
    assert fixed(source, "F841", "local variable 'error' is assigned to but never used", 2) \
        == "try:\n    pass\nexcept ValueError:  # bad input\n    pass\n"


@pytest.mark.parametrize(("line", "expected"), [
    ("    count = len(values)\n", ""),  # a builtin that only computes: the line goes
    ("    count = 3 * 4\n", ""),
    ("    count = save(values)\n", "    save(values)\n"),  # the call may matter: it stays
    ("    count: int = sorted(load())\n", "    sorted(load())\n"),
])
def test_an_unused_local_goes_but_a_call_that_may_matter_stays(line: str, expected: str):
    source = f"def total(values):\n{line}    return sum(values)\n"
    message = "local variable 'count' is assigned to but never used"
    assert fixed(source, "F841", message, 1) == \
        f"def total(values):\n{expected}    return sum(values)\n"


def test_a_builtin_the_module_redefines_counts_as_a_call_that_may_matter():
    source = "def len(x):\n    return print(x)\n\n\ndef f(v):\n    n = len(v)\n    return v\n"
    message = "local variable 'n' is assigned to but never used"
    assert "    len(v)\n" in fixed(source, "F841", message, 5)


@pytest.mark.parametrize(("source", "code", "message", "line"), [
    ("a, b = f()\n", "F841", "local variable 'a' is assigned to but never used", 0),
    ("x = f()  # keep\n", "F841", "local variable 'x' is assigned to but never used", 0),
    ("x == None\n", "E711", "comparison to None should be 'if cond is None:'", 0),
    ("def f(:\n", "F401", "'os' imported but unused", 0),
])
def test_no_rule_for_what_it_does_not_know(source: str, code: str, message: str, line: int):
    assert fixed(source, code, message, line) is None


class CountingBackend:
    """Answers every sample with one fixed text and counts the requests."""

    name = "counting"
    loaded = True

    def __init__(self, answer: str) -> None:
        self.answer = answer
        self.requests = 0

    def load(self, cancel: CancelToken | None = None) -> None:
        pass

    def generate(self, request: GenerationRequest, cancel=None, on_token=None):
        self.requests += 1
        return [Completion(f"```python\n{self.answer}```", 10, "stop", 0.1, prefilled=True)
                for _ in request.params]

    def info(self) -> dict[str, object]:
        return {}

    def close(self) -> None:
        pass


def fix_request(source: str, line: int, code: str) -> ActionRequest:
    return ActionRequest(source, Pos(line, 0), extra={"code": code, "line": line})


def test_a_rule_fix_that_passes_the_checks_is_taken_without_asking_the_model():
    source = '"""Parse."""\n\nimport os\nimport json\n\n\ndef load(t):\n    return json.loads(t)\n'
    backend = CountingBackend("import os\n")
    result = run_action(FixAction(), fix_request(source, 2, "F401"), backend,
                        EngineOptions(samples=3))
    assert backend.requests == 0
    assert result.method == "rule" and result.tokens == 0
    assert result.confidence == 1.0 and result.details.fixed == ["F401"]
    assert result.new_source == source.replace("import os\n", "")


def test_a_rule_fix_that_fails_the_checks_falls_back_to_the_model():
    source = '"""Stub."""\n\n\ndef f():\n    x = 1\n'  # deleting the line leaves no body
    backend = CountingBackend("def f():\n    pass\n")
    result = run_action(FixAction(), fix_request(source, 4, "F841"), backend,
                        EngineOptions(samples=1))
    assert backend.requests == 1 and result.method == "model"
    assert result.new_source == '"""Stub."""\n\n\ndef f():\n    pass\n'


def test_a_dead_assignment_that_was_a_parameters_only_reader_still_goes():
    source = '"""Math."""\n\n\ndef f(x):\n    y = x + 1\n    return 0\n'
    result = run_action(FixAction(), fix_request(source, 4, "F841"), CountingBackend(""),
                        EngineOptions(samples=1))
    assert result.method == "rule"
    assert result.new_source == '"""Math."""\n\n\ndef f(x):\n    return 0\n'


def test_line_separators_other_than_newlines_keep_the_rule_on_its_line():
    source = 'NOTE = "a\u2028b\x0cc\x85d"\nimport os, sys\nprint(NOTE, sys)\n'
    assert rule_fix(source, "F401", "'os' imported but unused", 1, (0, 2)) == \
        'NOTE = "a\u2028b\x0cc\x85d"\nimport sys\nprint(NOTE, sys)\n'


def test_a_statement_sharing_its_line_is_left_to_the_model():
    assert rule_fix("x = 1; import os\nprint(x)\n", "F401", "'os' imported but unused", 0,
                    (0, 1)) is None
