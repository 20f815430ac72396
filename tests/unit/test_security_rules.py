"""Tests for Hearth's security guardrail rules (HS1xx)."""

from __future__ import annotations

import inspect
import json
import re
import textwrap
from pathlib import Path

import pytest

from hearth.core.analysis.findings import Finding, Severity
from hearth.core.analysis.security import RULES, scan, unknown_rule_ids

DOCS = Path(__file__).resolve().parents[2] / "docs" / "security-rules.md"

# Built at run time so that this file does not itself contain anything that looks like a key.
GITHUB_TOKEN = "ghp_" + "aB3dE5fG7hI9jK1lM3nO5pQ7rS9tU1vW3xY5"
AWS_KEY_ID = "AKIA" + "Q3EGRXPL7TZMW2VN"
SLACK_TOKEN = "xoxb-" + "2718281828-3141592653-Zq8Xw7Vu6Ts5"
GOOGLE_KEY = "AIza" + "SyD4x7Qm2Lp9Rt6Vw3Yz8Bc1Fg5Hj0Kn4Mq"
STRIPE_KEY = "sk_live_" + "51Hx7Qm2Lp9Rt6Vw3Yz8Bc1F"
JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"
    + ".eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4ifQ"
    + ".SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
)
PRIVATE_KEY = (
    "-----BEGIN RSA " + "PRIVATE KEY-----\n"
    "MIIEowIBAAKCAQEA7V8n2Qm4Lp9Rt6Vw3Yz8Bc1Fg5Hj0Kn4MqXs2Ub\n-----END RSA PRIVATE KEY-----"
)


def found(source: str, **kwargs) -> list[tuple[str, int, int, int, int]]:
    return [
        (f.code, f.line, f.column, f.end_line, f.end_column)
        for f in scan(textwrap.dedent(source), **kwargs)
    ]


def found_codes(source: str, **kwargs) -> list[str]:
    return [f.code for f in scan(textwrap.dedent(source), **kwargs)]


# Each rule: sources that must fire it, and near misses that must not.
CASES = {
    "HS101": (
        [
            "eval(user_input)",
            "exec(f'print({x})')",
            "import builtins\nbuiltins.eval(s)",
            "def f(src):\n    exec(compile(src, 'f', 'exec'))",
        ],
        [
            "eval('1 + 2')",
            "exec('x = 1')",
            "compile('x' + 'y', 'f', 'eval')",
            "compile(src, 'f', 'exec')",
            "ast.literal_eval(s)",
            "obj.eval(s)",
        ],
    ),
    "HS102": (
        [
            "import os\nos.system(cmd)",
            "import os\nos.popen('ls ' + d)",
            "import subprocess\nsubprocess.getoutput(c)",
        ],
        [
            "import os\nos.path.join(a, b)",
            "from platform import system\nsystem()",
            "import os\nos.getcwd()",
        ],
    ),
    "HS103": (
        [
            "import subprocess\nsubprocess.run(cmd, shell=True)",
            "import subprocess\nsubprocess.Popen(cmd, shell=1)",
            "import subprocess\nsubprocess.check_output(cmd, shell=True, text=True)",
        ],
        [
            "import subprocess\nsubprocess.run(['ls'], shell=False)",
            "import subprocess\nsubprocess.run(['ls'])",
            "import subprocess\nsubprocess.run(cmd, shell=use_shell)",
            "runner.run(cmd, shell=True)",
        ],
    ),
    "HS104": (
        [
            "import pickle\npickle.loads(data)",
            "import marshal\nmarshal.load(f)",
            "import dill\ndill.loads(b)",
            "import cPickle\ncPickle.load(f)",
        ],
        [
            "import pickle\npickle.dumps(obj)",
            "import json\njson.loads(data)",
            "import marshal\nmarshal.dumps(x)",
        ],
    ),
    "HS105": (
        [
            "import yaml\nyaml.load(f)",
            "import yaml\nyaml.load(f, Loader=yaml.Loader)",
            "import yaml\nyaml.load(f, yaml.FullLoader)",
            "import yaml\nyaml.unsafe_load(f)",
            "import yaml\nyaml.load_all(f)",
        ],
        [
            "import yaml\nyaml.load(f, Loader=yaml.SafeLoader)",
            "import yaml\nyaml.load(f, yaml.CSafeLoader)",
            "from yaml import CSafeLoader as Loader\nimport yaml\nyaml.load(f, Loader=Loader)",
            "import yaml\nyaml.safe_load(f)",
        ],
    ),
    "HS106": (
        [
            "cur.execute(f'SELECT * FROM users WHERE id = {uid}')",
            "cur.execute('SELECT * FROM users WHERE name = %s' % name)",
            "cur.execute('DELETE FROM users WHERE id = ' + uid)",
            "cur.executemany('INSERT INTO t VALUES ({})'.format(v), rows)",
            "q = f'SELECT * FROM t WHERE a = {a}'\ncur.execute(q)",
            "q = 'SELECT * FROM t WHERE 1 = 1'\nq += f' AND b = {b}'\ncur.execute(q)",
            "from sqlalchemy import text\nsession.execute(text(f'SELECT * FROM t WHERE a = {a}'))",
        ],
        [
            "cur.execute('SELECT * FROM users WHERE id = ?', (uid,))",
            "cur.execute('SELECT * FROM users WHERE name = %s', (name,))",
            "cur.execute('SELECT * ' + 'FROM users')",
            "q = 'SELECT * FROM t WHERE a = ?'\ncur.execute(q, (a,))",
            "executor.execute(f'{task_name}')",
            "cur.execute(query, params)",
        ],
    ),
    "HS107": (
        [
            "import os\nos.chmod(path, 0o777)",
            "import os\nos.chmod(path, 0o666)",
            "import os, stat\nos.chmod(p, stat.S_IRWXU | stat.S_IWOTH)",
            "Path('x').chmod(0o777)",
        ],
        [
            "import os\nos.chmod(path, 0o755)",
            "import os\nos.chmod(path, 0o600)",
            "import os, stat\nos.chmod(p, stat.S_IRUSR | stat.S_IWUSR)",
            "import os\nos.chmod(path, mode)",
        ],
    ),
    "HS108": (
        [
            "import tempfile\ntempfile.mktemp()",
            "import tempfile\nname = tempfile.mktemp(suffix='.txt')",
        ],
        ["import tempfile\ntempfile.mkstemp()", "import tempfile\ntempfile.NamedTemporaryFile()"],
    ),
    "HS109": (
        [
            f"key = {AWS_KEY_ID!r}",
            f"KEY = {PRIVATE_KEY!r}",
            f"client = Github({GITHUB_TOKEN!r})",
            f"SLACK = {SLACK_TOKEN!r}",
            f"maps(key={GOOGLE_KEY!r})",
            f"stripe.api_key = {STRIPE_KEY!r}",
            f"headers = {{'Authorization': 'Bearer {JWT}'}}",
            "github_pat = 'github_pat_"
            + "11AB2CD3EF4GH5IJ6KL7MN_8op9QR0st1UV2wx3YZ4ab5CD6ef7GH8ij9KL0mn'",
        ],
        [
            "key = 'AKIAIOSFODNN7EXAMPLE'",
            "key = 'AKIA" + "XXXXXXXXXXXXXXXX'",
            "if line.startswith('-----BEGIN RSA " + "PRIVATE KEY-----'):\n    pass",
            "prefix = 'ghp_'",
            "name = 'stripe_sk_live_docs'",
        ],
    ),
    "HS110": (
        [
            "password = 'hunter2!'",
            "DB_PASSWORD: str = 'correct horse'",
            "self.api_key = 'a1b2c3d4e5'",
            "connect(host='db', passwd='s3cr3t!')",
            "config = {'secret_key': 'kq9!x2@z'}",
            "settings['token'] = 'abc123def'",
            "def login(user, password='letmein99'):\n    pass",
            "apiKey = 'k-123-abc'",
        ],
        [
            "password = ''",
            "password = os.environ['PASSWORD']",
            "password = getpass.getpass()",
            "password = '<your password here>'",
            "api_key = 'CHANGEME'",
            "token = 'HEARTH_API_KEY'",
            "token = '${API_TOKEN}'",
            "password = 'xxxxxxxx'",
            "token_url = 'https://example.org/token'",
            "max_tokens = '512'",
            "connect(user='admin')",
            "def login(password=None):\n    pass",
        ],
    ),
    "HS111": (
        [
            "import requests\nrequests.get(url, verify=False)",
            "import httpx\nhttpx.Client(verify=False)",
            "session.post(url, json=body, verify=False)",
        ],
        [
            "import requests\nrequests.get(url, verify=True)",
            "import requests\nrequests.get(url, verify='/etc/ca.pem')",
            "import requests\nrequests.get(url)",
            "checker.validate(doc, verify=False)",
        ],
    ),
}


def test_every_rule_has_cases():
    assert set(CASES) == set(RULES)


@pytest.mark.parametrize(
    ("rule_id", "source"),
    [(rule_id, source) for rule_id, (hits, _) in CASES.items() for source in hits],
)
def test_rule_fires(rule_id, source):
    assert found_codes(source) == [rule_id]


@pytest.mark.parametrize(
    ("rule_id", "source"),
    [(rule_id, source) for rule_id, (_, misses) in CASES.items() for source in misses],
)
def test_near_miss_does_not_fire(rule_id, source):
    assert found_codes(source) == []


# --- positions and messages ------------------------------------------------------------------


def test_call_findings_highlight_the_callee():
    assert found("import os\nos.system(cmd)\n") == [("HS102", 1, 0, 1, 9)]


def test_shell_true_highlights_the_keyword():
    source = "import subprocess\nsubprocess.run(cmd, shell=True)\n"
    assert found(source) == [("HS103", 1, 20, 1, 30)]


def test_positions_are_code_points_after_non_ascii_text():
    source = "s = '日本😀'; eval(t)\n"
    assert found(source) == [("HS101", 0, 11, 0, 15)]
    assert source[11:15] == "eval"


def test_secret_span_is_the_token_itself():
    source = f"url = 'https://x/?k={GOOGLE_KEY}'\n"
    [(code, line, column, end_line, end_column)] = found(source)
    assert code == "HS109"
    assert source[column:end_column] == GOOGLE_KEY


def test_secret_messages_never_contain_the_secret():
    findings = scan(f"password = 's3cr3t!pw'\ntoken = {GITHUB_TOKEN!r}\n")
    assert [f.code for f in findings] == ["HS110", "HS109"]
    for finding in findings:
        assert "s3cr3t" not in finding.message
        assert GITHUB_TOKEN not in finding.message
    assert findings[0].message == "Hard-coded secret assigned to 'password'"
    assert findings[1].message == "Hard-coded GitHub token in a string literal"


def test_finding_metadata():
    [finding] = scan("import pickle\npickle.loads(blob)\n")
    assert finding == Finding(
        code="HS104",
        message="pickle.loads() of `blob`, a name defined elsewhere: data in it can name any "
        "function to call while it loads",
        line=1,
        column=0,
        end_line=1,
        end_column=12,
        severity=Severity.WARNING,
        source="hearth",
        url="https://cwe.mitre.org/data/definitions/502.html",
        explanation=RULES["HS104"].explanation,
    )


def test_secrets_and_dynamic_code_are_errors_the_rest_warnings():
    errors = {rule.id for rule in RULES.values() if rule.severity is Severity.ERROR}
    assert errors == {"HS101", "HS109", "HS110"}
    assert {rule.severity for rule in RULES.values()} == {Severity.ERROR, Severity.WARNING}


def test_crlf_source():
    assert found("import os\r\nx = 1\r\nos.system(c)\r\n") == [("HS102", 2, 0, 2, 9)]


def test_multi_line_call():
    source = """\
    import subprocess
    subprocess.run(
        cmd,
        shell=True,
    )
    """
    assert found(source) == [("HS103", 3, 4, 3, 14)]


# --- aliases ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "rule_id"),
    [
        ("import subprocess as sp\nsp.run(c, shell=True)", "HS103"),
        ("from subprocess import Popen as P\nP(c, shell=True)", "HS103"),
        ("from subprocess import *\ncheck_call(c, shell=True)", "HS103"),
        ("from os import system\nsystem(c)", "HS102"),
        ("from os import system as run_it\nrun_it(c)", "HS102"),
        ("from pickle import loads as l\nl(data)", "HS104"),
        ("import pickle as pk\npk.load(f)", "HS104"),
        ("import yaml as y\ny.load(f)", "HS105"),
        ("from yaml import load\nload(f)", "HS105"),
        ("import os.path\nos.system(c)", "HS102"),
        ("from tempfile import mktemp\nmktemp()", "HS108"),
        ("import requests as rq\nrq.post(u, verify=False)", "HS111"),
        ("from os import chmod\nchmod(p, 0o777)", "HS107"),
        ("def f():\n    import subprocess as s\n    s.call(c, shell=True)", "HS103"),
        (
            "try:\n    import cPickle as pickle\nexcept ImportError:\n    import pickle\n"
            "pickle.loads(b)",
            "HS104",
        ),
    ],
)
def test_aliases_are_resolved(source, rule_id):
    assert found_codes(source) == [rule_id]


@pytest.mark.parametrize(
    "source",
    [
        "from mylib import system\nsystem(c)",
        "import mylib as os\nos.system(c)",
        "from myyaml import load\nload(f)",
        "from safe import loads\nloads(x)",
        "import ruamel.yaml as yaml\nyaml.load(f)",
    ],
)
def test_aliases_to_other_modules_do_not_fire(source):
    assert found_codes(source) == []


def test_names_never_imported_stand_for_themselves():
    # Generated snippets often leave out their imports.
    assert found_codes("os.system(cmd)\nyaml.load(f)\n") == ["HS102", "HS105"]


# --- noqa and disabled rules -----------------------------------------------------------------


def test_noqa_with_the_rule_id_silences_it():
    assert found_codes("eval(x)  # noqa: HS101\n") == []
    assert found_codes("eval(x)  # NOQA:HS101,E501\n") == []
    assert found_codes("eval(x)  # noqa: E501, HS101\n") == []
    assert found_codes("eval(x)  # noqa: HS1\n") == []


def test_noqa_for_other_codes_or_bare_noqa_does_not_silence():
    assert found_codes("eval(x)  # noqa: F401\n") == ["HS101"]
    assert found_codes("eval(x)  # noqa\n") == ["HS101"]
    assert found_codes("eval(x)  # noqa: HS102\n") == ["HS101"]


def test_noqa_only_covers_its_own_line():
    assert found_codes("eval(x)  # noqa: HS101\neval(y)\n") == ["HS101"]


def test_noqa_in_a_string_is_not_a_comment():
    assert found_codes("eval(x + '# noqa: HS101')\n") == ["HS101"]


def test_noqa_anywhere_on_a_multi_line_call():
    source = """\
    import subprocess
    subprocess.run(
        cmd,
        shell=True,
    )  # noqa: HS103
    """
    assert found_codes(source) == []


def test_disabled_rules_are_skipped():
    source = "eval(x)\nimport os\nos.system(c)\n"
    assert found_codes(source) == ["HS101", "HS102"]
    assert found_codes(source, disabled=["HS101"]) == ["HS102"]
    assert found_codes(source, disabled=("hs102 ", "HS101")) == []
    assert found_codes(source, disabled=["HS999"]) == ["HS101", "HS102"]


def test_unknown_rule_ids():
    assert unknown_rule_ids(["HS101", "hs110", "HS999", "B101"]) == ["HS999", "B101"]


# --- robustness ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        "",
        "def (:",
        "x = (1,",
        "a\x00b",
        "\ud800 = 1",
        "x = " + "+".join(["a"] * 20000),
        "\t\t\n\x0c",
        None,
        b"eval(x)",
    ],
)
def test_never_raises(source):
    result = scan(source)
    assert isinstance(result, list)
    assert all(finding.source == "hearth" for finding in result)


def test_unparseable_source_gives_no_findings():
    assert scan("eval(x)\ndef (:\n") == []


def test_scans_real_modules_without_error():
    for module in (json, re, inspect, textwrap):
        findings = scan(inspect.getsource(module))
        assert all(finding.code in RULES for finding in findings)


# --- documentation ---------------------------------------------------------------------------


def test_rule_metadata_is_complete():
    for rule_id, rule in RULES.items():
        assert re.fullmatch(r"HS1\d\d", rule_id) and rule.id == rule_id
        assert rule.name and rule.explanation and rule.alternative
        assert "\n" not in rule.message


def test_docs_table_lists_every_rule():
    text = DOCS.read_text(encoding="utf-8")
    table_ids = re.findall(r"^\|\s*(HS1\d\d)\s*\|", text, flags=re.MULTILINE)
    assert table_ids == sorted(RULES)
    for rule in RULES.values():
        assert rule.name in text


def test_a_lone_surrogate_does_not_hide_the_findings() -> None:
    """A client's JSON can carry one (the CLI and other core callers get no clean-up from the
    document store): the scan reads it as U+FFFD, and the positions stay."""
    source = 'import os\n\n\ndef f(x):\n    os.system(x)\n    marker = "\ud800"\n'
    [finding] = scan(source)
    assert (finding.code, finding.line, finding.column) == ("HS102", 4, 4)
