"""The `openai` backend against a real llama-cpp-python server on 127.0.0.1, with the default
model."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from hearth.core.pipeline.types import ActionRequest
from hearth.core.actions.generate import GenerateAction
from hearth.core.cancel import Cancelled, CancelToken
from hearth.core.errors import HearthError
from hearth.core.models.backend import ChatMessage, GenerationRequest, SamplingParams
from hearth.core.models.manifest import load_manifest, model_file
from hearth.core.models.openai import OpenAIBackend
from hearth.core.pipeline.engine import EngineOptions, run_action
from hearth.core.text import Pos
from tests.e2e.conftest import ROOT, require_default_model

# Inline completion at the start of a body line, as the user reaches it.
TYPING = '''def is_palindrome(text: str) -> bool:
    """Return True if text reads the same forwards and backwards, ignoring case."""
    lowered = text.lower()
''' + "    \n"

STUB = '''def is_palindrome(text: str) -> bool:
    """Return True if text reads the same forwards and backwards, ignoring case."""
    ...
'''


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory) -> Iterator[str]:
    require_default_model()
    port = free_port()
    log = tmp_path_factory.mktemp("llama-server") / "server.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "llama_cpp.server",
             "--model", str(model_file(load_manifest().get(None))), "--host", "127.0.0.1",
             "--port", str(port), "--n_ctx", "4096", "--n_threads", "1"],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None:
                pytest.fail(f"llama_cpp.server exited: {log.read_text()[-2000:]}")
            try:
                if httpx.get(base_url + "/models", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("llama_cpp.server did not start within 120 s")
            time.sleep(0.5)
        yield base_url
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_streams_a_completion(llama_server):
    backend = OpenAIBackend(llama_server, "default")
    pieces: list[str] = []
    [completion] = backend.generate(GenerationRequest(
        messages=[ChatMessage("user", "Reply with the single word: hello")],
        params=[SamplingParams(temperature=0.0, max_tokens=16)]), on_token=pieces.append)
    assert "hello" in completion.text.lower()
    assert "".join(pieces) == completion.text and completion.tokens == len(pieces)
    assert not completion.prefilled


def test_several_samples(llama_server):
    # llama-cpp-python's server interrupts a running request when another arrives: one at a time.
    backend = OpenAIBackend(llama_server, "default", parallel=1)
    completions = backend.generate(GenerationRequest(
        messages=[ChatMessage("user", "Name a colour.")],
        params=[SamplingParams(temperature=0.8, max_tokens=8, seed=s) for s in range(3)]))
    assert len(completions) == 3 and all(c.text for c in completions)


def test_generate_action_through_the_server(llama_server):
    backend = OpenAIBackend(llama_server, "default")
    result = run_action(GenerateAction(), ActionRequest(STUB, Pos(2, 4)), backend,
                        EngineOptions(samples=1, max_tokens=200))
    assert result.new_source is not None
    compile(result.new_source, "stub.py", "exec")
    assert "..." not in result.new_source.split('"""')[-1]


def test_cancellation_stops_the_stream(llama_server):
    backend = OpenAIBackend(llama_server, "default")
    cancel = CancelToken()
    seen: list[str] = []

    def on_token(piece: str) -> None:
        seen.append(piece)
        if len(seen) == 3:
            cancel.cancel()

    with pytest.raises(Cancelled):
        backend.generate(GenerationRequest(
            messages=[ChatMessage("user", "Count from 1 to 500.")],
            params=[SamplingParams(temperature=0.0, max_tokens=1000)]), cancel=cancel,
            on_token=on_token)
    assert len(seen) <= 4


def test_the_cli_uses_the_server(llama_server, tmp_path: Path):
    path = tmp_path / "pal.py"
    path.write_text(STUB)
    result = subprocess.run(
        [sys.executable, "-m", "hearth", "generate", f"{path}:3", "--json", "--backend", "openai",
         "--base-url", llama_server, "--max-tokens", "200", "--samples", "1"],
        capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["ok"] and payload["samples"] == 1
    compile(payload["new_text"], "pal.py", "exec")
    assert path.read_text() == STUB  # no --write: untouched


def test_inline_completion_through_the_servers_completions_endpoint(llama_server):
    """The fill-in-the-middle prompt goes to /completions as raw text (the server parses the
    model's special tokens), and the answer is trimmed like a local one."""
    from hearth.core.completion import Completer, CompletionRequest
    from hearth.settings import Settings

    backend = OpenAIBackend(llama_server, "default")
    request = CompletionRequest(TYPING, Pos(3, 4), None, "python", mode="line",
                                trigger="invoked")
    suggestion = Completer().complete(request, backend=backend, settings=Settings())
    assert suggestion.text and "\n" not in suggestion.text, suggestion
    assert "<|" not in suggestion.text  # no special token leaked as text
    assert suggestion.model == backend.name
    lines = TYPING.splitlines(keepends=True)
    compile("".join(lines[:3]) + "    " + suggestion.text + "\n", "typed.py", "exec")


def test_the_cli_completes_through_the_server(llama_server, tmp_path: Path):
    path = tmp_path / "typed.py"
    path.write_text(TYPING)
    result = subprocess.run(
        [sys.executable, "-m", "hearth", "complete", f"{path}:4:5", "--json", "--line",
         "--backend", "openai", "--base-url", llama_server, "--no-context"],
        capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["text"] and llama_server in payload["model"], payload
    assert path.read_text() == TYPING and payload["written"] == []  # no --write: untouched


def test_an_unreachable_server_is_a_clear_error():
    backend = OpenAIBackend(f"http://127.0.0.1:{free_port()}/v1", "default", retries=1,
                            timeout_s=2)
    with pytest.raises(HearthError, match="failed 2 times") as info:
        backend.generate(GenerationRequest(messages=[ChatMessage("user", "hi")]))
    assert "openai.baseUrl" in info.value.hint


def test_an_error_status_is_reported_with_the_body():
    """A real HTTP server on loopback that answers 401, as a server with a wrong key does."""
    from http.server import BaseHTTPRequestHandler, HTTPServer

    class Refuse(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - the standard library's name
            body = b'{"error": "invalid api key"}'
            self.send_response(401)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Refuse)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        backend = OpenAIBackend(f"http://127.0.0.1:{server.server_port}/v1", "default")
        with pytest.raises(HearthError, match="HTTP 401.*invalid api key"):
            backend.generate(GenerationRequest(messages=[ChatMessage("user", "hi")]))
    finally:
        server.shutdown()


def test_a_choice_s_probability_from_the_server_s_top_logprobs(llama_server):
    """The self-check's question through a server (generation.selfCheck): the dictated word
    is the likelier one, and the two add up to one."""
    backend = OpenAIBackend(llama_server, "default")

    def dictated(word: str) -> GenerationRequest:
        return GenerationRequest(messages=[ChatMessage(
            "user", f"Reply with exactly this word and nothing else: {word}")])

    says_yes = backend.choice_probabilities(dictated("Yes"), ("Yes", "No"))
    says_no = backend.choice_probabilities(dictated("No"), ("Yes", "No"))
    assert abs(sum(says_yes.values()) - 1.0) < 1e-9
    assert says_yes["Yes"] > 0.5 > says_no["Yes"]
