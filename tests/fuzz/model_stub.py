"""A stand-in for an OpenAI-compatible inference server, so that the fuzzed server's AI
actions produce answers (and edits that can race the fuzzer's edits) without a model.

It answers ``POST /chat/completions`` with a streamed code block after a short delay, and
sometimes with an HTTP error or malformed data, as a real server may.
"""

from __future__ import annotations

import json
import random
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ANSWERS = (
    "```python\ndef answer(value):\n    return value\n```",
    "```python\nimport json\n```",
    "Here is the fix:\n```python\nresult = compute()\n```",
    "```python\ndef test_answer():\n    assert True\n```",
    "The function returns its argument unchanged.",
    "",
)
MAX_DELAY_S = 0.4  # long enough for the fuzzer's next edits to arrive while the job runs


class _Handler(BaseHTTPRequestHandler):
    server: "ModelStub"

    def log_message(self, *args: object) -> None:  # the fuzzer's output is its report
        pass

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        length = int(self.headers.get("Content-Length") or 0)
        request = self.rfile.read(length)
        rng = self.server.next_random()
        time.sleep(rng.uniform(0, MAX_DELAY_S))
        roll = rng.random()
        if roll < 0.05:
            self.send_error(500, "stub failure")
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        if roll < 0.1:
            self.wfile.write(b"data: {not json\n\n")
            return
        text = rng.choice(ANSWERS)
        named = function_named(request)
        if named and rng.random() < 0.5:  # an answer the checks accept: an edit to race
            text = f"```python\ndef {named}(*args, **kwargs):\n    return None\n```"
        for start in range(0, len(text), 8):
            event = {"choices": [{"delta": {"content": text[start:start + 8]}}]}
            self.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
        self.wfile.write(b'data: {"choices": [{"delta": {}, "finish_reason": "stop"}]}\n\n')
        self.wfile.write(b"data: [DONE]\n\n")


def function_named(request: bytes) -> str | None:
    """The last function the request's prompt defines, if any."""
    try:
        messages = json.loads(request).get("messages") or []
        prompt = str(messages[-1].get("content")) if messages else ""
    except (ValueError, AttributeError, TypeError):
        return None
    names = re.findall(r"\bdef\s+([A-Za-z_]\w*)\s*\(", prompt)
    return names[-1] if names else None


class ModelStub(ThreadingHTTPServer):
    """``with ModelStub(seed) as stub:`` serves at ``stub.base_url`` on a daemon thread."""

    daemon_threads = True

    def __init__(self, seed: int) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self.base_url = f"http://127.0.0.1:{self.server_address[1]}/v1"

    def handle_error(self, request: object, client_address: object) -> None:
        """A server that cancels a request closes the connection mid-answer: not news."""
        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)

    def next_random(self) -> random.Random:
        with self._lock:
            return random.Random(self._random.getrandbits(64))

    def __enter__(self) -> ModelStub:
        threading.Thread(target=self.serve_forever, name="model-stub", daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
        self.server_close()
