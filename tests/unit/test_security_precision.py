"""The security rules' precision cases (issue 15): fixed arguments, compile that runs nothing,
test code at hint severity, messages that name the dangerous input; and recall on the
vulnerable snippets of tests/security_corpus."""

from __future__ import annotations

import textwrap

import pytest

from hearth.core.analysis.findings import Severity
from hearth.core.analysis.security import scan
from hearth.core.analysis.security_testcode import is_test_path, severity_for_tests
from tests.security_corpus import corpus


def codes(source: str, **kwargs) -> list[str]:
    return [finding.code for finding in scan(textwrap.dedent(source), **kwargs)]


# -- arguments fixed in the source ------------------------------------------------------------

FIXED = [
    "eval('True')",
    "eval('None')",
    "exec('x = 1')",
    "CODE = 'x = 1'\ndef f():\n    exec(CODE)",  # a module constant defined above
    "def f():\n    exec(CODE)\nCODE = 'x = 1'",  # ... or below its use
    "exec(compile('x = 1', '<s>', 'exec'))",
    "import os\nos.system('ls -l')",
    "import os\nCMD = 'clear'\nos.system(CMD)",
    "import os\nos.system('ls ' + 'x')",
    "import subprocess\nsubprocess.run(['ls', '-l'], shell=True)",
    "import subprocess, sys\nsubprocess.call(f'{sys.executable} -V', shell=True)",
    "import subprocess\nfor c in ('ver', 'cmd /c ver'):\n"
    "    subprocess.check_output(c, shell=True)",
    "import subprocess, shlex\ndef f(p):\n    subprocess.run('ls ' + shlex.quote(p), shell=True)",
    "import pickle\npickle.loads(b'\\x80\\x04K\\x01.')",
    "import pickle\ndef f(o):\n    return pickle.loads(pickle.dumps(o))",
    "import pickle\ndef f(o):\n    data = pickle.dumps(o, 2)\n    return pickle.loads(data)",
    "import yaml\nyaml.load('a: 1')",
    "T = 'users'\ndef f(cur):\n    cur.execute(f'SELECT * FROM {T}')",
    "def f(cur, t):\n    q = t.replace('\"', '\"\"')\n    cur.execute(f'SELECT * FROM \"{q}\"')",
]


@pytest.mark.parametrize("source", FIXED)
def test_a_fixed_argument_is_not_a_finding(source):
    assert codes(source) == []


@pytest.mark.parametrize("source", FIXED[:14])
def test_the_output_guard_can_still_ask_for_fixed_arguments(source):
    assert codes(source, include_constant=True) != []


@pytest.mark.parametrize(("source", "rule"), [
    ("def f(s):\n    eval(s)", "HS101"),
    ("CODE = 'x'\ndef f():\n    global CODE\n    CODE = input()\nexec(CODE)", "HS101"),
    ("import os\ndef f(d):\n    os.system('ls ' + d)", "HS102"),
    ("import subprocess\ndef f(xs):\n    for c in xs:\n        subprocess.call(c, shell=True)",
     "HS103"),
    ("import pickle\ndef f(blob):\n    return pickle.loads(blob)", "HS104"),
    ("def f(cur, t):\n    cur.execute(f'SELECT * FROM {t}')", "HS106"),
])
def test_a_value_from_run_time_is_still_a_finding(source, rule):
    assert codes(source) == [rule]


# -- compile ----------------------------------------------------------------------------------

@pytest.mark.parametrize("source", [
    "def check(src):\n    try:\n        compile(src, 'f', 'exec')\n"
    "    except SyntaxError:\n        return False\n    return True",
    "import dis\ndef show(src):\n    dis.dis(compile(src, 'f', 'exec'))",
    "import dis\ndef show(src):\n    code = compile(src, 'f', 'exec')\n    dis.dis(code)",
    "import ast\ndef tree(src):\n    return compile(src, 'f', 'exec', ast.PyCF_ONLY_AST)",
    "def parse(src):\n    flags = PyCF_ONLY_AST\n    flags |= 0x1000\n"
    "    return compile(src, 'f', 'exec', flags)",
    "def consts(src):\n    return compile(src, 'f', 'exec').co_consts",
])
def test_compile_that_runs_nothing_is_not_a_finding(source):
    assert codes(source) == []


def test_compiled_code_is_reported_where_it_runs_with_its_source():
    [finding] = scan("def run(src):\n    code = compile(src, 'f', 'exec')\n    exec(code)\n")
    assert (finding.code, finding.line) == ("HS101", 2)
    assert "compiled from `src`, a parameter of `run()`" in finding.message


def test_compiled_code_made_into_a_function_is_reported_at_compile():
    source = ("import types\ndef build(src):\n    code = compile(src, 'f', 'exec')\n"
              "    return types.FunctionType(code.co_consts[0], {})\n")
    [finding] = scan(source)
    assert (finding.code, finding.line) == ("HS101", 2)
    assert "types.FunctionType" in finding.message


# -- test code --------------------------------------------------------------------------------

@pytest.mark.parametrize("path", [
    "tests/test_app.py", "tests/helpers.py", "test/support/__init__.py", "pkg/test_io.py",
    "pkg/io_test.py", "conftest.py", "idlelib/idle_test/test_run.py", "src/unit_tests/x.py",
])
def test_test_paths(path):
    assert is_test_path(path)


@pytest.mark.parametrize("path", ["app.py", "src/contest.py", "attestation/x.py", "", None,
                                  "src/latest.py"])
def test_other_paths(path):
    assert not is_test_path(path)


def test_findings_in_test_code_are_hints_by_default():
    source = "def f(s):\n    eval(s)\n"
    [outside] = scan(source, path="app.py")
    [inside] = scan(source, path="tests/test_app.py")
    assert outside.severity is Severity.ERROR and inside.severity is Severity.HINT
    assert outside.message == inside.message


def test_test_functions_and_classes_are_test_code_in_any_file():
    source = ("def test_x(s):\n    eval(s)\n"
              "class TestY:\n    def helper(self, s):\n        eval(s)\n"
              "def f(s):\n    eval(s)\n")
    assert [f.severity for f in scan(source, path="app.py")] == [
        Severity.HINT, Severity.HINT, Severity.ERROR]


def test_the_severity_in_tests_can_be_chosen():
    source = "def f(s):\n    eval(s)\n"
    path = "tests/test_a.py"
    assert scan(source, path=path, test_severity="rule")[0].severity is Severity.ERROR
    assert scan(source, path=path, test_severity="warning")[0].severity is Severity.WARNING
    assert scan(source, path=path, test_severity="off") == []
    with pytest.raises(ValueError, match="test severity must be one of"):
        scan(source, path=path, test_severity="loud")
    assert severity_for_tests(" Hint ") is Severity.HINT


def test_a_real_key_keeps_its_severity_in_tests():
    key = "AKIA" + "Q3EGRXPL7TZMW2VN"
    [finding] = scan(f"KEY = {key!r}\n", path="tests/test_s3.py")
    assert finding.code == "HS109" and finding.severity is Severity.ERROR


# -- messages ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("source", "expected"), [
    ("def calc(user_input):\n    eval(user_input)",
     "eval() of `user_input`, a parameter of `calc()`: the code in it runs"),
    ("import os\ndef f(d):\n    os.system('ls ' + d)",
     "os.system() of `'ls ' + d`, formatted from `d`, a parameter of `f()`"),
    ("import subprocess\nsubprocess.run(input(), shell=True)",
     "subprocess.run() with shell=True of `input()`, the result of `input()`"),
    ("import pickle\ndef f(sock):\n    pickle.loads(sock.recv(9))",
     "pickle.loads() of `sock.recv(9)`, the result of `sock.recv()`"),
    ("import marshal\ndef f(d):\n    marshal.loads(d)", "crafted data can crash the process"),
    ("import yaml\ndef f(path):\n    with open(path) as h:\n        yaml.load(h)",
     "yaml.load() of `h` without a safe Loader, a value taken from `open(path)`"),
    ("def f(cur, name):\n    cur.execute(f\"SELECT 1 FROM t WHERE n = '{name}'\")",
     "SQL passed to execute() is formatted from `name`, a parameter of `f()`"),
    ("import os\nos.chmod(p, 0o777)", "os.chmod() with mode 0o777"),
])
def test_messages_say_what_input_makes_it_dangerous(source, expected):
    [finding] = scan(source)
    assert expected in finding.message


# -- recall on the snippet corpus -------------------------------------------------------------

SNIPPETS = corpus.snippets()


def test_the_corpus_is_big_enough():
    assert sum(1 for snippet in SNIPPETS if snippet.expected) >= 40


def test_recall_on_vulnerable_snippets():
    vulnerable = [snippet for snippet in SNIPPETS if snippet.expected]
    missed = [snippet.path.name for snippet in vulnerable
              if not set(snippet.expected) <= set(codes(snippet.source))]
    assert (len(vulnerable) - len(missed)) / len(vulnerable) >= 0.95, missed


@pytest.mark.parametrize("snippet", [s for s in SNIPPETS if not s.expected],
                         ids=lambda s: s.path.name)
def test_safe_snippets_are_quiet(snippet):
    assert codes(snippet.source) == []


def test_the_judged_findings_are_well_formed():
    table = corpus.judged()
    assert len(table) >= 50
    assert {entry["verdict"] for entry in table.values()} <= set(corpus.VERDICTS)
