"""Generate in real batch Emacs (Debian's 28 with elpa-eglot), configured as docs/editors.md
says, against the real server and the real default model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.e2e.conftest import ROOT, require_default_model
from tests.e2e.editors.support import EDITORS, python_file, require_editor, run_editor
from tests.e2e.test_lsp_generate import (SOURCE, TITLE, UNICODE_SOURCE,
                                         assert_only_the_stub_changed)

CONFIG = EDITORS / "hearth.el"
SCRIPT = EDITORS / "emacs_generate.el"


def emacs(tmp_path: Path, scenario: str, source: str, cursor: str, **job: Any) -> dict[str, Any]:
    binary = require_editor("emacs")
    require_default_model()
    path = python_file(tmp_path, source)
    result = run_editor([binary, "--batch", "-Q", "-l", str(SCRIPT)],
                        {"scenario": scenario, "config": str(CONFIG), "file": str(path),
                         "title": TITLE, "cursor": cursor, **job}, path.parent)
    assert result["mode"] == "python-mode"
    assert result["text_before"] == source
    print(f"emacs {result['emacs']} ({result['eglot']}) {scenario}: "
          f"startup {result['startup_s']:.1f} s, generate {result['generate_s']:.1f} s")
    return result


def test_code_action_menu(tmp_path: Path):
    """C-c a (eglot-code-actions) offers Generate only at the stub; picking it runs the action's
    command (eglot 1.9 does not resolve), and the server's workspace/applyEdit edits the buffer."""
    result = emacs(tmp_path, "menu", SOURCE, cursor="pass", elsewhere="return x * 2")
    assert TITLE in result["titles"]
    assert TITLE not in result["titles_elsewhere"]
    assert_only_the_stub_changed(SOURCE, result["text"], "circle_area")


def test_generate_command_with_emoji_and_cjk_before_the_cursor(tmp_path: Path):
    """M-x hearth-generate on the def line after an emoji and CJK text: eglot counts UTF-16
    columns, the server applies its edit by workspace/applyEdit and the summary is shown."""
    result = emacs(tmp_path, "command", UNICODE_SOURCE, cursor='") -> str:')
    assert result["edited"] is True
    assert any(m.startswith(TITLE) for m in result["messages"]), \
        result["messages"]
    assert_only_the_stub_changed(UNICODE_SOURCE, result["text"], "greet")
    assert 'def greet(name: str = "世界😀") -> str:' in result["text"]


def test_the_docs_show_the_configuration_tested_here():
    assert CONFIG.read_text(encoding="utf-8") in (ROOT / "docs" / "editors.md").read_text(
        encoding="utf-8"), "docs/editors.md must quote hearth.el verbatim"
