"""Fix's acceptance checks on crafted answers (the model's part is in the e2e tests)."""

from __future__ import annotations

from dataclasses import replace

from hearth.core.pipeline.types import ActionRequest
from hearth.core.actions.fix import FixAction, region_for
from hearth.core.models.backend import Completion
from hearth.core.actions.fix_checks import FixScopeCheck
from hearth.core.text import Pos
from tests.unit.action_steps import candidate_of

MODULE = '''"""Tools."""

import os
import subprocess


def run(cmd):
    return subprocess.run(cmd, shell=True)


def keep():
    return os.sep
'''


def answer(code: str) -> Completion:
    return Completion(f"```python\n{code}```", 20, "stop", 0.1, prefilled=True)


def request(source: str, line: int, code: str) -> ActionRequest:
    return ActionRequest(source, Pos(line, 0), extra={"code": code, "line": line})


def test_offers_one_fix_per_diagnostic_and_only_the_requested_one_on_resolve():
    fix = FixAction()
    titles = [o.title for o in fix.offers(ActionRequest(MODULE, Pos(7, 4)))]
    assert titles[0].startswith("Hearth: Fix HS103")  # security before style (E501)
    [offer] = fix.offers(request(MODULE, 7, "HS103"))
    assert offer.title.startswith("Hearth: Fix HS103") and offer.diagnostics[0].code == "HS103"


def test_a_real_fix_passes_and_a_repeated_import_is_not_duplicated():
    fix = FixAction()
    candidate = candidate_of(fix, request(MODULE, 7, "HS103"), answer(
        "import subprocess\nimport shlex\n\n\ndef run(cmd):\n"
        "    return subprocess.run(shlex.split(cmd))\n"))
    assert candidate.usable, candidate.findings
    assert candidate.details.added_imports == ["import shlex"]
    assert candidate.new_source.count("import subprocess") == 1
    assert "import subprocess\nimport shlex\n" in candidate.new_source
    assert candidate.details.fixed == ["HS103"]


def test_an_answer_that_changes_nothing_is_refused():
    fix = FixAction()
    candidate = candidate_of(fix, request(MODULE, 7, "HS103"), answer(
        "def run(cmd):\n    return subprocess.run(cmd, shell=True)\n"))
    assert not candidate.usable
    assert any(f.rule == "unchanged" for f in candidate.findings)


def test_an_answer_that_adds_a_problem_is_refused():
    fix = FixAction()
    candidate = candidate_of(fix, request(MODULE, 7, "HS103"), answer(
        "def run(cmd):\n    unused = 1\n    return subprocess.run(cmd.split())\n"))
    assert any(f.rule == "new-diagnostic" and "F841" in f.reason for f in candidate.findings)


def test_an_unused_import_is_deleted_with_its_line():
    source = "import os\nimport json\n\n\ndef load(t):\n    return json.loads(t)\n"
    fix = FixAction()
    candidate = candidate_of(fix, request(source, 0, "F401"), answer(""))
    assert candidate.usable, candidate.findings
    assert candidate.new_source == "import json\n\n\ndef load(t):\n    return json.loads(t)\n"


def test_an_import_whose_last_use_the_fix_replaced_goes_with_it():
    source = '"""Archiving."""\n\nimport os\n\n\ndef archive(folder):\n' \
             '    os.system("tar czf backup.tgz " + folder)\n'
    fix = FixAction()
    fix_request = request(source, 6, "HS102")
    candidate = candidate_of(fix, fix_request, answer(
        "import subprocess\n\n\ndef archive(folder):\n"
        '    subprocess.run(["tar", "czf", "backup.tgz", folder], check=True)\n'))
    assert candidate.usable, candidate.findings
    assert candidate.details.removed_imports == ["import os"]
    # The scope check counts that import as part of the fix, not as a change elsewhere.
    assert FixScopeCheck()(fix_request, candidate) == []
    stray = replace(candidate, details=replace(candidate.details, removed_imports=[]))
    assert [f.rule for f in FixScopeCheck()(fix_request, stray)] == ["outside-region"]
    assert candidate.details.added_imports == ["import subprocess"]
    assert candidate.new_source == (
        '"""Archiving."""\n\nimport subprocess\n\n\ndef archive(folder):\n'
        '    subprocess.run(["tar", "czf", "backup.tgz", folder], check=True)\n')


def test_an_import_still_used_elsewhere_or_shared_with_other_names_is_kept():
    fix = FixAction()
    still_used = candidate_of(fix, request(MODULE, 7, "HS103"), answer(
        "import shlex\n\n\ndef run(cmd):\n    return subprocess.run(shlex.split(cmd))\n"))
    assert still_used.details.removed_imports == []  # os and subprocess are still used
    shared = "import os, sys\n\n\ndef run(cmd):\n    os.system(cmd)\n    return sys.argv\n"
    candidate = candidate_of(fix, request(shared, 4, "HS102"), answer(
        "import subprocess\n\n\ndef run(cmd):\n    subprocess.run(cmd.split())\n"
        "    return sys.argv\n"))
    assert candidate.details.removed_imports == []
    assert any(f.rule == "new-diagnostic" and "F401" in f.reason for f in candidate.findings)


def test_a_missing_import_goes_to_the_top():
    source = '"""Geometry."""\n\n\ndef hyp(a, b):\n    return math.sqrt(a * a + b * b)\n'
    fix = FixAction()
    candidate = candidate_of(fix, request(source, 4, "F821"), answer(
        "import math\n\ndef hyp(a, b):\n    return math.sqrt(a * a + b * b)\n"))
    assert candidate.usable, candidate.findings
    assert candidate.new_source.startswith('"""Geometry."""\nimport math\n\n\ndef hyp')


def test_a_lost_function_is_refused():
    source = ("def outer(x):\n    def helper(y):\n        return y == None\n"
              "    return helper(x)\n")
    fix = FixAction()
    candidate = candidate_of(fix, request(source, 2, "E711"), answer(
        "def outer(x):\n    return x is None\n"))
    assert any(f.rule == "lost-function" for f in candidate.findings)


def test_a_syntax_error_region_keeps_the_blank_lines_around_it():
    source = '"""Greet."""\n\n\ndef greet(name)\n    return name\n'
    region = region_for(source, 3)
    assert (region.start, region.end, region.kind) == (0, 4, "lines")
    fix = FixAction()
    candidate = candidate_of(fix, request(source, 3, "E999"), answer(
        '"""Greet."""\n\n\ndef greet(name):\n    return name\n'))
    assert candidate.usable, candidate.findings
    assert candidate.new_source == '"""Greet."""\n\n\ndef greet(name):\n    return name\n'
    assert candidate.findings == []  # no "signature changed": the original had none to parse


def test_fix_hints_prefer_one_instruction_over_the_rules_advice() -> None:
    from hearth.core.actions.fix import HINTS, fix_hint
    from hearth.core.analysis.security import RULES

    assert fix_hint("HS101") == HINTS["HS101"] and "ast.literal_eval" in fix_hint("HS101")
    assert "HS105" not in HINTS and fix_hint("HS105") == RULES["HS105"].alternative
    assert fix_hint("E711") == HINTS["E711"] and fix_hint("W291") is None


def test_blank_lines_the_answer_got_wrong_are_repaired_not_refused():
    source = '"""Greet."""\n\n\ndef greet(name)\n    return name\n'
    fix = FixAction()
    too_few = candidate_of(fix, request(source, 3, "E999"), answer(
        '"""Greet."""\n\ndef greet(name):\n    return name\n'))
    too_many = candidate_of(fix, request(source, 3, "E999"), answer(
        '"""Greet."""\n\n\n\n\ndef greet(name):\n    return name\n'))
    for candidate in (too_few, too_many):
        assert candidate.usable, candidate.findings
        assert candidate.new_source == '"""Greet."""\n\n\ndef greet(name):\n    return name\n'
    nested = "def f(x):\n    y = x == None\n    return y\n"
    candidate = candidate_of(fix, request(nested, 1, "E711"), answer(
        "def f(x):\n    y = x is None\n\n\n    return y\n"))
    assert candidate.usable, candidate.findings
    assert candidate.new_source == "def f(x):\n    y = x is None\n\n    return y\n"


def test_an_answer_that_stops_using_a_parameter_is_refused():
    source = ("def find(cursor, name):\n"
              "    cursor.execute(f\"SELECT id FROM users WHERE name = '{name}'\")\n")
    fix = FixAction()
    dropped = candidate_of(fix, request(source, 1, "HS106"), answer(
        'def find(cursor, name):\n    cursor.execute("SELECT id FROM users WHERE name = ?")\n'))
    assert [f.rule for f in dropped.findings if f.fatal] == ["dropped-input"]
    assert "`name`" in dropped.findings[0].reason
    kept = candidate_of(fix, request(source, 1, "HS106"), answer(
        'def find(cursor, name):\n'
        '    cursor.execute("SELECT id FROM users WHERE name = ?", (name,))\n'))
    assert kept.usable, kept.findings
