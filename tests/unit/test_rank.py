"""Ranking by self-consistency: inputs from type hints, clustering and choosing with crafted
candidates (no model), and the real sandboxed run of docstring examples."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from hearth.core.pipeline.types import ActionRequest, Candidate, Finding
from hearth.core.pipeline.inputs import doctest_examples, inputs_for, values_for
from hearth.core.pipeline.rank import ExecutionRanker, default_ranker, module_name, order
from hearth.core.pipeline.scoring import RULES, THRESHOLD, confidence
from hearth.core.text import Pos

STUB = '''from typing import List


def total(xs: List[int], scale: int) -> int:
    """The sum of xs, times scale.

    >>> total([1, 2], 3)
    9
    >>> total([2], 2)
    4
    """
    pass
'''


def fn_of(source: str) -> ast.FunctionDef:
    return next(n for n in ast.parse(source).body if isinstance(n, ast.FunctionDef))


def annotation(text: str) -> ast.expr:
    return ast.parse(text, mode="eval").body


# -- inputs ---------------------------------------------------------------------------------------
def test_values_cover_edge_cases_per_type() -> None:
    assert {0, 1} <= set(values_for(annotation("int"))) and min(values_for(annotation("int"))) < 0
    strings = values_for(annotation("str"))
    assert "" in strings and any(not s.isascii() for s in strings)
    assert [] in values_for(annotation("list[int]"))
    assert None in values_for(annotation("Optional[str]"))
    assert None in values_for(annotation("int | None"))
    assert {} in values_for(annotation("Dict[str, int]"))
    assert all(isinstance(v, tuple) and len(v) == 2
               for v in values_for(annotation("tuple[int, str]")))
    assert set(values_for(annotation("bool"))) == {True, False}
    assert values_for(None)  # unannotated: a mixed pool


def test_inputs_are_literals_varying_every_parameter() -> None:
    rows = [ast.literal_eval(row) for row in inputs_for(fn_of(STUB))]
    assert 3 <= len(rows) <= 8 and len(set(map(repr, rows))) == len(rows)
    assert all(isinstance(xs, list) and isinstance(scale, int) for xs, scale in rows)
    assert len({repr(xs) for xs, _ in rows}) > 1 and len({scale for _, scale in rows}) > 1


def test_inputs_skip_defaults_and_refuse_required_keyword_only() -> None:
    assert inputs_for(fn_of("def f(a: int, b: int = 2): pass")) == [
        row for row in inputs_for(fn_of("def f(a: int): pass"))]
    assert inputs_for(fn_of("def f(): pass")) == ["()"]
    assert inputs_for(fn_of("def f(a, *, key): pass")) == []


def test_doctest_examples_marked_skip_are_not_checked() -> None:
    fn = fn_of('''def f(d):
    """Values doubled.

    >>> f({"a": 1})  # doctest: +SKIP
    {'a': 2}
    >>> f({})
    {}
    """''')
    assert doctest_examples(fn) == [["f({})\n", "{}\n", None]]


def test_doctest_examples_come_from_the_docstring() -> None:
    assert doctest_examples(fn_of(STUB)) == [["total([1, 2], 3)\n", "9\n", None],
                                             ["total([2], 2)\n", "4\n", None]]


# -- choosing, with crafted behaviours ------------------------------------------------------------
def crafted(*confidences: float) -> list[Candidate]:
    candidates = []
    for value in confidences:
        candidate = Candidate(None, new_source="x = 1\n")
        if value < 1:
            candidate.findings.append(Finding("placeholder", "crafted", penalty=1 - value))
        candidate.confidence = confidence(candidate.findings)
        candidates.append(candidate)
    return candidates


def test_largest_group_beats_a_more_confident_loner() -> None:
    candidates = crafted(1.0, 0.8, 0.8, 0.9)
    keys = {0: ("a",), 1: ("b",), 2: ("b",), 3: ("b",)}
    ranked = order(candidates, keys, threshold=0.6)
    assert ranked[0] is candidates[3]  # the most confident of the largest group
    assert ranked[1] is candidates[0]  # then the rest by confidence


def test_ties_go_to_confidence_then_the_earlier_sample() -> None:
    candidates = crafted(0.9, 0.9, 1.0, 1.0)
    keys = {0: ("a",), 1: ("a",), 2: ("b",), 3: ("b",)}
    assert order(candidates, keys, threshold=0.6)[0] is candidates[2]
    level = crafted(1.0, 1.0, 1.0, 1.0)
    assert order(level, keys, threshold=0.6)[0] is level[0]


def test_candidates_below_the_threshold_do_not_vote() -> None:
    candidates = crafted(0.9, 0.3, 0.3, 0.3)
    keys = {0: ("a",), 1: ("b",), 2: ("b",), 3: ("b",)}
    assert order(candidates, keys, threshold=0.6)[0] is candidates[0]
    # With nobody above the threshold, every usable candidate votes.
    low = crafted(0.5, 0.3, 0.3, 0.3)
    assert order(low, keys, threshold=0.6)[0] is low[1]


def test_unusable_candidates_are_never_chosen() -> None:
    candidates = crafted(1.0, 1.0, 1.0)
    for candidate in candidates[:2]:
        candidate.findings.append(Finding("syntax", "crafted", fatal=True))
        candidate.confidence = 0.0
    keys = {0: ("a",), 1: ("a",), 2: ("b",)}
    assert order(candidates, keys, threshold=0.6)[0] is candidates[2]


# -- the real run in the sandbox ------------------------------------------------------------------
BODIES = {
    "sum": "    return sum(xs) * scale\n",
    "loop": "    result = 0\n    for x in xs:\n        result += x * scale\n    return result\n",
    "wrong": "    return sum(xs) + scale\n",
    "hang": "    while True:\n        pass\n",
    "crash": "    import os\n    os._exit(3)\n",
}


def ranked_run(names: list[str], tmp_path: Path) -> tuple[list[Candidate], list[Candidate]]:
    path = tmp_path / "calc.py"
    path.write_text(STUB, encoding="utf-8")
    request = ActionRequest(STUB, Pos(STUB.count("\n") - 1, 4), path=path, workspace=tmp_path)
    candidates = [Candidate(None, new_source=STUB.replace("    pass\n", BODIES[name]),
                            function="total") for name in names]
    for candidate in candidates:
        candidate.confidence = confidence(candidate.findings)
    return candidates, default_ranker(tmp_path)(request, candidates)


def test_agreeing_correct_candidates_win_and_the_wrong_one_is_penalised(tmp_path: Path) -> None:
    candidates, ranked = ranked_run(["wrong", "sum", "loop"], tmp_path)
    assert ranked[0] is candidates[1]  # sum and loop agree; sum is the earlier sample
    wrong = {f.rule: f for f in candidates[0].findings}
    assert set(wrong) == {"doctest-failed", "disagreement"}
    assert wrong["doctest-failed"].penalty == pytest.approx(
        RULES["doctest-failed"].weight * 1 / 2)  # fails one of the two examples
    assert "1 of the 2" in wrong["doctest-failed"].reason
    # The majority is not unanimous either: a third of the candidates disagree with it.
    assert [f.rule for f in candidates[1].findings] == ["disagreement"]
    assert candidates[1].confidence == pytest.approx(1 - RULES["disagreement"].weight / 3,
                                                     abs=1e-3)
    assert candidates[0].confidence < ranked[0].confidence


def test_a_hang_and_a_crash_do_not_stop_the_others(tmp_path: Path) -> None:
    candidates, ranked = ranked_run(["crash", "hang", "sum"], tmp_path)
    assert ranked[0] is candidates[2]
    assert [f.rule for f in candidates[0].findings] == ["run-error"]
    assert "doctest-failed" in {f.rule for f in candidates[1].findings}


def test_a_single_candidate_is_still_checked_against_its_examples(tmp_path: Path) -> None:
    candidates, ranked = ranked_run(["wrong"], tmp_path)
    assert ranked == candidates
    assert [f.rule for f in candidates[0].findings] == ["doctest-failed"]
    # Nothing speaks for it either: the one example it could pass it fails.
    assert candidates[0].evidence == []


def test_nothing_to_run_falls_back_to_confidence(tmp_path: Path) -> None:
    request = ActionRequest("let x = 1;\n", Pos(0, 0), language="javascript")
    candidates = crafted(0.7, 0.9)
    ranked = ExecutionRanker(tmp_path)(request, candidates)
    assert ranked[0] is candidates[1]
    assert all(len(c.findings) <= 1 for c in candidates)  # nothing added


PROSE = '''def first_vowel(s: str) -> str:
    """The first vowel of s: 'xbac' -> 'a'. Raises ValueError on an empty string."""
    pass
'''
PROSE_BODIES = {
    "right": "    if not s:\n        raise ValueError('empty')\n"
             "    return next(c for c in s if c in 'aeiou')\n",
    "first": "    return s[0]\n",  # raises IndexError on '' and answers 'x' for 'xbac'
    "vowels": "    return [c for c in s if c in 'aeiou']\n",  # a list where a str is due
}


def test_a_docstring_without_doctests_still_judges_by_its_prose_examples(
        tmp_path: Path) -> None:
    path = tmp_path / "words.py"
    path.write_text(PROSE, encoding="utf-8")
    request = ActionRequest(PROSE, Pos(2, 4), path=path, workspace=tmp_path)
    # The wrong answers come first and outnumber the right one: agreement alone would lose.
    names = ["first", "first", "vowels", "right"]
    candidates = [Candidate(None, new_source=PROSE.replace("    pass\n", PROSE_BODIES[name]),
                            function="first_vowel") for name in names]
    for candidate in candidates:
        candidate.confidence = confidence(candidate.findings)
    ranked = default_ranker(tmp_path)(request, candidates)
    assert ranked[0] is candidates[3]
    first = {f.rule: f for f in candidates[0].findings}
    assert first["example-failed"].penalty == pytest.approx(RULES["example-failed"].weight)
    assert ("`first_vowel('xbac')` is `'a'`, but it returns 'x'"
            in first["example-failed"].reason)
    assert "2 of the 2" in first["example-failed"].reason
    vowels = {f.rule: f for f in candidates[2].findings}
    assert "`first_vowel('xbac')` is `'a'`, but it returns ['a']" in (
        vowels["example-failed"].reason)
    assert "example-failed" not in {f.rule for f in candidates[3].findings}
    assert candidates[3].evidence == ["passes the 2 examples its docstring gives"]
    assert candidates[0].confidence < THRESHOLD <= candidates[3].confidence


def test_a_module_of_a_package_runs_with_its_relative_imports(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("", encoding="utf-8")
    (package / "helpers.py").write_text("def double(x):\n    return 2 * x\n", encoding="utf-8")
    # A sibling named like the standard library must not shadow it (funcy has a types.py).
    (package / "types.py").write_text("raise ImportError('shadowed')\n", encoding="utf-8")
    stub = ('from .helpers import double\n\n\ndef quadruple(x: int) -> int:\n'
            '    """Four times x: 3 -> 12."""\n    pass\n')
    path = package / "maths.py"
    path.write_text(stub, encoding="utf-8")
    assert module_name(path) == ("pkg.maths", tmp_path)
    assert module_name(tmp_path / "loose.py") == (None, None)
    request = ActionRequest(stub, Pos(5, 4), path=path, workspace=tmp_path)
    bodies = ["    return double(double(x))\n", "    return double(x)\n"]
    candidates = [Candidate(None, new_source=stub.replace("    pass\n", body),
                            function="quadruple") for body in bodies]
    ranked = default_ranker(tmp_path)(request, candidates)
    assert ranked[0] is candidates[0]
    assert candidates[0].evidence[0] == "passes the 1 example its docstring gives"
    assert {f.rule for f in candidates[1].findings} >= {"example-failed"}
    assert "run-error" not in {f.rule for c in candidates for f in c.findings}


def test_the_signature_s_promises_are_checked_on_the_generated_inputs(tmp_path: Path) -> None:
    stub = 'def count_words(text: str) -> int:\n    """How many words text has."""\n    pass\n'
    path = tmp_path / "words.py"
    path.write_text(stub, encoding="utf-8")
    request = ActionRequest(stub, Pos(2, 4), path=path, workspace=tmp_path)
    bodies = ["    return len(text.split())\n", "    return text.split()\n",
              "    return len(text.words())\n"]
    candidates = [Candidate(None, new_source=stub.replace("    pass\n", body),
                            function="count_words") for body in bodies]
    default_ranker(tmp_path)(request, candidates)
    rules = [{f.rule: f for f in c.findings} for c in candidates]
    assert "wrong-return-type" not in rules[0] and "raises-on-valid-inputs" not in rules[0]
    assert rules[1]["wrong-return-type"].reason.startswith(
        "returns a list where the signature says `int`")
    assert rules[2]["raises-on-valid-inputs"].reason.startswith("raises AttributeError on "
                                                                "every one of the")


def test_an_example_in_the_user_s_instruction_is_a_check_too(tmp_path: Path) -> None:
    # The docstring says nothing checkable; the instruction the user typed does.
    stub = 'def shout(name: str) -> str:\n    """Greet someone loudly."""\n    pass\n'
    path = tmp_path / "greet.py"
    path.write_text(stub, encoding="utf-8")
    request = ActionRequest(stub, Pos(2, 4), path=path, workspace=tmp_path,
                            instruction="wrap it in << >> and upper-case it: 'ada' -> '<<ADA>>'")
    bodies = ["    return name.upper()\n", "    return '<<' + name.upper() + '>>'\n"]
    candidates = [Candidate(None, new_source=stub.replace("    pass\n", body), function="shout")
                  for body in bodies]
    ranked = default_ranker(tmp_path)(request, candidates)
    assert ranked[0] is candidates[1]
    half = {f.rule: f for f in candidates[0].findings}
    assert half["example-failed"].reason.startswith(
        "contradicts the instruction: `shout('ada')` is `'<<ADA>>'`, but it returns 'ADA'")
    assert candidates[0].confidence < THRESHOLD <= candidates[1].confidence
    assert candidates[1].evidence[0] == "passes the 1 example the instruction gives"


def test_a_module_that_does_not_load_even_as_written_leaves_the_answer_unverified(
        tmp_path: Path) -> None:
    # funcy's once_per on the quality corpus: its module did not load in the sandbox before or
    # after the answer, nothing ran, and the answer was shown at confidence 1.0.
    stub = ('import hearth_no_such_dependency\n\n\ndef double(x: int) -> int:\n'
            '    """Twice x.\n\n    >>> double(3)\n    6\n    """\n    pass\n')
    path = tmp_path / "needs_dep.py"
    path.write_text(stub, encoding="utf-8")
    request = ActionRequest(stub, Pos(9, 4), path=path, workspace=tmp_path)
    candidate = Candidate(None, new_source=stub.replace("    pass\n", "    return 2 * x\n"),
                          function="double")
    default_ranker(tmp_path)(request, [candidate])
    [unverified] = [f for f in candidate.findings if f.rule == "unverified"]
    assert "could not be loaded" in unverified.reason and "ModuleNotFoundError" in \
        unverified.reason
    assert "run-error" not in {f.rule for f in candidate.findings}
    assert confidence(candidate.findings) < THRESHOLD


# -- a fix keeps what the code did ---------------------------------------------------------------
LEGACY = '''def supplier_named(db, name: str) -> list:
    """The rows of table suppliers whose name column is ``name``."""
    return db.execute(f"SELECT * FROM suppliers WHERE name = '{name}'").fetchall()


def enabled(flags, name):
    if flags.get(name) == True:
        return "on"
    return "off"


def label(count: int) -> str:
    return "items: " + str(count)


def stamped(prefix: str) -> str:
    import random
    return prefix + str(random.random())
'''


def fixed_run(tmp_path: Path, old: str, new: str) -> Candidate:
    """A Fix candidate that replaces ``old`` by ``new`` in LEGACY, ranked with the original."""
    path = tmp_path / "legacy.py"
    path.write_text(LEGACY, encoding="utf-8")
    lines = LEGACY.splitlines()
    line = next(n for n, text in enumerate(lines) if old in text)
    request = ActionRequest(LEGACY, Pos(line, 4), path=path, workspace=tmp_path)
    candidate = Candidate(None, new_source=LEGACY.replace(old, new), region=(line, line))
    default_ranker(tmp_path)(request, [candidate])
    return candidate


def test_a_fix_that_returns_the_cursor_instead_of_its_rows_is_caught(tmp_path: Path) -> None:
    # bench-memory's dev project: the SQL "fix" that returned the cursor, at confidence 1.0.
    candidate = fixed_run(tmp_path, "db.execute(f\"SELECT * FROM suppliers WHERE name = "
                          "'{name}'\").fetchall()",
                          "db.execute(\"SELECT * FROM suppliers WHERE name = ?\", (name,))")
    [changed] = [f for f in candidate.findings if f.rule == "behaviour-changed"]
    assert changed.reason == (
        "`supplier_named(db, 'a')` returns `db.execute(…)` after the fix and returned "
        "`db.execute(…).fetchall(…)` before it, `db` being a stand-in that records what is "
        "asked of it (6 of 6 inputs)")
    assert candidate.confidence < THRESHOLD


def test_a_fix_that_keeps_what_the_code_returned_is_not_flagged(tmp_path: Path) -> None:
    candidate = fixed_run(tmp_path, "db.execute(f\"SELECT * FROM suppliers WHERE name = "
                          "'{name}'\").fetchall()",
                          "db.execute(\"SELECT * FROM suppliers WHERE name = ?\", "
                          "(name,)).fetchall()")
    assert "behaviour-changed" not in {f.rule for f in candidate.findings}
    # flake8's own advice for E712 changes nothing the stand-in gave: "off" is computed.
    candidate = fixed_run(tmp_path, "if flags.get(name) == True:", "if flags.get(name):")
    assert "behaviour-changed" not in {f.rule for f in candidate.findings}


def test_a_fix_that_changes_a_plain_result_is_flagged(tmp_path: Path) -> None:
    candidate = fixed_run(tmp_path, 'return "items: " + str(count)',
                          'return f"items: {count + 1}"')
    [changed] = [f for f in candidate.findings if f.rule == "behaviour-changed"]
    assert changed.reason.startswith("`label(0)` returns `'items: 1'` after the fix and "
                                     "returned `'items: 0'` before it")
    assert "stand-in" not in changed.reason


def test_what_differs_from_run_to_run_is_not_held_against_a_fix(tmp_path: Path) -> None:
    candidate = fixed_run(tmp_path, "return prefix + str(random.random())",
                          "return prefix + str(random.SystemRandom().random())")
    assert "behaviour-changed" not in {f.rule for f in candidate.findings}


def test_a_generate_answer_gets_no_stand_ins_and_no_comparison(tmp_path: Path) -> None:
    fn = fn_of(LEGACY)
    assert inputs_for(fn) == inputs_for(fn, stand_ins=())
    assert all("__hearth_stand_in__" not in row for row in inputs_for(fn))
    assert all("__hearth_stand_in__" in row for row in inputs_for(fn, stand_ins=["db"]))


SET_UP = '''def itemmap(func, d):
    """Apply func to the items of d.

    >>> accounts = {"Alice": 10, "Bob": 20}
    >>> itemmap(reversed, accounts)  # doctest: +SKIP
    {10: "Alice", 20: "Bob"}
    >>> pairs = [("x", 1)]
    """
    pass
'''


def test_a_line_that_only_sets_up_an_example_is_no_evidence(tmp_path: Path) -> None:
    path = tmp_path / "dicts.py"
    path.write_text(SET_UP, encoding="utf-8")
    request = ActionRequest(SET_UP, Pos(8, 4), path=path, workspace=tmp_path)
    # Wrong (keys become the items), and nothing the docstring checks can tell: its only
    # check is marked +SKIP, and the two lines left set up values and pass.
    wrong = Candidate(None, new_source=SET_UP.replace(
        "    pass\n", "    return dict(zip(d.items(), map(func, d.values())))\n"),
        function="itemmap")
    default_ranker(tmp_path)(request, [wrong])
    assert [f.rule for f in wrong.findings] == ["unverified"]
    assert "passes" not in " ".join(wrong.evidence)
    # Once a line uses the function, it checks it.
    checked = SET_UP.replace('    >>> pairs = [("x", 1)]\n', '    >>> itemmap(str, {})\n    {}\n')
    right = Candidate(None, new_source=checked.replace(
        "    pass\n", "    return dict(func(item) for item in d.items())\n"), function="itemmap")
    path.write_text(checked, encoding="utf-8")
    request = ActionRequest(checked, Pos(9, 4), path=path, workspace=tmp_path)
    default_ranker(tmp_path)(request, [right])
    assert right.evidence[0] == "passes the 1 example its docstring gives"
