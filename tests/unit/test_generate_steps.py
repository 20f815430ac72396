"""The deterministic steps of Generate: finding stubs, extracting code, building the edit."""

from __future__ import annotations

import ast

import pytest

from hearth.core.pipeline.types import ActionRequest
from hearth.core.actions.generate import GenerateAction, body_ended
from hearth.core.analysis.python_targets import function_at, stub_functions
from hearth.core.models.backend import Completion
from hearth.core.pipeline.extract import code_blocks, longest_parsable_prefix, main_code, reindent
from hearth.core.text import Pos, TextEdit, apply_edits, newline_of, split_lines
from tests.unit.action_steps import candidate_of, prompt_of

STUBS = '''import math


def area(r: float) -> float:
    """Area of a circle of radius r."""


def todo(x):
    # TODO: double it
    pass


def ellipsis(x): ...


class Shape:
    """A shape."""

    sides = 0

    def perimeter(self):
        raise NotImplementedError()

    def done(self):
        return 1


def real(x):
    return x + 1
'''


def completion(text: str) -> Completion:
    return Completion(text=text, tokens=10, finish_reason="stop", elapsed_s=0.1, prefilled=True)


def test_stub_kinds_are_found_and_real_functions_are_not():
    names = sorted(t.qualname for t in stub_functions(STUBS))
    assert names == ["Shape.perimeter", "area", "ellipsis", "todo"]


@pytest.mark.parametrize("line,expected", [(3, "area"), (4, "area"), (8, "todo"),
                                           (20, "Shape.perimeter"), (21, "Shape.perimeter")])
def test_function_at_cursor(line, expected):
    assert function_at(STUBS, Pos(line, 4)).qualname == expected


def test_no_action_outside_a_stub():
    action = GenerateAction()
    for line in (0, 1, 16, 23, 27):
        assert action.offers(ActionRequest(STUBS, Pos(line, 0))) == []
    [offer] = action.offers(ActionRequest(STUBS, Pos(3, 0)))
    assert offer.title == "Hearth: Generate implementation"
    assert action.offers(ActionRequest(STUBS, Pos(3, 0), language="go")) == []


def test_class_context_is_given_for_methods():
    target = function_at(STUBS, Pos(20, 8))
    assert "class Shape:" in target.class_context
    assert "sides = 0" in target.class_context
    assert "def done(self): ..." in target.class_context


def test_docstring_only_stub_keeps_the_docstring_and_appends_the_body():
    action = GenerateAction()
    request = ActionRequest(STUBS, Pos(3, 4))
    prompt = prompt_of(action, request, [], 128)
    assert prompt.prefill.startswith("```python\ndef area(r: float) -> float:\n")
    answer = prompt.prefill + "    return math.pi * r ** 2\n```"
    candidate = candidate_of(action, request, completion(answer))
    assert candidate.usable
    assert '    """Area of a circle of radius r."""\n    return math.pi * r ** 2\n' in \
        candidate.new_source
    # Everything outside the function is byte-for-byte the same.
    before = STUBS.split("def area")[0]
    assert candidate.new_source.startswith(before)
    assert candidate.new_source.endswith(STUBS.split('"""Area of a circle of radius r."""')[1])


def test_todo_comment_and_pass_are_replaced():
    action = GenerateAction()
    request = ActionRequest(STUBS, Pos(8, 0))
    prompt = prompt_of(action, request, [], 128)
    candidate = candidate_of(action, request, completion(prompt.prefill + "    return 2 * x\n"))
    assert "def todo(x):\n    return 2 * x\n\n\ndef ellipsis" in candidate.new_source


def test_one_line_stub_gets_a_body_on_its_own_lines():
    action = GenerateAction()
    request = ActionRequest(STUBS, Pos(12, 0))
    prompt = prompt_of(action, request, [], 128)
    candidate = candidate_of(action, request, completion(
        prompt.prefill + "    y = x * 3\n    return y\n"))
    assert "def ellipsis(x):\n    y = x * 3\n    return y\n" in candidate.new_source
    ast.parse(candidate.new_source)


def test_method_body_is_indented_for_the_class():
    action = GenerateAction()
    request = ActionRequest(STUBS, Pos(20, 0))
    prompt = prompt_of(action, request, [], 128)
    candidate = candidate_of(action, request,
                             completion(prompt.prefill + "    return self.sides\n"))
    assert "    def perimeter(self):\n        return self.sides\n" in candidate.new_source


def test_answer_that_is_itself_a_stub_is_rejected():
    action = GenerateAction()
    request = ActionRequest(STUBS, Pos(8, 0))
    prompt = prompt_of(action, request, [], 128)
    candidate = candidate_of(action, request, completion(prompt.prefill + "    pass\n"))
    assert not candidate.usable
    assert candidate.findings[0].rule == "trivial-body"


def test_answer_without_the_function_is_rejected():
    action = GenerateAction()
    request = ActionRequest(STUBS, Pos(8, 0))
    candidate = candidate_of(action, request,
                             Completion("I cannot help with that.", 5, "stop", 0.1))
    assert not candidate.usable and candidate.findings[0].rule == "no-function"


def test_unprefilled_answer_with_prose_and_fences():
    action = GenerateAction()
    request = ActionRequest(STUBS, Pos(8, 0))
    answer = ("Sure! Here it is:\n```python\ndef todo(x):\n    # doubles\n    return x * 2\n```\n"
              "This doubles x.")
    candidate = candidate_of(action, request, Completion(answer, 30, "stop", 0.1))
    assert "def todo(x):\n    # doubles\n    return x * 2\n" in candidate.new_source


def test_crlf_and_tabs_are_preserved():
    source = "def f(a):\r\n\t\"\"\"Doc.\"\"\"\r\n\tpass\r\n\r\nx = 1\r\n"
    action = GenerateAction()
    request = ActionRequest(source, Pos(2, 1))
    prompt = prompt_of(action, request, [], 64)
    candidate = candidate_of(action, request, completion(
        prompt.prefill + "    if a:\n        return 1\n    return 2\n"))
    assert candidate.new_source == ("def f(a):\r\n\t\"\"\"Doc.\"\"\"\r\n\tif a:\r\n\t\treturn 1"
                                    "\r\n\treturn 2\r\n\r\nx = 1\r\n")


def test_a_cut_off_sample_is_parsed_up_to_its_last_complete_line():
    parsed = longest_parsable_prefix("def f(x):\n    y = x + 1\n    return (y +")
    assert parsed is not None and parsed[1] == "def f(x):\n    y = x + 1\n"


def test_code_blocks_and_unclosed_fences():
    assert code_blocks("a\n```py\nx = 1\n```\nb\n```\ny = 2\n") == ["x = 1\n", "y = 2\n"]
    assert main_code("no fences at all") == "no fences at all"


def test_body_ended_stops_at_the_function_level():
    assert not body_ended("    x = 1\n")
    assert not body_ended("    x = 1\n\n    return x")
    assert body_ended("    return x\n\ndef other")
    assert body_ended("    return x\n```")


def test_reindent_with_tabs():
    assert reindent("if x:\n    y()\n", "\t") == "\tif x:\n\t\ty()"


def test_text_helpers():
    text = "a😀b\r\nsecond\r\n"
    assert newline_of(text) == "\r\n" and newline_of("x\ny") == "\n"
    assert split_lines("x\n") == ["x\n", ""]
    edit = TextEdit(Pos(0, 2), Pos(0, 3), "B")
    assert apply_edits(text, [edit]) == "a😀B\r\nsecond\r\n"
    # A position past the end of the line clamps to the line's end.
    assert apply_edits("ab\ncd\n", [TextEdit(Pos(0, 99), Pos(0, 99), "!")]) == "ab!\ncd\n"


JS = """function total(items) {
  // TODO: return the sum of item.price * item.qty
}
"""


def test_todo_line_in_another_language_is_replaced_by_the_continuation():
    action = GenerateAction()
    request = ActionRequest(JS, Pos(1, 5), language="javascript")
    [offer] = action.offers(request)
    assert offer.title.startswith("Hearth: Generate code for “return the sum")
    prompt = prompt_of(action, request, [], 64)
    assert prompt.prefill == "```javascript\nfunction total(items) {\n"
    assert not prompt.stop_when("  let sum = 0;\n")
    assert prompt.stop_when("  return 1;\n}\n")
    answer = prompt.prefill + "  return items.reduce((s, i) => s + i.price * i.qty, 0);\n}\n"
    candidate = candidate_of(action, request, completion(answer))
    assert candidate.usable
    assert candidate.new_source == (
        "function total(items) {\n  return items.reduce((s, i) => s + i.price * i.qty, 0);\n}\n")


def test_a_todo_with_the_wrong_comment_syntax_is_not_offered():
    assert GenerateAction().offers(ActionRequest("# TODO: x\n", Pos(0, 0), language="go")) == []


def test_a_javascript_answer_that_does_not_parse_is_rejected():
    action = GenerateAction()
    request = ActionRequest(JS, Pos(1, 0), language="javascript")
    prompt = prompt_of(action, request, [], 64)
    candidate = candidate_of(action, request, completion(prompt.prefill + "  return (1 + ;\n}\n"))
    assert any(f.rule == "syntax" and f.fatal for f in candidate.findings)


def test_selection_with_an_instruction_is_rewritten_in_place():
    source = ("def f(xs):\n    out = []\n    for x in xs:\n        out.append(x * 2)\n"
              "    return out\n")
    action = GenerateAction()
    request = ActionRequest(source, Pos(1, 4), end=Pos(4, 0), instruction="use a comprehension")
    [offer] = action.offers(request)
    assert offer.title == "Hearth: Generate from instruction"
    prompt = prompt_of(action, request, [], 64)
    assert "use a comprehension" in prompt.messages[1].content
    candidate = candidate_of(action, request, completion(
        prompt.prefill + "out = [x * 2 for x in xs]\n```"))
    assert candidate.new_source == ("def f(xs):\n    out = [x * 2 for x in xs]\n"
                                    "    return out\n")


def test_a_stub_in_a_file_with_a_syntax_error_elsewhere():
    source = ("def broken(:\n    pass\n\n\nclass K:\n    def m(self, a):\n"
              "        \"\"\"Return a doubled.\"\"\"\n        pass\n")
    action = GenerateAction()
    request = ActionRequest(source, Pos(7, 8))
    [offer] = action.offers(request)
    prompt = prompt_of(action, request, [], 64)
    assert prompt.prefill.startswith("```python\ndef m(self, a):")
    candidate = candidate_of(action, request, completion(prompt.prefill + "    return a * 2\n"))
    assert candidate.usable
    assert candidate.new_source.endswith(
        "    def m(self, a):\n        \"\"\"Return a doubled.\"\"\"\n        return a * 2\n")
