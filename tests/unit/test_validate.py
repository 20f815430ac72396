"""The shared validators on real code strings (a true positive and a near miss for each), and
the scoring arithmetic and calibration."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from hearth.core.pipeline.types import ActionRequest, Candidate, Finding
from hearth.core.pipeline.engine import score
from hearth.core.pipeline.scoring import (
    RULES,
    Observation,
    auroc,
    best_threshold,
    calibrate,
    confidence,
    confidence_of,
    finding,
)
from hearth.core.actions.fix_checks import FixScopeCheck, ReturnTypeCheck
from hearth.core.pipeline.defaults import default_validators
from hearth.core.pipeline.edited import written_lines
from hearth.core.pipeline.jedi_checks import ArityCheck, AttributeCheck, ImportCheck
from hearth.core.pipeline.validate import Flake8Check, PlaceholderCheck, TrivialBodyCheck
from hearth.core.text import Pos

ORIGINAL = '''import os
import math


def helper(a, b=2, *, scale=1):
    return (a + b) * scale


def spread(values, *rest):
    return len(values) + len(rest)


def target(path: str, items: list[int]) -> int:
    """Count things.

    >>> target("a", [1, 2, 3])
    6
    """
    pass
'''


def request_and_candidate(body: str, workspace: Path, original: str = ORIGINAL,
                          function: str | None = None) -> tuple[ActionRequest, Candidate]:
    """The stub's ``pass`` replaced by ``body`` (indented by four spaces)."""
    path = workspace / "module.py"
    path.write_text(original, encoding="utf-8")
    indented = "".join("    " + line if line.strip() else line
                       for line in body.strip("\n").splitlines(keepends=True)) + "\n"
    new = original.replace("    pass\n", indented) if body is not None else original
    request = ActionRequest(original, Pos(original.count("\n") - 1, 4), path=path,
                            workspace=workspace)
    return request, Candidate(None, new_source=new, function=function)


def rules(findings: list[Finding]) -> list[str]:
    return [f.rule for f in findings]


# -- flake8: undefined names and new findings -----------------------------------------------------
def test_undefined_function_is_called_out_as_missing(tmp_path: Path) -> None:
    request, candidate = request_and_candidate("return frobnicate(items)", tmp_path)
    found = Flake8Check(tmp_path)(request, candidate)
    assert rules(found) == ["missing-function"]
    assert "`frobnicate`" in found[0].reason and "hallucinated" in found[0].reason
    assert found[0].penalty == RULES["missing-function"].weight


def test_defined_function_and_builtin_are_fine(tmp_path: Path) -> None:
    request, candidate = request_and_candidate("return helper(len(items))", tmp_path)
    assert Flake8Check(tmp_path)(request, candidate) == []


def test_undefined_variable_is_an_undefined_name(tmp_path: Path) -> None:
    request, candidate = request_and_candidate("return total + 1", tmp_path)
    assert rules(Flake8Check(tmp_path)(request, candidate)) == ["undefined-name"]


def test_only_new_flake8_findings_count(tmp_path: Path) -> None:
    original = "import sys\n\n\ndef f(x):\n    pass\n"  # `sys` is already unused
    request, same = request_and_candidate("return x", tmp_path, original)
    assert Flake8Check(tmp_path)(request, same) == []
    request, worse = request_and_candidate("import json\nreturn x", tmp_path, original)
    found = Flake8Check(tmp_path)(request, worse)
    assert rules(found) == ["flake8-warning"] and "F401" in found[0].reason


def test_unparsable_candidate_is_fatal(tmp_path: Path) -> None:
    request, candidate = request_and_candidate("return (", tmp_path)
    found = Flake8Check(tmp_path)(request, candidate)
    assert rules(found) == ["syntax"] and found[0].fatal


# -- imports --------------------------------------------------------------------------------------
def test_import_of_missing_module_is_flagged(tmp_path: Path) -> None:
    request, candidate = request_and_candidate(
        "import hearth_no_such_module_x\nreturn 1", tmp_path)
    found = ImportCheck(tmp_path)(request, candidate)
    assert rules(found) == ["unresolved-import"]
    assert "hearth_no_such_module_x" in found[0].reason


def test_existing_modules_resolve(tmp_path: Path) -> None:
    (tmp_path / "localpkg").mkdir()
    (tmp_path / "localpkg" / "__init__.py").write_text("", encoding="utf-8")
    (tmp_path / "localpkg" / "tools.py").write_text("X = 1\n", encoding="utf-8")
    body = ("import json\nimport os.path\nimport xml.etree.ElementTree\n"
            "from localpkg import tools\nimport localpkg.tools\nimport flake8\nreturn 1")
    request, candidate = request_and_candidate(body, tmp_path)
    assert ImportCheck(tmp_path)(request, candidate) == []


def test_missing_submodule_of_existing_package_is_flagged(tmp_path: Path) -> None:
    request, candidate = request_and_candidate("import json.fancy\nreturn 1", tmp_path)
    assert rules(ImportCheck(tmp_path)(request, candidate)) == ["unresolved-import"]


def test_imports_the_user_already_had_are_not_judged(tmp_path: Path) -> None:
    original = "import hearth_missing_dep\n\n\ndef f(x):\n    pass\n"
    request, candidate = request_and_candidate("return x", tmp_path, original)
    assert ImportCheck(tmp_path)(request, candidate) == []


# -- attributes -----------------------------------------------------------------------------------
@pytest.mark.parametrize("code", ["return os.path.joinx(path, 'a')", "return math.sqr(4)",
                                  "return path.uppercase()", "items.push(3)\nreturn 1"])
def test_unknown_attribute_is_flagged(tmp_path: Path, code: str) -> None:
    request, candidate = request_and_candidate(code, tmp_path)
    found = AttributeCheck(tmp_path)(request, candidate)
    assert rules(found) == ["unknown-attribute"], code


@pytest.mark.parametrize("code", ["return os.path.join(path, 'a')", "return math.sqrt(4)",
                                  "return path.upper()", "items.append(3)\nreturn 1",
                                  "return unknown_thing.whatever()"])
def test_existing_or_unresolvable_attributes_are_not_flagged(tmp_path: Path, code: str) -> None:
    request, candidate = request_and_candidate(code, tmp_path)
    assert AttributeCheck(tmp_path)(request, candidate) == []


def test_from_import_of_missing_name_is_flagged(tmp_path: Path) -> None:
    request, candidate = request_and_candidate(
        "from os.path import joinx, join\nreturn join(path)", tmp_path)
    found = AttributeCheck(tmp_path)(request, candidate)
    assert rules(found) == ["unknown-attribute"] and "os.path.joinx" in found[0].reason
    assert "os.path.join`" not in found[0].reason


# -- call arity -----------------------------------------------------------------------------------
@pytest.mark.parametrize("call", ["helper(1)", "helper(1, 2)", "helper(1, b=3, scale=2)",
                                  "spread(items, 1, 2, 3)", "spread(items)"])
def test_project_calls_that_fit_the_signature(tmp_path: Path, call: str) -> None:
    request, candidate = request_and_candidate(f"return {call}", tmp_path)
    assert ArityCheck(tmp_path)(request, candidate) == [], call


@pytest.mark.parametrize("call", ["helper()", "helper(1, 2, 3)", "helper(1, c=2)",
                                  "spread()"])
def test_project_calls_with_wrong_arguments(tmp_path: Path, call: str) -> None:
    request, candidate = request_and_candidate(f"return {call}", tmp_path)
    found = ArityCheck(tmp_path)(request, candidate)
    assert rules(found) == ["wrong-arity"], call
    assert call.split("(")[0] in found[0].reason


def test_library_calls_are_not_judged_for_arity(tmp_path: Path) -> None:
    # Only the project's own functions: C functions' signatures are not reliable enough.
    request, candidate = request_and_candidate("return math.floor(1, 2)", tmp_path)
    assert ArityCheck(tmp_path)(request, candidate) == []


# -- placeholders ---------------------------------------------------------------------------------
def test_placeholder_comment_is_flagged(tmp_path: Path) -> None:
    request, candidate = request_and_candidate("# TODO: handle empty lists\nreturn 0",
                                               tmp_path)
    found = PlaceholderCheck()(request, candidate)
    assert rules(found) == ["placeholder"] and "TODO" in found[0].reason


def test_todo_inside_a_string_is_not_a_placeholder(tmp_path: Path) -> None:
    request, candidate = request_and_candidate('return len("TODO list: " + path)', tmp_path)
    assert PlaceholderCheck()(request, candidate) == []


def test_the_users_own_todo_comment_is_not_the_candidates(tmp_path: Path) -> None:
    original = ORIGINAL.replace("import math\n", "import math  # TODO: drop math\n")
    request, candidate = request_and_candidate("return len(items)", tmp_path, original)
    assert PlaceholderCheck()(request, candidate) == []


def test_stub_helper_is_a_placeholder_but_except_pass_is_not(tmp_path: Path) -> None:
    request, stub = request_and_candidate(
        "def inner(x):\n    pass\nreturn inner(items)", tmp_path)
    assert rules(PlaceholderCheck()(request, stub)) == ["placeholder"]
    request, fine = request_and_candidate(
        "try:\n    return int(path)\nexcept ValueError:\n    pass\nreturn 0", tmp_path)
    assert PlaceholderCheck()(request, fine) == []


def test_no_second_placeholder_finding_when_the_action_found_one(tmp_path: Path) -> None:
    request, candidate = request_and_candidate("# TODO\nreturn 1", tmp_path)
    candidate.findings.append(Finding("placeholder", "from Generate", 0.3))
    assert PlaceholderCheck()(request, candidate) == []


# -- trivial bodies -------------------------------------------------------------------------------
def test_constant_contradicted_by_the_docstring_is_fatal(tmp_path: Path) -> None:
    request, candidate = request_and_candidate("return 0", tmp_path)
    found = TrivialBodyCheck()(request, candidate)
    assert rules(found) == ["trivial-body"] and found[0].fatal
    assert 'target("a", [1, 2, 3])' in found[0].reason


def test_unchanged_argument_contradicted_by_the_docstring_is_fatal(tmp_path: Path) -> None:
    original = '''def double(x: int) -> int:
    """Twice x.

    >>> double(3)
    6
    """
    pass
'''
    request, candidate = request_and_candidate("return x", tmp_path, original)
    assert rules(TrivialBodyCheck()(request, candidate)) == ["trivial-body"]


def test_identity_that_the_docstring_agrees_with_is_fine(tmp_path: Path) -> None:
    original = '''def same(x: int) -> int:
    """x itself.

    >>> same(3)
    3
    """
    pass
'''
    request, candidate = request_and_candidate("return x", tmp_path, original)
    assert TrivialBodyCheck()(request, candidate) == []


def test_constant_without_examples_ignores_its_parameters(tmp_path: Path) -> None:
    original = "def size(items):\n    \"\"\"How many items.\"\"\"\n    pass\n"
    request, candidate = request_and_candidate("return []", tmp_path, original)
    found = TrivialBodyCheck()(request, candidate)
    assert rules(found) == ["ignores-parameters"] and not found[0].fatal
    request, real = request_and_candidate("return len(items)", tmp_path, original)
    assert TrivialBodyCheck()(request, real) == []


# -- Fix: the region ------------------------------------------------------------------------------
FIX_ORIGINAL = '''def first(a):
    return a


def broken(x):
    y = x +
    return y


def last(b, c):
    return b + c
'''


def fix_candidate(new: str, tmp_path: Path) -> tuple[ActionRequest, Candidate]:
    request = ActionRequest(FIX_ORIGINAL, Pos(5, 4), path=tmp_path / "fix.py",
                            workspace=tmp_path)
    return request, Candidate(None, new_source=new,
                              region=(4, 6))


def test_fix_inside_the_region_is_fine(tmp_path: Path) -> None:
    new = FIX_ORIGINAL.replace("    y = x +\n", "    y = x + 1\n")
    request, candidate = fix_candidate(new, tmp_path)
    assert FixScopeCheck()(request, candidate) == []
    new_import = "import math\n" + new
    request, candidate = fix_candidate(new_import, tmp_path)
    assert FixScopeCheck()(request, candidate) == []


def test_fix_that_strays_removes_or_changes_signatures(tmp_path: Path) -> None:
    new = (FIX_ORIGINAL.replace("    y = x +\n", "    y = x + 1\n")
           .replace("def last(b, c):\n    return b + c\n", "def last(b):\n    return b\n")
           .replace("def first(a):\n    return a\n\n\n", ""))
    request, candidate = fix_candidate(new, tmp_path)
    found = FixScopeCheck()(request, candidate)
    assert rules(found) == ["removed-function", "signature-changed", "outside-region"]
    assert "`first`" in found[0].reason and "`last`" in found[1].reason


def test_candidates_without_a_region_are_not_fix_checked(tmp_path: Path) -> None:
    request, candidate = request_and_candidate("return 1", tmp_path)
    assert FixScopeCheck()(request, candidate) == []


# -- the whole set --------------------------------------------------------------------------------
def test_default_validators_on_a_good_and_a_hallucinating_candidate(tmp_path: Path) -> None:
    validators = default_validators(tmp_path)
    request, good = request_and_candidate(
        "return len(os.path.join(path, 'x')) + sum(items) - len(path) - 2", tmp_path)
    assert [f for v in validators for f in v(request, good)] == []
    request, bad = request_and_candidate(
        "import numpyy\nreturn os.path.joinx(path) + helper() + undefined_fn()", tmp_path)
    found = rules([f for v in validators for f in v(request, bad)])
    assert {"unresolved-import", "unknown-attribute", "wrong-arity",
            "missing-function"} <= set(found)


def test_non_python_candidates_are_left_alone(tmp_path: Path) -> None:
    request = ActionRequest("let x = 1;\n", Pos(0, 0), language="javascript")
    candidate = Candidate(None, new_source="let x = undefinedThing.foo;\n")
    assert [f for v in default_validators(tmp_path) for f in v(request, candidate)] == []


def test_written_lines_are_the_new_ones() -> None:
    assert written_lines("a\nb\nc\n", "a\nB\nb2\nc\n") == frozenset({2, 3})


# -- scoring --------------------------------------------------------------------------------------
def test_penalties_add_up_and_clip() -> None:
    findings = [finding("placeholder", "p"), finding("unknown-attribute", "a"),
                finding("doctest-failed", "d", scale=0.5)]
    expected = 1 - (RULES["placeholder"].weight + RULES["unknown-attribute"].weight
                    + RULES["doctest-failed"].weight * 0.5)
    assert confidence(findings) == pytest.approx(max(0.0, expected))
    many = [finding("missing-function", "m")] * 5
    assert confidence(many) == 0.0
    assert confidence([]) == 1.0


def test_any_fatal_finding_makes_confidence_zero() -> None:
    findings = [finding("trivial-body", "t")]
    assert findings[0].fatal and confidence(findings) == 0.0
    candidate = Candidate(None, findings=findings)
    assert score(candidate) == confidence(findings)


def test_finding_uses_overridden_weights() -> None:
    assert finding("placeholder", "p", weights={"placeholder": 0.05}).penalty == 0.05


def test_auroc_known_values() -> None:
    assert auroc([0.9, 0.8, 0.3, 0.1], [True, True, False, False]) == 1.0
    assert auroc([0.1, 0.3, 0.8, 0.9], [True, True, False, False]) == 0.0
    assert auroc([0.5, 0.5], [True, False]) == 0.5
    assert math.isnan(auroc([0.5], [True]))


def test_best_threshold_separates() -> None:
    assert best_threshold([1.0, 0.9, 0.4, 0.2], [True, True, False, False]) == 0.9


def test_calibration_learns_which_rule_predicts_failure() -> None:
    # "doctest-failed" always means failure; "flake8-style" is noise.
    observations = []
    for i in range(40):
        fails = i % 2 == 0
        magnitudes = {"doctest-failed": 1.0} if fails else {}
        if i % 3 == 0:
            magnitudes["flake8-style"] = 1.0
        observations.append(Observation(magnitudes, False, not fails, group=str(i)))
    start = auroc([confidence_of(o, {"doctest-failed": 0.0, "flake8-style": 0.5})
                   for o in observations], [o.passed for o in observations])
    fitted = calibrate(observations)
    assert fitted.weights["doctest-failed"] > fitted.weights["flake8-style"]
    assert fitted.auroc == 1.0 > start
    assert fitted.support["doctest-failed"] == 20


def test_fix_checks_read_signatures_from_the_tree_when_the_original_parses(
        tmp_path: Path) -> None:
    original = ("def keep(a,\n         b):\n    return a\n\n\n"
                "def bug(x):\n    unused = 1\n    return x\n")
    request = ActionRequest(original, Pos(6, 4), path=tmp_path / "ok.py", workspace=tmp_path)
    region = (5, 7)
    fixed = original.replace("    unused = 1\n", "")
    assert FixScopeCheck()(request, Candidate(None, new_source=fixed, region=region)) == []
    # The same parameters on one line is not a new signature; an extra parameter is.
    reflowed = fixed.replace("def keep(a,\n         b):", "def keep(a, b):")
    found = FixScopeCheck()(request, Candidate(None, new_source=reflowed, region=region))
    assert "signature-changed" not in rules(found)
    widened = fixed.replace("def keep(a,\n         b):", "def keep(a, b, c=0):")
    found = FixScopeCheck()(request, Candidate(None, new_source=widened, region=region))
    assert "signature-changed" in rules(found) and "outside-region" in rules(found)


def test_a_fix_that_changes_what_a_function_returns_is_penalised(tmp_path: Path) -> None:
    original = ('"""Disk."""\n\nimport os\n\n\ndef usage(folder):\n'
                '    return os.popen("du -sh " + folder).read()\n')
    request = ActionRequest(original, Pos(6, 4), path=tmp_path / "disk.py", workspace=tmp_path)
    region = (5, 6)
    changed = original.replace("import os", "import subprocess").replace(
        'os.popen("du -sh " + folder).read()',
        'subprocess.run(["du", "-sh", folder], capture_output=True, text=True)')
    found = ReturnTypeCheck(tmp_path)(request, Candidate(None, new_source=changed,
                                                         region=region))
    assert rules(found) == ["return-type-changed"]
    assert "`usage`" in found[0].reason and "CompletedProcess" in found[0].reason
    kept = changed.replace("text=True)", "text=True).stdout")
    assert ReturnTypeCheck(tmp_path)(request, Candidate(None, new_source=kept,
                                                        region=region)) == []
