"""Generate in a real headless Neovim (Debian's 0.7), configured as docs/editors.md says,
against the real server and the real default model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.e2e.conftest import ROOT, require_default_model
from tests.e2e.editors.support import EDITORS, python_file, require_editor, run_editor
from tests.e2e.test_lsp_generate import (SOURCE, TITLE, UNICODE_SOURCE,
                                         assert_only_the_stub_changed)

CONFIG = EDITORS / "hearth.lua"
SCRIPT = EDITORS / "neovim_generate.lua"


def neovim(tmp_path: Path, scenario: str, source: str, cursor: str,
           **job: Any) -> dict[str, Any]:
    nvim = require_editor("nvim")
    require_default_model()
    path = python_file(tmp_path, source)
    result = run_editor([nvim, "--headless", "-u", "NONE", "-i", "NONE", "-n",
                         "-c", f"luafile {SCRIPT}"],
                        {"scenario": scenario, "config": str(CONFIG), "file": str(path),
                         "title": TITLE, "cursor": cursor, **job}, path.parent)
    assert result["text_before"] == source
    print(f"neovim {result['nvim']} {scenario}: {result['timings']}")
    return result


def test_resolve_step_by_step(tmp_path: Path):
    """codeAction lists Generate only at the stub; resolve's edit, applied by Neovim's own
    apply_workspace_edit, implements the stub and leaves the rest alone."""
    result = neovim(tmp_path, "resolve", SOURCE, cursor="pass", elsewhere="return x * 2")
    assert TITLE in result["titles"]
    assert TITLE not in result["titles_elsewhere"]
    assert "data" in result["action"] and "edit" not in result["action"]  # resolved lazily
    assert_only_the_stub_changed(SOURCE, result["text"], "circle_area")


def test_code_action_menu_with_emoji_and_cjk_before_the_cursor(tmp_path: Path):
    """<leader>ca, then the Hearth entry of vim.ui.select: Neovim resolves and applies it.
    Neovim 0.7 counts columns in UTF-16, so the emoji and CJK text test the conversion."""
    result = neovim(tmp_path, "menu", UNICODE_SOURCE, cursor='") -> str:')
    if result["nvim"].startswith("0.7."):
        assert result["offset_encoding"] == "utf-16"
    assert TITLE in result["titles"]
    assert result["problems"] == 0, result["messages"]
    assert_only_the_stub_changed(UNICODE_SOURCE, result["text"], "greet")
    assert 'def greet(name: str = "世界😀") -> str:' in result["text"]


def test_generate_command_applies_the_servers_edit(tmp_path: Path):
    """:HearthGenerate runs workspace/executeCommand; Neovim applies the server's
    workspace/applyEdit itself and the reply's summary is shown."""
    result = neovim(tmp_path, "command", SOURCE, cursor="pass")
    assert result["problems"] == 0, result["messages"]
    assert result["edited"]
    assert any(m.startswith(f"notify[nil]: {TITLE}") for m in result["messages"]), \
        result["messages"]
    assert_only_the_stub_changed(SOURCE, result["text"], "circle_area")


def test_the_docs_show_the_configuration_tested_here():
    assert CONFIG.read_text(encoding="utf-8") in (ROOT / "docs" / "editors.md").read_text(
        encoding="utf-8"), "docs/editors.md must quote hearth.lua verbatim"
