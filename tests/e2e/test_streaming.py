"""Explain's answer shown as it is written, through a real LSP session on the real default
model: `$/progress` messages for every client that takes them, and the whole text so far
(`hearth/explainProgress`) for a client that declares `experimental.hearth.streamsMarkdown`;
and the prompt tokens a request evaluates, read from the in-process backend's own counters."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types

from hearth.core.actions.explain import ExplainAction
from hearth.core.models.backend import ChatMessage, GenerationRequest, SamplingParams
from hearth.core.models.llama_batch import PREFILL_CHUNK
from hearth.core.pipeline.types import ActionRequest
from hearth.core.text import Pos
from tests.e2e.conftest import capabilities, code_actions, open_document
from tests.e2e.lsp_utils import position_of
from tests.e2e.test_llama_batch import backend  # noqa: F401 - the fixture: a loaded model
from tests.e2e.test_lsp_actions import RISKY

pytestmark = pytest.mark.model


def streaming_vscode() -> types.ClientCapabilities:
    """VS Code's capabilities with what the Hearth extension adds."""
    caps = capabilities("visual-studio-code")
    caps.experimental = {"hearth": {"showsMarkdown": True, "streamsMarkdown": True}}
    return caps


async def explain(client, uri: str) -> dict[str, Any]:
    actions = await code_actions(client, uri, position_of(RISKY, "subprocess.run"))
    command = next(a for a in actions if a.title == "Hearth: Explain").command
    return await client.workspace_execute_command_async(types.ExecuteCommandParams(
        command=command.command, arguments=command.arguments))


def record_partials(client, events: list[tuple[str, Any]]) -> None:
    @client.feature("hearth/explainProgress")
    def partial(params: Any) -> None:
        # pygls hands a custom notification's params over as a named tuple.
        events.append(("partial", params._asdict() if hasattr(params, "_asdict") else params))


async def test_partial_markdown_arrives_before_the_answer(start, tmp_path: Path):
    client = await start(streaming_vscode())
    events: list[tuple[str, Any]] = []
    record_partials(client, events)
    uri = open_document(client, tmp_path / "risky.py", RISKY)
    result = await explain(client, uri)
    events.append(("final", result))
    await asyncio.sleep(0.5)  # a partial text sent after the answer would be here by now
    markdown = result["markdown"]
    kinds = [kind for kind, _ in events]
    assert kinds[-1] == "final", "no partial text after the answer"
    partials = [params for kind, params in events if kind == "partial"]
    assert partials, "partial text came before the answer"
    assert len({params["id"] for params in partials}) == 1
    assert all(params["uri"] == uri and params["action"] == "explain" for params in partials)
    texts = [params["text"] for params in partials]
    # Each is the whole document so far, under the header the answer has.
    assert all(text.startswith("# Explanation of `run`") for text in texts)
    assert texts[0] != markdown and markdown.startswith(texts[0].rstrip("# \n"))
    assert "## Found by Hearth's checks" in markdown and "Found by Hearth" not in texts[-1]
    # The prompt tokens it evaluated, from the backend's count: the first request on a new
    # server evaluates its whole prompt.
    assert result["prompt_tokens"] > 0
    assert result["prompt_tokens_evaluated"] + result["prompt_tokens_reused"] \
        == result["prompt_tokens"]
    # VS Code shows the lines being written in the progress notification as well.
    [reports] = [values for values in client.progress_reports.values()
                 if isinstance(values[0], types.WorkDoneProgressBegin)
                 and values[0].title == "Hearth: Explain"]
    written = [r.message for r in reports if isinstance(r, types.WorkDoneProgressReport)
               and r.message and r.message in markdown
               and not r.message.startswith(("Sampling", "Checking", "Loading", "Gathering"))]
    assert written, [getattr(r, "message", None) for r in reports]
    assert isinstance(reports[-1], types.WorkDoneProgressEnd)


async def test_a_client_that_does_not_declare_it_gets_progress_messages_only(start,
                                                                             tmp_path: Path):
    client = await start(capabilities("neovim"))
    events: list[tuple[str, Any]] = []
    record_partials(client, events)
    uri = open_document(client, tmp_path / "risky.py", RISKY)
    result = await explain(client, uri)
    assert events == []
    messages = [r.message for values in client.progress_reports.values() for r in values
                if isinstance(r, types.WorkDoneProgressReport) and r.message]
    assert any(message in result["markdown"] for message in messages
               if not message.startswith(("Sampling", "Checking", "Loading", "Gathering")))


# -- prompt reuse ---------------------------------------------------------------------------

LONG = "".join(
    f"def step_{n}(values, factor={n}):\n"
    f"    \"\"\"Scale every value by {n} and drop the negative ones.\"\"\"\n"
    f"    return [v * factor for v in values if v >= 0]\n\n\n" for n in range(12))


def explain_prompt(last_line: int) -> GenerationRequest:
    """Explain's own prompt for lines 1..``last_line`` of LONG, answered in 4 tokens."""
    action = ExplainAction()
    request = ActionRequest(LONG, Pos(0, 0), end=Pos(last_line, 0), path=Path("steps.py"))
    prompt = action.prompt(request, action.resolve(request), [], 400)
    return GenerationRequest(messages=prompt.messages, prefill=prompt.prefill,
                             params=[SamplingParams(temperature=0.0, max_tokens=4)])


def test_a_request_sharing_a_prefix_evaluates_only_what_differs(backend):  # noqa: F811
    before = backend.prompt_tokens_evaluated
    [first] = backend.generate(explain_prompt(30))
    after_first = backend.prompt_tokens_evaluated
    [second] = backend.generate(explain_prompt(45))  # the same head of the file, and more
    after_second = backend.prompt_tokens_evaluated
    assert first.prompt_reused == 0 and after_first - before == first.prompt_tokens
    # The second prompt is longer, yet fewer of its tokens were evaluated: the shared head
    # (whole chunks of it) came from the KV cache, and the backend counted only the rest.
    assert second.prompt_tokens > first.prompt_tokens
    assert second.prompt_reused >= PREFILL_CHUNK and second.prompt_reused % PREFILL_CHUNK == 0
    assert after_second - after_first == second.prompt.evaluated < second.prompt_tokens
    assert second.prompt.evaluated < first.prompt.evaluated


def test_an_unrelated_prompt_reuses_nothing(backend):  # noqa: F811
    backend.generate(explain_prompt(30))
    before = backend.prompt_tokens_evaluated
    [other] = backend.generate(GenerationRequest(
        messages=[ChatMessage("user", "Name a colour. " * 60)],
        params=[SamplingParams(temperature=0.0, max_tokens=4)]))
    assert other.prompt_reused == 0
    assert backend.prompt_tokens_evaluated - before == other.prompt_tokens
