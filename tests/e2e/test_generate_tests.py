"""Generate tests on the real default model: through the CLI (`hearth tests FILE:LINE`) and
through a real LSP session; the tests it keeps must pass when the project runs them."""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from lsprotocol import types

from tests.e2e.conftest import (
    ROOT,
    capabilities,
    code_actions,
    open_document,
    require_default_model,
)
from tests.e2e.lsp_utils import position_of

TITLE = "Hearth: Generate tests"
GENERATION = {"samples": 1, "maxTokens": 400}

OPS = '''"""Small helpers for numbers."""


def clamp(value: int, low: int, high: int) -> int:
    """Return value limited to the range [low, high]."""
    if low > high:
        raise ValueError("low must not be greater than high")
    return max(low, min(value, high))
'''

EXISTING_TESTS = '''"""Tests written by hand."""

from calc.ops import clamp


def test_clamp():
    assert clamp(5, 0, 3) == 3
'''


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A src-layout project with one module and a hand-written test."""
    root = tmp_path / "project"
    (root / "src/calc").mkdir(parents=True)
    (root / "tests").mkdir()
    (root / "pyproject.toml").write_text("[project]\nname = 'calc'\nversion = '0'\n")
    (root / "src/calc/__init__.py").write_text("")
    (root / "src/calc/ops.py").write_text(OPS)
    (root / "tests/test_ops.py").write_text(EXISTING_TESTS)
    return root


def hearth(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "server"),
           "HEARTH_LOG_DIR": str(cwd.parent / "logs")}
    return subprocess.run([sys.executable, "-m", "hearth", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=900)


def imported_names(tree: ast.Module) -> set[str]:
    return {alias.asname or alias.name for node in tree.body
            if isinstance(node, (ast.Import, ast.ImportFrom)) for alias in node.names}


def run_project_tests(root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(root / "src"), "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "tests/test_ops.py"], cwd=root, env=env, capture_output=True,
                          text=True, timeout=300)


def test_cli_writes_passing_tests_after_the_existing_ones(project: Path):
    require_default_model()
    line = OPS.splitlines().index("    return max(low, min(value, high))") + 1
    done = hearth("tests", f"src/calc/ops.py:{line}", "--json", "--write", "-q",
                  "--samples", "1", "--max-tokens", "400", cwd=project)
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["ok"] and report["action"] == "tests"
    test_file = project / "tests/test_ops.py"
    assert Path(report["test_file"]) == test_file and report["written"] == [str(test_file)]
    assert report["passed"] >= 1
    assert report["failed"] == len(report["dropped"])
    assert all(d["test"] and d["reason"] for d in report["dropped"])
    written = test_file.read_text()
    # The kept tests are in the file as they were reported; their imports joined the file's
    # own imports at the top (so the new code need not be one contiguous block).
    kept = ast.parse(report["test_code"])
    for node in kept.body:
        if not isinstance(node, (ast.Import, ast.ImportFrom)):
            assert ast.get_source_segment(report["test_code"], node) in written
    assert imported_names(kept) <= imported_names(ast.parse(written))
    # The hand-written test is still there, unchanged, and comes first.
    assert written.startswith('"""Tests written by hand."""\n\nfrom calc.ops import clamp\n')
    assert "def test_clamp():\n    assert clamp(5, 0, 3) == 3\n" in written
    names = [n.name for n in ast.parse(written).body if isinstance(n, ast.FunctionDef)]
    assert names[0] == "test_clamp" and len(names) == len(set(names)) >= 2
    # What was kept passes when the project runs its own tests.
    run = run_project_tests(project)
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"{report['passed'] + 1} passed" in run.stdout


def test_cli_refuses_a_place_without_a_function(project: Path):
    done = hearth("tests", "src/calc/ops.py:1", "--json", "-q", cwd=project)
    assert done.returncode != 0
    report = json.loads(done.stdout)
    assert report["ok"] is False and "does not apply" in report["error"]


async def test_lsp_resolve_creates_the_test_file(start, tmp_path: Path):
    root = tmp_path / "lsp-project"
    (root / "calc").mkdir(parents=True)
    (root / "pyproject.toml").write_text("[project]\nname = 'calc'\nversion = '0'\n")
    (root / "calc/__init__.py").write_text("")
    module = root / "calc/ops.py"
    module.write_text(OPS)
    client = await start(capabilities("visual-studio-code"), root=root,
                         init_options={"generation": GENERATION})
    uri = open_document(client, module, OPS)
    actions = await code_actions(client, uri, position_of(OPS, "return max"))
    assert TITLE in [a.title for a in actions]
    elsewhere = await code_actions(client, uri, position_of(OPS, "Small helpers"))
    assert TITLE not in [a.title for a in elsewhere]
    action = next(a for a in actions if a.title == TITLE)
    assert action.kind == "refactor" and action.edit is None

    resolved = await client.code_action_resolve_async(action)
    test_uri = (root / "tests/test_ops.py").as_uri()
    changes = resolved.edit.document_changes
    creates = [c for c in changes if isinstance(c, types.CreateFile)]
    edits = [c for c in changes if isinstance(c, types.TextDocumentEdit)]
    assert [c.uri for c in creates] == [test_uri]
    assert [e.text_document.uri for e in edits] == [test_uri]
    text = "".join(edit.new_text for edit in edits[0].edits)
    tree = ast.parse(text)
    assert "from calc.ops import clamp" in text
    assert any(isinstance(n, ast.FunctionDef) and n.name.startswith("test") for n in tree.body)
    assert not (root / "tests").exists()  # the editor applies the edit, not the server


async def test_lsp_execute_command_applies_the_edit(start, tmp_path: Path, project: Path):
    """Emacs (eglot) does not resolve edits: the command applies them through the client."""
    module = project / "src/calc/ops.py"
    client = await start(capabilities("emacs", resolve=False), root=project,
                         init_options={"generation": GENERATION})
    uri = open_document(client, module, OPS)
    actions = await code_actions(client, uri, position_of(OPS, "return max", "utf-32"))
    command = next(a.command for a in actions if a.title == TITLE)
    assert command.command == "hearth.generateTests"
    result = await client.workspace_execute_command_async(types.ExecuteCommandParams(
        command=command.command, arguments=command.arguments))
    assert result["applied"] is True and result["passed"] >= 1
    assert result["test_file"] == str(project / "tests/test_ops.py")
    [applied] = client.applied_edits
    edit = applied.edit
    test_uri = (project / "tests/test_ops.py").as_uri()
    if edit.document_changes:
        [change] = [c for c in edit.document_changes if isinstance(c, types.TextDocumentEdit)]
        assert change.text_document.uri == test_uri
        new_text = "".join(e.new_text for e in change.edits)
    else:
        new_text = "".join(e.new_text for e in edit.changes[test_uri])
    # The whole file is replaced by the existing tests, untouched, then the new ones.
    assert new_text.startswith('"""Tests written by hand."""\n\nfrom calc.ops import clamp\n')
    hand_written = "def test_clamp():\n    assert clamp(5, 0, 3) == 3\n"
    first_new_test = re.search(r"^def test_.*$", result["test_code"], re.MULTILINE).group()
    assert new_text.index(hand_written) < new_text.index(first_new_test)
    names = [n.name for n in ast.parse(new_text).body if isinstance(n, ast.FunctionDef)]
    assert names[0] == "test_clamp" and len(names) == len(set(names)) >= 2
