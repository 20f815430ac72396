"""The self-check's question through an OpenAI-compatible server (OpenAIBackend.
choice_probabilities): what is asked, how ``top_logprobs`` are read, and that a server without
them leaves the answer unreviewed rather than failing it. A loopback server answers as vLLM and
llama.cpp's server do; the real server is tests/e2e/test_openai_backend.py's."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler

import pytest

from hearth.core.models.backend import ChatMessage, GenerationRequest
from hearth.core.models.openai import OpenAIBackend
from tests.unit.loopback import serving

QUESTION = GenerationRequest(messages=[ChatMessage("user", "Yes or No?")])


class Answering(BaseHTTPRequestHandler):
    reply: dict = {}
    seen: list[dict] = []

    def do_POST(self):  # noqa: N802 - the standard library's name
        type(self).seen.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        data = json.dumps(self.reply).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def top(*pairs: tuple[str, float]) -> dict:
    return {"choices": [{"message": {"content": pairs[0][0]}, "logprobs": {"content": [
        {"token": pairs[0][0], "logprob": pairs[0][1],
         "top_logprobs": [{"token": t, "logprob": v} for t, v in pairs]}]}}]}


@pytest.fixture
def server() -> Iterator[type[Answering]]:
    with serving(type("Handler", (Answering,), {"reply": {}, "seen": []})) as handler:
        yield handler


def ask(handler) -> dict | None:
    backend = OpenAIBackend(handler.base_url, "served-model")
    try:
        return backend.choice_probabilities(QUESTION, ("Yes", "No"))
    finally:
        backend.close()


def test_one_token_is_asked_for_with_the_top_logprobs(server) -> None:
    server.reply = top(("Yes", math.log(0.6)), ("No", math.log(0.3)), (" yes", math.log(0.1)))
    answer = ask(server)
    assert answer == pytest.approx({"Yes": 2 / 3, "No": 1 / 3})
    [sent] = server.seen
    assert (sent["max_tokens"], sent["temperature"], sent["logprobs"]) == (1, 0.0, True)
    assert sent["top_logprobs"] == 20 and sent["messages"][-1]["content"] == "Yes or No?"


def test_a_choice_not_listed_counts_as_the_least_likely_listed(server) -> None:
    server.reply = top(("Yes", math.log(0.9)), ("Sure", math.log(0.05)))
    assert ask(server)["No"] == pytest.approx(0.05 / 0.95)


def test_no_probabilities_no_review(server) -> None:
    server.reply = {"choices": [{"message": {"content": "Yes"}}]}  # logprobs ignored
    assert ask(server) is None
    server.reply = top(("Maybe", -0.1), ("Perhaps", -2.0))  # neither choice listed
    assert ask(server) is None
