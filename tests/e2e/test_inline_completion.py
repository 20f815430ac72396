"""Inline completion on the real default model (issue 17), through a real LSP session: ghost
text at the start of a body line, only for clients that declare it, a request superseded by a
newer one, the suggestion a user types through served from the cache, no secret echoed, a
completion answered while Generate decodes; and through `hearth complete`."""

from __future__ import annotations

import asyncio
import copy
import json
from pathlib import Path

import pytest
from lsprotocol import types

from hearth.lsp.completion import STATS_METHOD
from tests.e2e.conftest import (
    capabilities,
    change_document,
    generate_actions,
    open_document,
    require_default_model,
)
from tests.e2e.lsp_utils import position_of
from tests.e2e.test_generate_tests import hearth

pytestmark = pytest.mark.model

CONFIG = '''def read_config(path):
    """Read KEY=VALUE lines from the file at path into a dict."""
    result = {}
    with open(path) as handle:
        for line in handle:
            key, _, value = line.strip().partition("=")
''' + " " * 12 + '''
    return result
'''
BODY_LINE = 6  # the blank line, indented, inside the loop
INDENT = 12


def with_inline_completion(name: str = "visual-studio-code",
                           resolve: bool | None = None) -> types.ClientCapabilities:
    caps = copy.deepcopy(capabilities(name, resolve=resolve))
    caps.text_document = caps.text_document or types.TextDocumentClientCapabilities()
    caps.text_document.inline_completion = types.InlineCompletionClientCapabilities(
        dynamic_registration=False)
    return caps


def ask(client, uri: str, line: int, character: int,
        kind: types.InlineCompletionTriggerKind = types.InlineCompletionTriggerKind.Automatic):
    return client.text_document_inline_completion_async(types.InlineCompletionParams(
        text_document=types.TextDocumentIdentifier(uri=uri),
        position=types.Position(line=line, character=character),
        context=types.InlineCompletionContext(trigger_kind=kind)))


def texts(answer) -> list[str]:
    if answer is None:
        return []
    items = answer.items if isinstance(answer, types.InlineCompletionList) else answer
    return [item.insert_text for item in items]


async def stats(client) -> list[dict]:
    answer = await client.protocol.send_request_async(STATS_METHOD, {})
    recent = answer["recent"] if isinstance(answer, dict) else answer.recent
    return [dict(r) if isinstance(r, dict) else r._asdict() for r in recent]


async def test_a_body_line_start_gets_a_suggestion(start, tmp_path: Path):
    client = await start(with_inline_completion())
    provider = client.initialize_result.capabilities.inline_completion_provider
    assert provider is not None
    uri = open_document(client, tmp_path / "config.py", CONFIG)
    answer = await ask(client, uri, BODY_LINE, INDENT)
    [text] = texts(answer)
    # The line the loop is missing; the model's greedy answer names what the code has.
    assert "result" in text and "\n" not in text
    [item] = answer.items
    assert item.range == types.Range(types.Position(BODY_LINE, INDENT),
                                     types.Position(BODY_LINE, INDENT))
    [record] = await stats(client)
    assert not record["cached"] and record["promptTokens"] > 0


async def test_a_client_that_does_not_declare_it_is_not_offered_it(start):
    client = await start(capabilities("neovim"))
    assert client.initialize_result.capabilities.inline_completion_provider is None


async def test_a_newer_request_supersedes_the_one_in_flight_and_typing_through_is_cached(
        start, tmp_path: Path):
    client = await start(with_inline_completion())
    uri = open_document(client, tmp_path / "config.py", CONFIG)
    first = ask(client, uri, BODY_LINE, INDENT)
    await asyncio.sleep(0.05)  # the first is on the model (loading it, or evaluating)
    second = ask(client, uri, BODY_LINE, INDENT)
    first_answer, second_answer = await asyncio.gather(first, second)
    assert texts(first_answer) == [], "the superseded request was answered"
    [text] = texts(second_answer)
    records = await stats(client)
    assert len(records) == 1, "the superseded request's decoding went on to an answer"

    # The user types the suggestion's first two characters: the rest comes from the cache.
    typed = text[:2]
    lines = CONFIG.split("\n")
    lines[BODY_LINE] += typed
    change_document(client, uri, "\n".join(lines), version=2)
    rest = await ask(client, uri, BODY_LINE, INDENT + len(typed))
    assert texts(rest) == [text[2:]]
    assert (await stats(client))[-1]["cached"] is True


async def test_a_secret_in_the_file_is_not_echoed(start, tmp_path: Path):
    token = "ghp_" + "Zq8Lm3Nv5Bx7Ck9Dj2Fh4Gs6Ta1Wy0Ue3Rp"
    source = (f'GITHUB_TOKEN = "{token}"\n\n\n'
              'def auth_headers():\n'
              '    return {"Authorization": "token " + \n'
              'password = "\n')
    client = await start(with_inline_completion())
    uri = open_document(client, tmp_path / "client.py", source)
    answer = await ask(client, uri, 4, len('    return {"Authorization": "token " + '),
                       types.InlineCompletionTriggerKind.Invoked)
    assert all(token not in text for text in texts(answer))
    inside = await ask(client, uri, 5, len('password = "'),
                       types.InlineCompletionTriggerKind.Invoked)
    assert texts(inside) == []
    assert (await stats(client))[-1]["whyEmpty"] == "inside a string that looks like a secret"


STUB = '''def circle_area(radius: float) -> float:
    """The area of a circle of the given radius."""
    pass
'''


async def test_a_completion_does_not_wait_for_a_generate_already_running(start, tmp_path: Path):
    """Generate (the 1.5B model, seconds) is decoding when a completion is asked: the
    completion runs between two of its decode steps and is answered while Generate goes on."""
    client = await start(with_inline_completion(resolve=False))  # Generate as a command
    stub_uri = open_document(client, tmp_path / "shapes.py", STUB)
    [action] = [a for a in await generate_actions(client, stub_uri, position_of(STUB, "pass"))]
    order: list[str] = []

    async def run_generate():
        await client.workspace_execute_command_async(types.ExecuteCommandParams(
            command=action.command.command, arguments=action.command.arguments))
        order.append("generate")

    generate = asyncio.ensure_future(run_generate())
    # Wait until Generate is decoding: its progress says so.
    for _ in range(600):
        if any(isinstance(r, types.WorkDoneProgressReport) and r.message
               and r.message.startswith("Sampling")
               for reports in client.progress_reports.values() for r in reports):
            break
        await asyncio.sleep(0.05)
    uri = open_document(client, tmp_path / "config.py", CONFIG)
    answer = await ask(client, uri, BODY_LINE, INDENT, types.InlineCompletionTriggerKind.Invoked)
    order.append("completion")
    await generate
    assert order == ["completion", "generate"]
    assert texts(answer) and texts(answer)[0].strip()


def test_the_cli_completes_and_writes_and_refuses_what_it_cannot_do(tmp_path: Path):
    """`hearth complete FILE:LINE:COL` runs the same engine: --json, --write (only the
    suggestion inserted at the cursor), and a clear non-zero exit for a bad position."""
    require_default_model()
    project = tmp_path / "project"
    project.mkdir()
    path = project / "config.py"
    path.write_text(CONFIG)
    where = f"config.py:{BODY_LINE + 1}:{INDENT + 1}"
    done = hearth("complete", where, "--json", "--write", "--no-context", cwd=project)
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["ok"] and report["text"] and report["written"] == ["config.py"]
    assert report["prompt_tokens"] > 0 and not report["cached"]
    lines = CONFIG.split("\n")
    lines[BODY_LINE] += report["text"]
    assert path.read_text() == "\n".join(lines)
    past = hearth("complete", "config.py:99:1", "--json", cwd=project)
    assert past.returncode != 0 and "past the end" in json.loads(past.stdout)["error"]
    ranged = hearth("complete", "config.py:2-3", cwd=project)
    assert ranged.returncode != 0 and "not a range" in ranged.stderr
