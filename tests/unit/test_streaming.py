"""The engine hands an action's answer to ``on_text`` as the backend decodes it (Explain), and
reports the prompt tokens its backend requests evaluated; the LSP side coalesces the text."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

from hearth.core.actions.explain import ExplainAction
from hearth.core.actions.generate import GenerateAction
from hearth.core.models.backend import Completion, GenerationRequest, PromptUse
from hearth.core.models.openai import prompt_usage
from hearth.core.pipeline.engine import EngineOptions, run_action
from hearth.core.pipeline.types import ActionRequest
from hearth.core.text import Pos
from hearth.lsp.progress import TextStream, last_line
from tests.unit.scripted import ScriptedModel

SOURCE = '''def ratio(a, b):
    """The share of a in b."""
    if b == 0:
        return 0.0
    return a / b
'''
ANSWER = ("It divides a by b, and answers 0.0 when b is zero.\n\n"
          "## Inputs and outputs\nTwo numbers in, one float out.\n\n"
          "## Edge cases\nb == 0 gives 0.0 instead of an error.\n\n"
          "## Risks\nNone: no security rule fires here.\n\n"
          "## Conclusion\nThe model likes to add this.")


class StreamingModel(ScriptedModel):
    """The scripted model, decoding its first answer a word at a time through ``on_token``
    as a real backend does, with the prompt counts a backend reports."""

    def __init__(self, bodies: list[str], *, prefills: bool = True,
                 prompt: PromptUse = PromptUse()) -> None:
        super().__init__(bodies)
        self.prefills = prefills
        self.prompt = prompt
        self.on_tokens: list[object] = []

    def generate(self, request: GenerationRequest, cancel=None, on_token=None):
        self.requests.append(request)
        self.on_tokens.append(on_token)
        lead = request.prefill if self.prefills else ""
        texts = [body for body in self.bodies[:len(request.params)]]
        if on_token is not None:
            for index, word in enumerate(texts[0].split(" ")):
                on_token(word if index == 0 else " " + word)
        return [Completion(lead + text, len(text.split()), "stop", 0.1,
                           prompt_tokens=self.prompt.tokens, prefilled=self.prefills,
                           prompt_reused=self.prompt.reused)
                for text in texts]


def explain_request() -> ActionRequest:
    return ActionRequest(SOURCE, Pos(3, 8), path=Path("calc.py"))


def test_explain_streams_the_document_so_far_before_its_result():
    events: list[tuple[str, str]] = []
    result = run_action(ExplainAction(), explain_request(), StreamingModel([ANSWER]),
                        EngineOptions(), on_text=lambda text: events.append(("partial", text)))
    events.append(("final", result.markdown or ""))
    partials = [text for kind, text in events if kind == "partial"]
    assert len(partials) == len(ANSWER.split(" "))
    assert events[-1][0] == "final" and all(kind == "partial" for kind, _ in events[:-1])
    header = "# Explanation of `ratio` (calc.py:1-5)\n\n## What it does\n"
    assert all(text.startswith(header) for text in partials)
    # Each update is the whole document so far, as the result will start (up to a heading
    # half written), and without the heading past the last section, which the result drops.
    assert all(result.markdown.startswith(text.rstrip("# \n")) for text in partials)
    assert "Two numbers in" in partials[-1] and "Conclusion" not in partials[-1]


def test_a_backend_that_cannot_prefill_streams_its_own_start():
    partials: list[str] = []
    answer = "## What it does\n" + ANSWER
    run_action(ExplainAction(), explain_request(), StreamingModel([answer], prefills=False),
               EngineOptions(), on_text=partials.append)
    assert partials[-1].count("## What it does") == 1


def test_code_actions_hand_their_raw_text_so_far_for_a_progress_line():
    """Generate's first candidate as it is written (what the server shows as `$/progress`
    lines), from the prefill the backend continues."""
    model = StreamingModel(["    total = a + b\n    return total\n"])
    stub = 'def add(a, b):\n    """Return a plus b."""\n    pass\n'
    partials: list[str] = []
    run_action(GenerateAction(), ActionRequest(stub, Pos(2, 4)), model, EngineOptions(),
               on_text=partials.append)
    assert model.on_tokens[0] is not None and len(partials) > 2
    assert all(b.startswith(a) for a, b in zip(partials, partials[1:]))  # each the text so far
    assert "def add(a, b):" in partials[0]
    assert partials[-1].endswith("    total = a + b\n    return total\n")


def test_without_on_text_the_backend_is_not_asked_to_stream():
    model = StreamingModel([ANSWER])
    run_action(ExplainAction(), explain_request(), model, EngineOptions())
    assert model.on_tokens == [None]


def test_the_result_reports_the_prompt_tokens_evaluated():
    model = StreamingModel([ANSWER], prompt=PromptUse(tokens=300, reused=256))
    report = run_action(ExplainAction(), explain_request(), model, EngineOptions()).report()
    assert (report["prompt_tokens"], report["prompt_tokens_reused"],
            report["prompt_tokens_evaluated"]) == (300, 256, 44)


def test_a_backend_that_does_not_say_what_it_reused_reports_only_the_prompt():
    model = StreamingModel([ANSWER], prompt=PromptUse(tokens=300, reused=None))
    report = run_action(ExplainAction(), explain_request(), model, EngineOptions()).report()
    assert report["prompt_tokens"] == 300
    assert "prompt_tokens_reused" not in report and "prompt_tokens_evaluated" not in report


def test_prompt_use_adds_up_and_an_unknown_part_makes_the_total_unknown():
    assert PromptUse(100, 64) + PromptUse(50, 0) == PromptUse(150, 64)
    assert (PromptUse(100, 64) + PromptUse(50, 0)).evaluated == 86
    assert (PromptUse(100, 64) + PromptUse(50, None)).evaluated is None


def test_openai_usage_is_read_only_where_it_fits():
    assert prompt_usage({"prompt_tokens": 120,
                         "prompt_tokens_details": {"cached_tokens": 96}}) == (120, 96)
    assert prompt_usage({"prompt_tokens": 120}) == (120, None)
    assert prompt_usage({"prompt_tokens": 120,
                         "prompt_tokens_details": {"cached_tokens": 500}}) == (120, None)
    assert prompt_usage({"prompt_tokens": "many", "prompt_tokens_details": []}) == (0, None)
    assert prompt_usage(None) == (0, None)


def test_last_line_is_a_short_progress_message():
    assert last_line("## What it does\nIt divides.\n\n") == "It divides."
    assert last_line("# Explanation\n\n## Edge cases\n") == "Edge cases"
    assert last_line("") == ""
    assert len(last_line("x" * 500)) == 80
    # A code block's fence is markup: the answer's last update still shows its last code line.
    assert last_line("```python\nreturn math.pi * radius ** 2\n```") == \
        "return math.pi * radius ** 2"
    assert last_line("```python\n") == ""


def test_text_stream_coalesces_sends_the_newest_text_and_nothing_once_closed():
    async def scenario() -> tuple[list[str], list[str], int]:
        loop = asyncio.get_running_loop()
        sent: list[str] = []
        newest = asyncio.Event()
        texts = [f"word {n}" for n in range(200)]

        def send(text: str) -> None:
            sent.append(text)
            if text == texts[-1]:
                newest.set()

        stream = TextStream(loop, send, interval=0.05)
        # As the decoder does: many calls from another thread, none of them waiting.
        worker = threading.Thread(target=lambda: [stream(text) for text in texts])
        worker.start()
        await loop.run_in_executor(None, worker.join)
        await asyncio.wait_for(newest.wait(), timeout=30)
        stream.close()
        after_close = len(sent)
        stream("too late")
        await asyncio.sleep(0.2)
        return sent, texts, after_close

    sent, texts, after_close = asyncio.run(scenario())
    assert sent[-1] == texts[-1]
    assert len(sent) < len(texts)  # coalesced: the calls came faster than one per interval
    assert all(text in texts for text in sent)
    assert len(sent) == after_close  # nothing after close
