"""Generate through a real LSP session, with VS Code's, Neovim's and Emacs' recorded capabilities,
on the real default model."""

from __future__ import annotations

import ast
import asyncio
from pathlib import Path

import pytest
from lsprotocol import types

from tests.e2e.conftest import (
    capabilities,
    change_document,
    generate_actions,
    open_document,
)
from tests.e2e.lsp_utils import apply_text_edits, edits_for, position_of

TITLE = "Hearth: Generate implementation"

SOURCE = '''"""Helpers for a shop."""

import math


def circle_area(radius: float) -> float:
    """Return the area of a circle with the given radius."""
    pass


def double(x: int) -> int:
    return x * 2
'''

UNICODE_SOURCE = '''"""Greetings 👋 in several languages: 你好, こんにちは."""

GREETING = "🌍 你好"


def greet(name: str = "世界😀") -> str:
    """Return "Hello, <name>!" as one string."""
    raise NotImplementedError
'''


def assert_only_the_stub_changed(before: str, after: str, function: str) -> None:
    """The edit parses, implements ``function`` and leaves every other line byte-for-byte."""
    tree = ast.parse(after)
    fn = next(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == function)
    body = fn.body[1:] if isinstance(fn.body[0], ast.Expr) else fn.body
    assert body and not all(isinstance(n, ast.Pass) for n in body)
    old_fn = next(n for n in ast.walk(ast.parse(before))
                  if isinstance(n, ast.FunctionDef) and n.name == function)
    before_lines, after_lines = before.splitlines(True), after.splitlines(True)
    head = old_fn.body[0].end_lineno if ast.get_docstring(old_fn) else old_fn.lineno
    assert after_lines[:head] == before_lines[:head]
    tail = len(before_lines) - old_fn.end_lineno
    assert after_lines[len(after_lines) - tail:] == before_lines[len(before_lines) - tail:]


@pytest.mark.parametrize("client_name", ["visual-studio-code", "neovim@v0.7.0"])
async def test_generate_through_resolve(start, tmp_path: Path, client_name: str):
    client = await start(capabilities(client_name))
    uri = open_document(client, tmp_path / "shop.py", SOURCE)

    # Listed at a stub, at once, without an edit yet; not listed elsewhere.
    actions = await generate_actions(client, uri, position_of(SOURCE, "pass"))
    assert [a.title for a in actions] == [TITLE]
    assert actions[0].edit is None and actions[0].command is None
    assert await generate_actions(client, uri, position_of(SOURCE, "return x * 2")) == []
    assert await generate_actions(client, uri, types.Position(0, 0)) == []

    resolved = await client.code_action_resolve_async(actions[0])
    edits, version = edits_for(resolved.edit, uri)
    if client_name == "visual-studio-code":
        assert version == 1  # versioned: VS Code refuses it if the document moved on
    after = apply_text_edits(SOURCE, edits)
    assert_only_the_stub_changed(SOURCE, after, "circle_area")


async def test_generate_through_execute_command_without_resolve(start, tmp_path: Path):
    """Emacs (eglot) does not resolve edits: the action carries a command instead."""
    client = await start(capabilities("emacs", resolve=False))
    uri = open_document(client, tmp_path / "shop.py", SOURCE)
    actions = await generate_actions(client, uri, position_of(SOURCE, "pass", "utf-32"))
    assert [a.title for a in actions] == [TITLE]
    command = actions[0].command
    assert command is not None and command.command == "hearth.generate"

    result = await client.workspace_execute_command_async(types.ExecuteCommandParams(
        command=command.command, arguments=command.arguments))
    assert result["applied"] is True and result["samples"] >= 1
    assert len(client.applied_edits) == 1
    edits, _ = edits_for(client.applied_edits[0].edit, uri)
    after = apply_text_edits(SOURCE, edits, "utf-32")
    assert_only_the_stub_changed(SOURCE, after, "circle_area")
    # Progress was reported on a token the server created, and ended.
    ends = [r for reports in client.progress_reports.values() for r in reports
            if isinstance(r, types.WorkDoneProgressEnd)]
    assert ends and ends[-1].message == "Done"
    # The code was shown as it was written: a line of the new body as a progress message
    # (one sample, the greedy one, which is the answer applied).
    written = {line.strip() for line in after.splitlines()} \
        - {line.strip() for line in SOURCE.splitlines()} - {""}
    messages = [r.message for reports in client.progress_reports.values() for r in reports
                if isinstance(r, types.WorkDoneProgressReport) and r.message]
    assert written & set(messages), (written, messages)


@pytest.mark.parametrize("encoding,client_name", [("utf-16", "visual-studio-code"),
                                                  ("utf-8", "neovim")])
async def test_non_ascii_before_the_stub(start, tmp_path: Path, encoding: str, client_name: str):
    caps = capabilities(client_name, encodings=[encoding])
    client = await start(caps)
    uri = open_document(client, tmp_path / "greet.py", UNICODE_SOURCE)
    # The cursor sits after the emoji on the def line: its column differs per encoding.
    cursor = position_of(UNICODE_SOURCE, '") -> str:', encoding)
    actions = await generate_actions(client, uri, cursor)
    assert [a.title for a in actions] == [TITLE]
    resolved = await client.code_action_resolve_async(actions[0])
    edits, _ = edits_for(resolved.edit, uri)
    after = apply_text_edits(UNICODE_SOURCE, edits, encoding)
    assert_only_the_stub_changed(UNICODE_SOURCE, after, "greet")
    assert 'def greet(name: str = "世界😀") -> str:' in after


async def test_a_stale_version_gets_no_edit(start, tmp_path: Path):
    client = await start(capabilities("visual-studio-code"))
    uri = open_document(client, tmp_path / "shop.py", SOURCE)
    actions = await generate_actions(client, uri, position_of(SOURCE, "pass"))
    change_document(client, uri, SOURCE.replace("Helpers", "Tools"), version=2)
    with pytest.raises(Exception, match="changed"):
        await client.code_action_resolve_async(actions[0])


async def test_an_edit_made_during_generation_cancels_the_edit(start, tmp_path: Path):
    client = await start(capabilities("visual-studio-code"))
    uri = open_document(client, tmp_path / "shop.py", SOURCE)
    actions = await generate_actions(client, uri, position_of(SOURCE, "pass"))
    pending = asyncio.ensure_future(client.code_action_resolve_async(actions[0]))
    await asyncio.sleep(0.3)
    change_document(client, uri, SOURCE + "\n# typed meanwhile\n", version=2)
    with pytest.raises(Exception, match="changed while Hearth was working"):
        await pending


async def test_cancel_request_stops_the_model(start, tmp_path: Path):
    client = await start(capabilities("visual-studio-code"),
                         init_options={"generation": {"maxTokens": 2000}})
    uri = open_document(client, tmp_path / "shop.py", SOURCE)
    actions = await generate_actions(client, uri, position_of(SOURCE, "pass"))
    pending = asyncio.ensure_future(client.protocol.send_request_async(
        types.CODE_ACTION_RESOLVE, actions[0], msg_id="resolve-to-cancel"))
    token = await _wait_for_progress(client, "Sampling")
    client.cancel_request(types.CancelParams(id="resolve-to-cancel"))
    with pytest.raises(Exception, match="[Cc]ancel"):
        await pending
    ends = await _wait_for_end(client, token)
    assert ends[-1].message == "Cancelled"
    # The server is still there and answers at once.
    actions = await generate_actions(client, uri, position_of(SOURCE, "pass"))
    assert [a.title for a in actions] == [TITLE]


async def test_progress_cancel_button_stops_the_model(start, tmp_path: Path):
    client = await start(capabilities("visual-studio-code"),
                         init_options={"generation": {"maxTokens": 2000}})
    uri = open_document(client, tmp_path / "shop.py", SOURCE)
    actions = await generate_actions(client, uri, position_of(SOURCE, "pass"))
    pending = asyncio.ensure_future(client.code_action_resolve_async(actions[0]))
    token = await _wait_for_progress(client, "Sampling")
    client.window_work_done_progress_cancel(types.WorkDoneProgressCancelParams(token=token))
    with pytest.raises(Exception, match="Cancelled"):
        await pending
    ends = await _wait_for_end(client, token)
    assert ends[-1].message == "Cancelled"


async def test_bad_settings_are_reported_and_the_server_keeps_working(start, tmp_path: Path):
    client = await start(
        capabilities("neovim@v0.7.0"),  # no workspace/configuration: initializationOptions rule
        init_options={"generation": {"samples": "lots"}, "model": {"backend": "cloud"}})
    await _wait_until(lambda: client.messages)
    text = client.messages[0].message
    assert "hearth.generation.samples" in text and "hearth.model.backend" in text
    uri = open_document(client, tmp_path / "shop.py", SOURCE)
    actions = await generate_actions(client, uri, position_of(SOURCE, "pass"))
    assert [a.title for a in actions] == [TITLE]


async def test_bad_pulled_configuration_is_reported(start, tmp_path: Path):
    client = await start(capabilities("visual-studio-code"),
                         configuration={"hearth": {"diagnostics": {"debounceMs": -5}}})
    await _wait_until(lambda: client.messages)
    assert "hearth.diagnostics.debounceMs" in client.messages[0].message
    client.set_configuration({"hearth": {"generation": {"samples": 0}}})
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=None))
    await _wait_until(lambda: len(client.messages) >= 2)
    assert "hearth.generation.samples" in client.messages[1].message


async def test_a_missing_model_file_is_a_clear_error(start, tmp_path: Path):
    client = await start(capabilities("visual-studio-code"),
                         init_options={"model": {"path": str(tmp_path / "nope.gguf")}})
    uri = open_document(client, tmp_path / "shop.py", SOURCE)
    actions = await generate_actions(client, uri, position_of(SOURCE, "pass"))
    with pytest.raises(Exception, match="does not exist"):
        await client.code_action_resolve_async(actions[0])
    await _wait_until(lambda: any("does not exist" in m.message for m in client.messages))


async def _wait_until(predicate, timeout: float = 60.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError("timed out waiting")
        await asyncio.sleep(0.05)


async def _wait_for_progress(client, message: str) -> types.ProgressToken:
    def find():
        for token, reports in client.progress_reports.items():
            if any(getattr(r, "message", "") and message in r.message for r in reports):
                return token
        return None

    await _wait_until(lambda: find() is not None)
    return find()


async def _wait_for_end(client, token: types.ProgressToken | None = None
                        ) -> list[types.WorkDoneProgressEnd]:
    def ends():
        return [r for key, reports in client.progress_reports.items() for r in reports
                if isinstance(r, types.WorkDoneProgressEnd) and token in (None, key)]

    await _wait_until(lambda: ends())
    return ends()
