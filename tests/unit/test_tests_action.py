"""Generate tests without the model: targets, import paths, merging into a test file, and
keeping only the tests that pass (run for real in the sandbox)."""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

import pytest

from hearth.core.actions import action_named
from hearth.core.pipeline.types import ActionRequest, Candidate
from hearth.core.actions.testfile_layout import import_target, project_root_of
from hearth.core.actions.testfile_merge import (
    fit_into,
    merged_text,
    parse_generated,
    rename_names,
)
from hearth.core.actions.tests import TestsAction, find_target
from hearth.core.cancel import CancelToken
from hearth.core.errors import HearthError
from hearth.core.models.backend import Completion, GenerationRequest
from hearth.core.pipeline.engine import EngineOptions, run_action
from hearth.core.text import Pos
from tests.unit.action_steps import candidate_of, prompt_of

PRICING = '''"""Prices."""

import math


def discount(price: float, percent: float) -> float:
    """Price after a percentage discount."""
    if not 0 <= percent <= 100:
        raise ValueError("percent must be between 0 and 100")
    return round(price * (1 - percent / 100), 2)


def stub(x):
    pass


def outer():
    def inner():
        return 1
    return inner


class Cart:
    def __init__(self):
        self.items = []

    def add(self, name: str, price: float) -> None:
        if price < 0:
            raise ValueError("negative price")
        self.items.append((name, price))

    def total(self) -> float:
        return math.fsum(p for _, p in self.items)
'''


def line_of(source: str, needle: str) -> int:
    return next(i for i, line in enumerate(source.splitlines()) if needle in line)


def write(path: Path, text: str = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def src_project(tmp_path: Path) -> Path:
    """src/shop/pricing.py in a project with a pyproject.toml."""
    write(tmp_path / "pyproject.toml", "[project]\nname = 'shop'\n")
    write(tmp_path / "src/shop/__init__.py")
    write(tmp_path / "src/shop/pricing.py", PRICING)
    return tmp_path


def request_for(path: Path, needle: str, workspace: Path | None) -> ActionRequest:
    source = path.read_text(encoding="utf-8")
    return ActionRequest(source=source, position=Pos(line_of(source, needle), 8), path=path,
                         workspace=workspace)


def completion(prefill: str, body: str) -> Completion:
    """The model's answer: the prefill continued by ``body`` (whose first test's ``def test_``
    is the prefill's own end), then the closing fence."""
    code = textwrap.dedent(body).lstrip("\n")
    opening = prefill[prefill.rfind("def test_"):] if "def test_" in prefill else ""
    if code.startswith(opening):
        text = prefill + code.removeprefix(opening)
    else:
        text = prefill.removesuffix(opening) + code
    return Completion(text=text + "```\n", tokens=50, finish_reason="stop_when", elapsed_s=0.1,
                      prefilled=True)


# -- what is offered where -------------------------------------------------------------------
def test_the_action_is_registered_under_its_cli_name():
    action = action_named("tests")
    assert isinstance(action, TestsAction)
    assert (action.command, action.title, action.kind) == (
        "hearth.generateTests", "Hearth: Generate tests", "refactor")


@pytest.mark.parametrize("needle,expected", [
    ("return round", "discount"), ("self.items.append", "Cart.add"),
    ("math.fsum", "Cart.total")])
def test_offered_in_functions_and_methods(src_project: Path, needle: str, expected: str):
    request = request_for(src_project / "src/shop/pricing.py", needle, src_project)
    assert TestsAction().offers(request)
    assert find_target(request).function.qualname == expected


@pytest.mark.parametrize("needle", ["    pass", "return 1", '"""Prices."""', "import math"])
def test_not_offered_for_stubs_nested_functions_or_outside_functions(src_project, needle):
    request = request_for(src_project / "src/shop/pricing.py", needle, src_project)
    assert TestsAction().offers(request) == []


def test_not_offered_in_test_files_other_languages_or_unsaved_buffers(src_project: Path):
    test_file = write(src_project / "tests/test_pricing.py", "def test_a():\n    assert 1\n")
    assert TestsAction().offers(request_for(test_file, "assert 1", src_project)) == []
    request = request_for(src_project / "src/shop/pricing.py", "return round", src_project)
    request.language = "javascript"
    assert TestsAction().offers(request) == []
    request.language, request.path = "python", None
    assert TestsAction().offers(request) == []
    with pytest.raises(HearthError, match="Nothing to test here"):
        prompt_of(TestsAction(), request, [], 400)


# -- import paths from the layout ------------------------------------------------------------
def test_src_layout(src_project: Path):
    target = import_target(src_project / "src/shop/pricing.py", src_project, "discount")
    assert (target.module, target.name, target.source_root) == (
        "shop.pricing", "discount", src_project / "src")
    assert target.import_line == "from shop.pricing import discount"
    assert target.test_file == src_project / "tests/test_pricing.py"


def test_src_layout_with_a_namespace_package(tmp_path: Path):
    module = write(tmp_path / "src/company/tools/text.py", "def f():\n    return 1\n")
    target = import_target(module, tmp_path, "f")
    assert target.module == "company.tools.text" and target.source_root == tmp_path / "src"


def test_flat_layout_module_next_to_tests(tmp_path: Path):
    module = write(tmp_path / "calc.py", "def add(a, b):\n    return a + b\n")
    write(tmp_path / "tests/test_other.py")
    target = import_target(module, tmp_path, "add")
    assert (target.module, target.source_root) == ("calc", tmp_path)
    assert target.test_file == tmp_path / "tests/test_calc.py"


def test_nested_packages_and_an_existing_test_folder(tmp_path: Path):
    write(tmp_path / "app/__init__.py")
    write(tmp_path / "app/core/__init__.py")
    module = write(tmp_path / "app/core/rules.py", "def check():\n    return True\n")
    (tmp_path / "test").mkdir()
    target = import_target(module, tmp_path, "check")
    assert (target.module, target.source_root) == ("app.core.rules", tmp_path)
    assert target.test_file == tmp_path / "test/test_rules.py"


def test_a_package_init_is_imported_as_the_package(tmp_path: Path):
    module = write(tmp_path / "lib/mypkg/__init__.py", "def hello():\n    return 'hi'\n")
    target = import_target(module, tmp_path, "hello")
    assert (target.module, target.source_root) == ("mypkg", tmp_path / "lib")
    assert target.test_file == tmp_path / "tests/test_mypkg.py"


def test_a_method_imports_its_class(src_project: Path):
    target = import_target(src_project / "src/shop/pricing.py", src_project, "Cart.add")
    assert target.import_line == "from shop.pricing import Cart"


def test_a_file_name_that_is_no_identifier_is_a_clear_error(tmp_path: Path):
    module = write(tmp_path / "my-tool.py", "def f():\n    return 1\n")
    with pytest.raises(HearthError, match="not a Python identifier"):
        import_target(module, tmp_path, "f")


def test_the_project_root_comes_from_the_workspace_or_markers(tmp_path: Path):
    module = write(tmp_path / "proj/pkg/mod.py")
    write(tmp_path / "proj/setup.cfg")
    assert project_root_of(module, None) == (tmp_path / "proj").resolve()
    assert project_root_of(module, tmp_path / "proj/pkg") == (tmp_path / "proj/pkg").resolve()
    assert project_root_of(module, tmp_path / "elsewhere") == (tmp_path / "proj").resolve()


# -- merging into a test file ----------------------------------------------------------------
EXISTING = '''"""Tests written by hand."""

import pytest
from shop.pricing import Cart as discount


@pytest.fixture
def cart():
    return discount()


def test_discount(cart):
    assert cart.items == []


def test_other():
    assert True
'''

ANSWER = '''```python
import pytest
from shop.pricing import discount
import math


@pytest.fixture
def cart():
    return {"items": []}


def test_discount(cart):
    assert discount(100, 10) == 90.0
    assert cart["items"] == []


def test_discount(cart):
    assert discount(50, 0) == 50


def test_keywords():
    assert round(number=2.5, ndigits=None) == 2
    assert math.pi.real > 3
```
'''


def test_appending_keeps_existing_tests_and_avoids_every_clash():
    addition = fit_into(EXISTING, parse_generated(ANSWER, "discount"))
    body = "\n\n".join(addition.blocks)
    new_text = merged_text(EXISTING, addition.new_imports, body)
    # The existing file is still there, line for line, with the new imports after its own.
    old_lines, new_lines = EXISTING.splitlines(), new_text.splitlines()
    assert new_lines[:4] == old_lines[:4]
    assert new_lines[4:6] == ["from shop.pricing import discount as discount_2", "import math"]
    assert new_lines[6:6 + len(old_lines) - 4] == old_lines[4:]
    # Nothing the file defines is redefined: the new names are all new.
    tree = ast.parse(new_text)
    names = [node.name for node in tree.body if isinstance(node, ast.FunctionDef)]
    assert names == ["cart", "test_discount", "test_other", "cart_2", "test_discount_2",
                     "test_discount_3", "test_keywords"]
    assert len(set(names)) == len(names)
    # References follow the renames; attributes and keyword arguments do not change.
    assert "def test_discount_2(cart_2):" in new_text
    assert "assert discount_2(100, 10) == 90.0" in new_text
    assert 'assert cart_2["items"] == []' in new_text
    assert "round(number=2.5, ndigits=None)" in new_text and "math.pi.real" in new_text


def test_a_new_file_gets_the_imports_then_the_tests():
    generated = parse_generated(ANSWER, "discount")
    addition = fit_into(None, generated)
    text = merged_text(None, addition.new_imports, "\n\n".join(addition.blocks))
    assert text.startswith("import pytest\nfrom shop.pricing import discount\nimport math\n\n\n")
    assert [n.name for n in ast.parse(text).body if isinstance(n, ast.FunctionDef)] == [
        "cart", "test_discount", "test_discount_2", "test_keywords"]


def test_crlf_files_stay_crlf():
    existing = EXISTING.replace("\n", "\r\n")
    addition = fit_into(existing, parse_generated(ANSWER, "discount"))
    text = merged_text(existing, addition.new_imports, "\n\n".join(addition.blocks))
    assert text.startswith(existing.split("@pytest.fixture")[0].rstrip("\r\n").rsplit(
        "\r\n", 1)[0])
    assert "\n" not in text.replace("\r\n", "")


def test_a_redefinition_of_the_function_under_test_is_removed():
    generated = parse_generated("```python\ndef discount(p, q):\n    return 0\n\n\n"
                                "def test_it():\n    assert discount(1, 0) == 1\n```", "discount")
    assert generated.removed == ["discount"]
    assert all("def discount" not in block for block in generated.blocks)


def test_rename_leaves_strings_comments_and_attributes_alone():
    code = 'x = obj.cart  # cart\ny = "cart"\ndef f(cart=1):\n    return g(cart=cart)\n'
    assert rename_names(code, {"cart": "c2"}) == (
        'x = obj.cart  # cart\ny = "cart"\ndef f(c2=1):\n    return g(cart=c2)\n')


# -- running the candidates in the sandbox ---------------------------------------------------
def discount_candidate(project: Path, body: str) -> Candidate:
    """What the action makes of an answer ``body`` for tests of ``discount``."""
    action = TestsAction()
    request = request_for(project / "src/shop/pricing.py", "return round", project)
    prefill = prompt_of(action, request, [], 400).prefill
    return candidate_of(action, request, completion(prefill, body))


def test_only_the_passing_test_is_kept(src_project: Path):
    action = TestsAction()
    request = request_for(src_project / "src/shop/pricing.py", "return round", src_project)
    prompt = prompt_of(action, request, [], 400)
    assert prompt.prefill == ("```python\nimport pytest\nfrom shop.pricing import discount\n\n\n"
                              "def test_discount_")
    candidate = candidate_of(action, request, completion(prompt.prefill, """

        def test_discount_ten_percent_off():
            assert discount(100, 10) == 90.0


        import json
        from typing import *


        def test_wrong_expectation():
            assert json.loads("80") == discount(100, 10)


        def test_asserts_nothing():
            discount(1, 2)
        """))
    assert candidate.usable
    details = candidate.details
    assert (details.generated, details.passed, details.failed) == (3, 1, 2)
    reasons = {d["test"]: d["reason"] for d in details.dropped}
    assert reasons["test_wrong_expectation"].endswith("assert 80 == 90.0")
    assert reasons["test_asserts_nothing"] == "asserts nothing"
    [change] = candidate.files
    assert change.path == src_project / "tests/test_pricing.py" and change.old_text is None
    assert "def test_discount_ten_percent_off" in change.new_text
    assert "test_wrong_expectation" not in change.new_text
    # Its import goes with it, and a star import never comes in.
    assert "json" not in change.new_text and "typing" not in change.new_text
    assert details.test_code in change.new_text
    assert details.test_file == str(change.path)
    [finding] = candidate.findings
    assert finding.rule == "dropped-tests" and finding.penalty == pytest.approx(
        0.5 * 2 / 3, abs=1e-4)  # the scoring table rounds to 4 places
    assert candidate.new_source is None and candidate.edits == []
    assert not (src_project / "tests").exists()  # nothing is written by the action itself


def test_methods_are_tested_through_their_class_and_the_editor_text_is_what_runs(src_project):
    action = TestsAction()
    request = request_for(src_project / "src/shop/pricing.py", "self.items.append", src_project)
    # The unsaved editor text differs from the file on disk: the tests run against it.
    request.source = request.source.replace('"negative price"', '"price below zero"')
    prompt = prompt_of(action, request, [], 400)
    assert "from shop.pricing import Cart" in prompt.prefill
    assert "method of `Cart`" in prompt.messages[-1].content
    candidate = candidate_of(action, request, completion(prompt.prefill, """

        class TestAdd:
            def test_adds(self):
                cart = Cart()
                cart.add("tea", 2.5)
                assert cart.items == [("tea", 2.5)]

            def test_refuses_negative_prices(self):
                with pytest.raises(ValueError, match="price below zero"):
                    Cart().add("tea", -1)
        """))
    assert candidate.details.passed == 2 and candidate.findings == []


def test_appending_to_an_existing_test_file_leaves_it_intact(src_project: Path):
    existing = write(src_project / "tests/test_pricing.py", EXISTING)
    candidate = discount_candidate(src_project, """

        def test_discount():
            assert discount(200, 50) == 100.0


        def test_other():
            assert discount(10, 100) == 0.0
        """)
    assert candidate.details.passed == 2
    [change] = candidate.files
    assert change.old_text == EXISTING
    old_tree, new_tree = ast.parse(EXISTING), ast.parse(change.new_text)
    old_functions = {n.name: ast.dump(n) for n in old_tree.body if isinstance(n, ast.FunctionDef)}
    new_functions = {n.name: ast.dump(n) for n in new_tree.body if isinstance(n, ast.FunctionDef)}
    assert all(new_functions[name] == dump for name, dump in old_functions.items())
    assert {"test_discount_2", "test_other_2"} <= set(new_functions)
    assert existing.read_text() == EXISTING


def test_no_passing_test_makes_the_candidate_unusable_and_says_why(src_project: Path):
    candidate = discount_candidate(src_project, """
        import not_a_real_module


        def test_it():
            assert discount(1, 0) == 1
        """)
    assert not candidate.usable
    [finding] = candidate.findings
    assert finding.fatal and "not_a_real_module" in finding.reason
    assert candidate.details.passed == 0 and candidate.files == []


def test_an_answer_without_tests_is_unusable(src_project: Path):
    action = TestsAction()
    request = request_for(src_project / "src/shop/pricing.py", "return round", src_project)
    candidate = candidate_of(action, request, completion("```python\n", "x = 1\n"))
    assert not candidate.usable and "no pytest test" in candidate.findings[0].reason


def test_a_test_file_that_does_not_parse_is_refused_before_the_model_runs(src_project):
    write(src_project / "tests/test_pricing.py", "def test_broken(:\n")
    request = request_for(src_project / "src/shop/pricing.py", "return round", src_project)
    with pytest.raises(HearthError, match="does not parse"):
        prompt_of(TestsAction(), request, [], 400)


class ScriptedBackend:
    """Answers with fixed texts, as a model would, one per requested sample."""

    name = "scripted"
    loaded = True

    def __init__(self, bodies: list[str]) -> None:
        self.bodies = bodies

    def load(self, cancel: CancelToken | None = None) -> None:
        pass

    def generate(self, request: GenerationRequest, cancel=None, on_token=None):
        return [completion(request.prefill, body) for body in self.bodies[:len(request.params)]]

    def info(self) -> dict[str, object]:
        return {}

    def close(self) -> None:
        pass


def test_the_engine_picks_the_sample_with_fewer_dropped_tests(src_project: Path):
    request = request_for(src_project / "src/shop/pricing.py", "return round", src_project)
    half = "\ndef test_a():\n    assert discount(10, 50) == 5.0\n\n\ndef test_b():\n" \
           "    assert discount(10, 50) == 6\n"
    whole = "\ndef test_a():\n    assert discount(10, 0) == 10\n"
    result = run_action(TestsAction(), request, ScriptedBackend([half, whole]),
                        EngineOptions(samples=2))
    assert result.details.passed == 1 and result.details.failed == 0
    assert result.confidence == 1.0 and result.files[0].new_text.count("def test_") == 1

    with pytest.raises(HearthError, match="none of the 1 generated test"):
        run_action(TestsAction(), request,
                   ScriptedBackend(["\ndef test_a():\n    assert discount(1, 0) == 2\n"]),
                   EngineOptions(samples=1))
