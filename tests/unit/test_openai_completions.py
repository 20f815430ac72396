"""Inline completion through an OpenAI-compatible server: what is sent to ``/completions`` and
how the streamed answer is read. A loopback HTTP server records the request and answers as
llama.cpp's server and vLLM do (``text`` pieces, then the usage with the cached tokens); the
real server with the real model is tests/e2e/test_openai_backend.py."""

from __future__ import annotations

import json
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler

import pytest

from hearth.core.completion import Completer, CompletionRequest
from hearth.core.completion.prompt import FIM_MIDDLE, FIM_PREFIX, FIM_SUFFIX
from hearth.core.models.openai import OpenAIBackend
from hearth.core.text import Pos
from hearth.settings import Settings
from tests.unit.loopback import serving

SOURCE = '''API_TOKEN = "ghp_Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4zAb7c"


def total(prices):
    result = 0
''' + "    \n" + "    return result\n"


class Recorder(BaseHTTPRequestHandler):
    pieces: list[str] = []
    usage: dict = {}
    seen: list[tuple[str, dict]] = []

    def do_POST(self):  # noqa: N802 - the standard library's name
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).seen.append((self.path, body))
        # As a server does: the answer ends before the first of the request's stops.
        text = "".join(self.pieces)
        end = min([text.find(stop) for stop in body.get("stop") or () if stop in text]
                  + [len(text)])
        pieces, used = [], 0
        for piece in self.pieces:
            if used < end:
                pieces.append(piece[:end - used])
            used += len(piece)
        events = [{"choices": [{"index": 0, "text": piece, "finish_reason": None}]}
                  for piece in pieces]
        events.append({"choices": [{"index": 0, "text": "", "finish_reason": "stop"}]})
        events.append({"choices": [], "usage": self.usage})
        payload = "".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n"
        data = payload.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def server() -> Iterator[type[Recorder]]:
    with serving(type("Handler", (Recorder,), {"pieces": [], "usage": {}, "seen": []})) as handler:
        yield handler


def complete(handler: type[Recorder], **settings) -> tuple:
    backend = OpenAIBackend(handler.base_url, "served-model")
    request = CompletionRequest(SOURCE, Pos(5, 4), None, "python", mode="line",
                                trigger="invoked")
    try:
        return Completer().complete(request, backend=backend, settings=Settings(**settings)), \
            handler.seen
    finally:
        backend.close()


def test_the_fim_prompt_goes_to_completions_as_raw_text(server):
    server.pieces = ["for price", " in prices:", "\n        result += price"]
    server.usage = {"prompt_tokens": 57, "completion_tokens": 3,
                    "prompt_tokens_details": {"cached_tokens": 40}}
    suggestion, seen = complete(server)
    [(path, body)] = seen
    assert path == "/v1/completions"
    assert "messages" not in body and body["model"] == "served-model"
    prompt = body["prompt"]
    assert prompt.endswith(FIM_MIDDLE) and FIM_PREFIX in prompt and FIM_SUFFIX in prompt
    assert "    return result" in prompt.split(FIM_SUFFIX)[1]  # the text after the cursor
    assert body["temperature"] == 0.0 and body["stream"] is True
    assert "<|endoftext|>" in body["stop"]  # the model's own end of a hole
    # The answer is trimmed to the line, as a local model's, and the usage is reported.
    assert suggestion.text == "for price in prices:"
    assert (suggestion.prompt.tokens, suggestion.prompt.reused) == (57, 40)
    assert suggestion.model == f"served-model at {server.base_url}"


def test_a_secret_in_the_file_never_reaches_the_server(server):
    server.pieces = ["result += 1"]
    _, seen = complete(server)
    [(_, body)] = seen
    assert "ghp_Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4zAb7c" not in json.dumps(body)


def test_a_suggestion_that_echoes_a_secret_is_not_shown(server):
    server.pieces = ['token = "ghp_Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4zAb7c"']
    suggestion, _ = complete(server)
    assert suggestion.text == "" and suggestion.why_empty
