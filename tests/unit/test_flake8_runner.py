"""Tests for running flake8 in-process on source text, and for comparing sets of findings."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from hearth.core.analysis.findings import (
    Finding,
    Severity,
    codes,
    new_findings,
    source_lines,
    utf8_offset_to_column,
)
from hearth.core.analysis.flake8_runner import rule_url, run_flake8, severity_for
from hearth.core.errors import HearthError


def spans(findings: list[Finding]) -> list[tuple[str, int, int, int, int]]:
    return [(f.code, f.line, f.column, f.end_line, f.end_column) for f in findings]


def write_config(root: Path, name: str, text: str) -> Path:
    path = root / name
    path.write_text(text, encoding="utf-8")
    return path


def touch_later(path: Path) -> None:
    """Move the file's mtime forward so a rewrite within one clock tick is still seen."""
    status = path.stat()
    os.utime(path, ns=(status.st_atime_ns, status.st_mtime_ns + 2_000_000_000))


# --- codes and positions ---------------------------------------------------------------------


def test_unused_import_spans_the_import_up_to_the_name():
    [finding] = run_flake8("import os\n", "m.py")
    assert spans([finding]) == [("F401", 0, 0, 0, 9)]
    assert finding.message == "'os' imported but unused"
    assert finding.severity is Severity.WARNING
    assert finding.source == "flake8"
    assert finding.url == "https://www.flake8rules.com/rules/F401.html"


def test_unused_from_import_ends_at_the_bound_name():
    findings = run_flake8("from os import path\nimport os.path as p\n", "m.py")
    assert spans(findings) == [("F401", 0, 0, 0, 19), ("F401", 1, 0, 1, 19)]


def test_unused_local_variable():
    findings = run_flake8("def f():\n    x = 1\n", "m.py")
    assert spans(findings) == [("F841", 1, 4, 1, 5)]
    assert findings[0].message == "local variable 'x' is assigned to but never used"


def test_comparison_to_none_and_true():
    source = "x = 1\nif x == None:\n    pass\nif x == True:\n    pass\n"
    assert spans(run_flake8(source, "m.py")) == [
        ("E711", 1, 5, 1, 7),
        ("E712", 3, 5, 3, 7),
    ]


def test_undefined_name_is_an_error():
    [finding] = run_flake8("print(undefined)\n", "m.py")
    assert spans([finding]) == [("F821", 0, 6, 0, 15)]
    assert finding.severity is Severity.ERROR


@pytest.mark.parametrize(
    ("source", "line", "column", "words"),
    [
        ("x = (1,\n", 0, 4, "was never closed"),
        ("def f(:\n    pass\n", 0, 6, "invalid syntax"),
        ("x = 1\nx = '日本' $ 3\n", 1, 9, "invalid syntax"),
        ("a\x00b\n", 0, 0, "null bytes"),
    ],
)
def test_syntax_error_is_one_e999_at_the_offending_character(source, line, column, words):
    [finding] = run_flake8(source, "m.py")
    assert (finding.code, finding.line, finding.column) == ("E999", line, column)
    assert words in finding.message
    assert finding.severity is Severity.ERROR
    assert finding.end_column > finding.column


def test_code_too_deeply_nested_to_parse_is_reported_not_raised():
    [finding] = run_flake8("x = " + "+".join(["a"] * 20000) + "\n", "m.py")
    assert finding.code == "E999"
    assert "RecursionError" in finding.message


def test_empty_and_blank_sources():
    assert run_flake8("", "m.py") == []
    assert spans(run_flake8("\n", "m.py")) == [("W391", 0, 0, 0, 0)]


def test_crlf_line_endings_are_plain_line_breaks():
    findings = run_flake8("import os\r\nx = 1 \r\ny = 2\r\n", "m.py")
    assert spans(findings) == [("F401", 0, 0, 0, 9), ("W291", 1, 5, 1, 6)]


def test_tab_indentation():
    findings = run_flake8("if True:\n\tx = 1\n", "m.py")
    assert spans(findings) == [("W191", 1, 0, 1, 1)]
    assert findings[0].severity is Severity.INFORMATION


def test_columns_count_code_points_after_emoji_and_cjk():
    # pyflakes reports UTF-8 byte offsets; findings use str indices.
    source = "s = '😀日本'; import sys\n名前 = '日本'\nprint(名前, 未定義)\n"
    findings = run_flake8(source, "m.py")
    assert ("E702", 0, 9, 0, 10) in spans(findings)
    assert ("F401", 0, 11, 0, 21) in spans(findings)
    assert ("F821", 2, 10, 2, 13) in spans(findings)
    for finding in findings:
        line = source.splitlines()[finding.line]
        assert 0 <= finding.column <= finding.end_column <= len(line)


def test_long_line_spans_the_overflow():
    [finding] = run_flake8("x = '" + "a" * 90 + "'\n", "m.py")
    assert spans([finding]) == [("E501", 0, 79, 0, 96)]


def test_noqa_comments_work_on_unsaved_text():
    assert run_flake8("import os  # noqa: F401\n", "m.py") == []
    assert codes(run_flake8("import os  # noqa: E501\n", "m.py")) == {"F401": 1}


def test_lints_the_text_given_not_the_file_on_disk(tmp_path):
    on_disk = tmp_path / "m.py"
    on_disk.write_text("import os\n", encoding="utf-8")
    assert run_flake8("import sys\n\nsys.exit()\n", on_disk) == []
    assert codes(run_flake8("import json\n", on_disk)) == {"F401": 1}


def test_same_findings_as_the_flake8_command(tmp_path):
    source = (
        "import os, sys\n"
        "def f(a, b = 1):\n"
        "    l = [1,2 ,3]\n"
        "    if a == None :\n"
        "        return undefined\n"
        "    return l\n"
    )
    path = tmp_path / "sample.py"
    path.write_text(source, encoding="utf-8")
    completed = subprocess.run(
        [sys.executable, "-m", "flake8", "--isolated", "--format=%(row)d:%(col)d:%(code)s"]
        + ["sample.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    expected = sorted(tuple(line.split(":")) for line in completed.stdout.split())
    assert len(expected) >= 8
    ours = sorted((str(f.line + 1), str(f.column + 1), f.code) for f in run_flake8(source, path))
    assert ours == expected


# --- project configuration -------------------------------------------------------------------


def test_setup_cfg_ignore_is_honoured(tmp_path):
    write_config(tmp_path, "setup.cfg", "[flake8]\nextend-ignore = F401\n")
    assert run_flake8("import os\n", "m.py", project_root=tmp_path) == []
    assert codes(run_flake8("import os\n", "m.py")) == {"F401": 1}


def test_dot_flake8_max_line_length_is_honoured_and_reread_on_change(tmp_path):
    config = write_config(tmp_path, ".flake8", "[flake8]\nmax-line-length = 120\n")
    line_100 = "x = '" + "a" * 94 + "'\n"
    line_130 = "x = '" + "a" * 124 + "'\n"
    assert run_flake8(line_100, "m.py", tmp_path) == []
    [too_long] = run_flake8(line_130, "m.py", tmp_path)
    assert too_long.message == "line too long (130 > 120 characters)"

    config.write_text("[flake8]\nmax-line-length = 90\n", encoding="utf-8")
    touch_later(config)
    assert codes(run_flake8(line_100, "m.py", tmp_path)) == {"E501": 1}


def test_config_appearing_later_is_picked_up(tmp_path):
    assert codes(run_flake8("import os\n", "m.py", tmp_path)) == {"F401": 1}
    write_config(tmp_path, "tox.ini", "[tox]\nenvlist = py311\n\n[flake8]\nignore = F401\n")
    assert run_flake8("import os\n", "m.py", tmp_path) == []


def test_config_files_without_a_flake8_section_are_skipped(tmp_path):
    write_config(tmp_path, "setup.cfg", "[metadata]\nname = demo\n")
    write_config(tmp_path, ".flake8", "[flake8]\nextend-ignore = F401\n")
    assert run_flake8("import os\n", "m.py", tmp_path) == []


def test_per_file_ignores_use_the_file_name(tmp_path):
    write_config(tmp_path, "setup.cfg", "[flake8]\nper-file-ignores =\n    tests/*: F401\n")
    assert run_flake8("import os\n", "tests/test_x.py", tmp_path) == []
    assert codes(run_flake8("import os\n", "pkg/m.py", tmp_path)) == {"F401": 1}
    assert run_flake8("import os\n", tmp_path / "tests" / "test_y.py", tmp_path) == []


def test_excluded_files_get_no_findings(tmp_path):
    write_config(tmp_path, ".flake8", "[flake8]\nextend-exclude = build\n")
    assert run_flake8("import os\n", "build/generated.py", tmp_path) == []
    assert codes(run_flake8("import os\n", "src/m.py", tmp_path)) == {"F401": 1}


def test_invalid_config_is_a_hearth_error_until_fixed(tmp_path):
    config = write_config(tmp_path, ".flake8", "[flake8]\nmax-line-length = lots\n")
    with pytest.raises(HearthError) as raised:
        run_flake8("x = 1\n", "m.py", tmp_path)
    assert ".flake8" in raised.value.message
    assert raised.value.hint
    with pytest.raises(HearthError):
        run_flake8("x = 1\n", "m.py", tmp_path)

    config.write_text("[flake8]\nmax-line-length = 100\n", encoding="utf-8")
    touch_later(config)
    assert run_flake8("x = 1\n", "m.py", tmp_path) == []


def test_invalid_ignore_code_is_a_hearth_error(tmp_path):
    write_config(tmp_path, "setup.cfg", "[flake8]\nignore = not-a-code\n")
    with pytest.raises(HearthError, match="setup.cfg"):
        run_flake8("x = 1\n", "m.py", tmp_path)


# --- severity and urls -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "severity"),
    [
        ("E999", Severity.ERROR),
        ("E902", Severity.ERROR),
        ("F821", Severity.ERROR),
        ("F822", Severity.ERROR),
        ("F823", Severity.ERROR),
        ("F831", Severity.ERROR),
        ("F632", Severity.ERROR),
        ("F706", Severity.ERROR),
        ("F401", Severity.WARNING),
        ("F841", Severity.WARNING),
        ("E711", Severity.WARNING),
        ("E501", Severity.WARNING),
        ("W291", Severity.INFORMATION),
        ("C901", Severity.INFORMATION),
        ("B006", Severity.WARNING),
    ],
)
def test_severity_mapping(code, severity):
    assert severity_for(code) is severity


def test_rule_urls():
    assert rule_url("E711") == "https://www.flake8rules.com/rules/E711.html"
    assert rule_url("W605") == "https://www.flake8rules.com/rules/W605.html"
    assert rule_url("C901") == "https://www.flake8rules.com/rules/C901.html"
    assert rule_url("B006") is None
    assert rule_url("C401") is None


# --- comparing findings ----------------------------------------------------------------------


def test_new_findings_tolerates_moved_lines():
    before = run_flake8("import os\n\nx = 1\n", "m.py")
    after = run_flake8("import sys\nimport os\n\nx = 1\n", "m.py")
    added = new_findings(before, after)
    assert [(f.code, f.message, f.line) for f in added] == [
        ("F401", "'sys' imported but unused", 0)
    ]


def test_new_findings_ignores_line_numbers_inside_messages():
    before = run_flake8("import os\nimport os\n", "m.py")
    after = run_flake8("\n\nimport os\nimport os\n", "m.py")
    assert codes(before)["F811"] == 1
    assert new_findings(before, after) == []


def test_new_findings_counts_repeats():
    before = run_flake8("def f():\n    x = 1\n", "m.py")
    after = run_flake8("def f():\n    x = 1\n\n\ndef g():\n    x = 1\n", "m.py")
    assert codes(new_findings(before, after)) == {"F841": 1}


def test_codes_counts_each_code():
    findings = run_flake8("import os\nimport sys\nprint(y)\n", "m.py")
    assert codes(findings) == {"F401": 2, "F821": 1}


def test_source_lines_and_byte_offsets():
    assert source_lines("a\r\nb\rc\nd") == ["a\n", "b\n", "c\n", "d"]
    assert source_lines("a\x0cb\u2028c") == ["a\x0cb\u2028c"]
    assert utf8_offset_to_column("😀x", 4) == 1
    assert utf8_offset_to_column("日本x", 6) == 2
    assert utf8_offset_to_column("abc", 0) == 0


def test_a_lone_surrogate_is_linted_not_raised():
    findings = run_flake8('x = "\ud800"\nimport os\n', "a.py")
    assert ("F401", 1, 0) in [(f.code, f.line, f.column) for f in findings]
