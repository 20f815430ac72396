"""Tests for the output guard: new security findings, misplaced secrets, side effects in pure
functions (HS1xx, HG302, HG401, HG402)."""

from __future__ import annotations

import textwrap

import pytest

from hearth.core.guardrails import WARN_PENALTY, check_output, looks_pure
from hearth.settings import GuardrailSettings

WARN = GuardrailSettings(policy="warn")
BLOCK = GuardrailSettings(policy="block")

STUB = textwrap.dedent('''\
    import os


    def total(xs):
        """Sum of xs."""
        ...
    ''')


def with_body(body: str, module: str = STUB) -> str:
    return module.replace("    ...\n", textwrap.indent(textwrap.dedent(body), "    "))


def rules(findings) -> list[str]:
    return [finding.rule for finding in findings]


def test_a_clean_answer_has_no_findings() -> None:
    assert check_output(STUB, with_body("return sum(xs)\n"), target_name="total",
                        settings=WARN) == []


def test_a_new_dangerous_construct_is_reported_with_its_rule_and_line() -> None:
    [finding] = check_output(STUB, with_body("os.system(xs)\nreturn sum(xs)\n"),
                             target_name="total", settings=WARN)
    assert finding.rule == "HS102"
    # The rest of the message is the security rule's own (docs/security-rules.md).
    assert finding.reason.startswith("HS102 shell-command: new in the answer at line 6: ")


def test_a_construct_the_code_already_had_is_not_blamed() -> None:
    original = with_body("os.system(xs)\n...\n")
    candidate = with_body("os.system(xs)\nreturn sum(xs)\n")
    assert check_output(original, candidate, target_name="total", settings=WARN) == []


def test_a_second_copy_of_an_old_construct_is_new() -> None:
    original = with_body("os.system(xs)\n...\n")
    candidate = with_body("os.system(xs)\nos.system(xs)\nreturn sum(xs)\n")
    assert rules(check_output(original, candidate, settings=WARN)) == ["HS102"]


def test_a_waiver_the_model_writes_does_not_hide_what_it_added() -> None:
    candidate = with_body("os.system(xs)  # noqa: HS102\nreturn sum(xs)\n")
    assert rules(check_output(STUB, candidate, settings=WARN)) == ["HS102"]


def test_a_waived_construct_the_code_already_had_stays_waived() -> None:
    original = with_body("os.system(xs)  # noqa: HS102\n...\n")
    candidate = with_body("os.system(xs)  # noqa: HS102\nreturn 1\n")
    assert check_output(original, candidate, settings=WARN) == []


def test_disabled_security_rules_are_not_checked(caplog: pytest.LogCaptureFixture) -> None:
    candidate = with_body("os.system(xs)\nreturn sum(xs)\n")
    settings = GuardrailSettings(disabled_rules=["HS102", "HG203"])
    assert check_output(STUB, candidate, settings=settings) == []
    # HG ids share the setting and are not passed on to the security scan as unknown ids.
    assert "Unknown security rule ids" not in caplog.text


def test_a_secret_the_model_invents_is_reported() -> None:
    candidate = with_body('api_key = "sk-made-up-by-the-model"\nreturn sum(xs)\n')
    assert rules(check_output(STUB, candidate, settings=WARN)) == ["HS110"]


# -- HG302


def test_a_placeholder_left_in_the_answer_is_reported() -> None:
    candidate = with_body('log.info("key HEARTH_SECRET_1")\nreturn sum(xs)\n')
    [finding] = check_output(STUB, candidate, settings=WARN)
    assert finding.rule == "HG302" and "HEARTH_SECRET_1" in finding.reason


def test_a_placeholder_the_users_code_already_contains_is_not_reported() -> None:
    original = 'LABEL = "HEARTH_SECRET_1"\n' + STUB
    candidate = 'LABEL = "HEARTH_SECRET_1"\n' + with_body("return sum(xs)\n")
    assert check_output(original, candidate, settings=WARN) == []


# -- HG401 / HG402

NETWORK = [
    "import requests\nrequests.post('http://x', json=xs)\n",
    "import socket\nsocket.create_connection(('x', 80))\n",
    "from urllib.request import urlopen\nurlopen('http://x')\n",
    "import http.client\nhttp.client.HTTPSConnection('x')\n",
    "import httpx as h\nh.get('http://x')\n",
    "import aiohttp\naiohttp.ClientSession()\n",
]
DELETION = [
    "os.remove('/tmp/x')\n",
    "os.unlink(path)\n",
    "import shutil\nshutil.rmtree(folder)\n",
    "from pathlib import Path\nPath('x').unlink()\n",
    "path.rmdir()\n",
]
PURE_NEAR_MISSES = [
    "from urllib.parse import quote\nquote('a b')\n",
    "xs.remove(0)\n",
    "import os\nos.path.join('a', 'b')\n",
    "import json\njson.dumps(xs)\n",
]


@pytest.mark.parametrize("body", NETWORK)
def test_network_call_in_a_pure_function(body: str) -> None:
    found = check_output(STUB, with_body(body + "return sum(xs)\n"), target_name="total",
                         settings=WARN)
    assert rules(found) == ["HG401"]


@pytest.mark.parametrize("body", DELETION)
def test_file_deletion_in_a_pure_function(body: str) -> None:
    found = check_output(STUB, with_body(body + "return sum(xs)\n"), target_name="total",
                         settings=WARN)
    assert rules(found) == ["HG402"]


@pytest.mark.parametrize("body", PURE_NEAR_MISSES)
def test_no_side_effect_near_miss(body: str) -> None:
    assert check_output(STUB, with_body(body + "return sum(xs)\n"), target_name="total",
                        settings=WARN) == []


@pytest.mark.parametrize("body", [NETWORK[0], DELETION[0]])
def test_side_effects_are_allowed_where_the_function_is_not_pure(body: str) -> None:
    candidate = with_body(body + "return sum(xs)\n")
    assert check_output(STUB, candidate, target_name="total", pure=False, settings=WARN) == []


def test_pure_is_explicit_when_given() -> None:
    io_module = "import requests\n" + STUB
    candidate = "import requests\n" + with_body("requests.get('http://x')\nreturn 1\n")
    assert rules(check_output(io_module, candidate, pure=True, settings=WARN)) == ["HG401"]


@pytest.mark.parametrize(("module", "target", "pure"), [
    (STUB, "total", True),
    (STUB, None, True),
    (STUB.replace("total", "download_totals"), "download_totals", False),
    (STUB.replace("Sum of xs.", "Sum of the sizes of the files in xs."), "total", False),
    (STUB.replace("def total", "async def total"), "total", False),
    ("import requests\n" + STUB, "total", False),
    ("from urllib import request\n" + STUB, "total", False),
    (STUB + "\ndef clean(p):\n    os.remove(p)\n", "total", False),
    (STUB.replace("def total", "def cleanupCache"), "cleanupCache", False),
    (STUB, "missing", False),
    ("def broken(:\n", "broken", False),
])
def test_looks_pure(module: str, target: str | None, pure: bool) -> None:
    assert looks_pure(module, target) is pure


def test_method_target_uses_its_last_name() -> None:
    module = 'class Stats:\n    def total(self, xs):\n        """Sum."""\n        ...\n'
    assert looks_pure(module, "Stats.total") is True


# -- policy


def test_policy_block_rejects_warn_penalises_off_ignores() -> None:
    candidate = with_body("os.system(xs)\nimport requests\nrequests.get('http://x')\nreturn 1\n")
    blocked = check_output(STUB, candidate, target_name="total", settings=BLOCK)
    assert rules(blocked) == ["HS102", "HG401"]
    assert all(f.fatal and f.decision == "block" and f.penalty == 1.0 for f in blocked)
    warned = check_output(STUB, candidate, target_name="total", settings=WARN)
    assert all(not f.fatal and f.decision == "warn" and f.penalty == WARN_PENALTY
               for f in warned)
    assert 0 < WARN_PENALTY < 1
    assert check_output(STUB, candidate, target_name="total",
                        settings=GuardrailSettings(policy="off")) == []


def test_disabled_guard_rules_are_not_checked() -> None:
    candidate = with_body('import requests\nrequests.get("http://x")\nlog("HEARTH_SECRET_1")\n')
    settings = GuardrailSettings(disabled_rules=["HG401", "HG302"])
    assert check_output(STUB, candidate, target_name="total", settings=settings) == []


def test_nothing_to_check() -> None:
    assert check_output(STUB, None, settings=WARN) == []


def test_a_candidate_that_does_not_parse_is_left_to_the_syntax_check() -> None:
    assert check_output(STUB, "def total(:\n    os.system('x')\n", settings=WARN) == []


@pytest.mark.parametrize("code", [
    "import os\ngetattr(os, 'system')(cmd)\n",
    "__import__('os').system(cmd)\n",
    "import importlib\nimportlib.import_module('subprocess').call(cmd)\n",
    "import subprocess\nopts = {'shell': True}\nsubprocess.run(cmd, **opts)\n",
    "import subprocess\nsubprocess.run(cmd, **dict(shell=True))\n",
    "import shutil, os\nshutil.rmtree(os.path.expanduser('~'))\n",
    "import os\nos.remove('/')\n",
    "import pickle\ndata = pickle.loads(sock.recv(4096))\n",
])
def test_a_disguised_dangerous_call_is_reported(code: str) -> None:
    assert "HG403" in rules(check_output("", code, settings=WARN, pure=False))


@pytest.mark.parametrize("code", [
    "import os\nname = getattr(os, 'sep')\n",
    "import subprocess\nsubprocess.run(['ls'], **opts)\n",
    "import shutil\nshutil.rmtree(tmpdir)\n",
])
def test_ordinary_calls_are_not_disguised_ones(code: str) -> None:
    assert "HG403" not in rules(check_output("", code, settings=WARN, pure=False))


def test_a_disguised_call_the_original_had_is_not_blamed() -> None:
    code = "import os\ngetattr(os, 'system')(cmd)\n"
    assert "HG403" not in rules(check_output(code, code + "x = 1\n", settings=WARN, pure=False))


def test_a_new_command_counts_even_with_a_constant_argument() -> None:
    candidate = with_body("os.system('echo hi')\nreturn sum(xs)\n")
    assert rules(check_output(STUB, candidate, target_name="total", settings=WARN)) == ["HS102"]


@pytest.mark.parametrize("code", [
    "import os\nos.execv('/bin/sh', ['sh', '-c', cmd])\n",
    "import os\nos.spawnl(os.P_WAIT, '/bin/sh', 'sh', '-c', cmd)\n",
])
def test_a_program_started_without_the_shell_rules_names_is_disguised(code: str) -> None:
    assert "HG403" in rules(check_output("", code, settings=WARN, pure=False))
