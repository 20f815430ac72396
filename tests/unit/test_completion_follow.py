"""A model answer in flight that the user types along is kept (core.completion.follow,
lsp.completion): the newer request waits for it and gets the rest of it, and an answer the
user typed past is cancelled.

The engine-level tests use a scripted model that writes its pieces one at a time, each when
the test lets it; the server-level tests run a real `hearth serve` whose backend is an
OpenAI-compatible stub streaming a fixed line slowly, so that what is in flight when the next
key arrives is decided by the test, not by the machine's speed. The real model through the
same path is measured by `tests/bench/bench_complete.py --typing` (docs/BENCHMARKS.md)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from lsprotocol import types
from pytest_lsp import ClientServerConfig

from hearth.core.cancel import Cancelled, CancelToken
from hearth.core.completion import Completer, CompletionRequest
from hearth.core.completion.follow import Decoding, Decodings
from hearth.core.models.backend import Completion, GenerationRequest
from hearth.core.text import Pos
from hearth.settings import Settings
from tests.unit.loopback import serving

ROOT = Path(__file__).resolve().parents[2]
LINE = "            result[key] = va"
CONFIG = f'''def read_config(path):
    """Read KEY=VALUE lines into a dict."""
    result = {{}}
    with open(path) as handle:
        for line in handle:
            key, _, value = line.strip().partition("=")
{LINE}
    return result
'''
CURSOR = Pos(6, len(LINE))
PATH = Path("/w/conf.py")


def typed(text: str) -> tuple[str, Pos]:
    """CONFIG with ``text`` typed at the cursor, and the cursor after it."""
    return CONFIG.replace(LINE, LINE + text), Pos(CURSOR.line, CURSOR.col + len(text))


# -- the decoding's bookkeeping --------------------------------------------------------------

def test_typed_text_agrees_while_it_is_a_start_of_the_answer_or_the_answer_of_it() -> None:
    decoding = Decoding("doc", "x = va", "\n", heal="va")
    decoding.wrote("v")
    assert decoding.suggestion() == ""  # still writing what it writes again
    decoding.wrote("alue.st")
    assert decoding.suggestion() == "lue.st"
    assert decoding.agrees("lu") and decoding.agrees("lue.strip(")  # the model is behind
    assert not decoding.agrees("lux")
    other = Decoding("doc", "x = va", "\n", heal="va")
    other.wrote("xy")  # did not write the healed part again: nothing of it can be shown
    assert other.suggestion() is None and not other.agrees("")


def test_only_a_request_at_a_later_point_of_the_same_line_follows() -> None:
    decoding = Decoding("doc", "a\nx = va", "\nrest")
    assert decoding.typed_since("doc", "a\nx = valu", "\nrest") == "lu"
    assert decoding.typed_since("doc", "a\nx = va", "\nrest") == ""
    assert decoding.typed_since("other", "a\nx = valu", "\nrest") is None
    assert decoding.typed_since("doc", "a\nx = valu", "\nother") is None  # edited after it
    assert decoding.typed_since("doc", "a\ny = valu", "\nrest") is None  # edited before it
    assert decoding.typed_since("doc", "a\nx = va\n", "\nrest") is None  # a new line
    block = Decoding("doc", "a\nx = va", "\nrest", multiline=True)
    assert block.typed_since("doc", "a\nx = va\n  b", "\nrest") == "\n  b"


def test_the_answer_is_cancelled_as_soon_as_it_writes_what_was_not_typed() -> None:
    token = CancelToken()
    decodings = Decodings()
    decoding = Decoding("doc", "x = ", "", cancel=token)
    decodings.start(decoding)
    decoding.wrote("val")
    assert decodings.following("doc", "x = va", "") is decoding
    decoding.wrote("ue")
    assert not token.cancelled
    assert decodings.following("doc", "x = valx", "") is None  # typed past it: not followed
    decoding.wrote(".strip()")  # the latest follower typed "valx"; this contradicts it
    assert token.cancelled
    decodings.end(decoding)
    assert decodings.following("doc", "x = va", "") is None


# -- through the Completer ---------------------------------------------------------------------

class Paced:
    """Writes ``pieces`` through ``on_token`` one by one, each when the test releases it."""

    name = "paced"
    heals = True
    loaded = True

    def __init__(self, pieces: list[str]) -> None:
        self.pieces = pieces
        self.release = threading.Semaphore(0)
        self.started = threading.Event()
        self.calls = 0

    def generate(self, request: GenerationRequest, cancel=None, on_token=None):
        self.calls += 1
        self.started.set()
        text = ""
        for piece in [request.heal, *self.pieces]:
            if not self.release.acquire(timeout=10):
                raise AssertionError("the test never released the next piece")
            text += piece
            on_token(piece)
            if cancel is not None and cancel.cancelled:
                raise Cancelled()
        return [Completion(text, len(self.pieces), "stop", 0.01)]


def run_in_thread(completer: Completer, model: Paced, token: CancelToken) -> dict:
    outcome: dict = {}

    def run() -> None:
        try:
            outcome["result"] = completer.complete(
                CompletionRequest(CONFIG, CURSOR, PATH), backend=model, settings=Settings(),
                cancel=token)
        except Cancelled:
            outcome["cancelled"] = True

    thread = threading.Thread(target=run)
    thread.start()
    outcome["thread"] = thread
    return outcome


def test_a_request_typed_along_the_answer_gets_the_rest_of_it_without_the_model() -> None:
    completer, model, token = Completer(), Paced(["lue", ".strip()"]), CancelToken()
    outcome = run_in_thread(completer, model, token)
    assert model.started.wait(10)
    model.release.release()  # the healed "va"
    source, position = typed("l")
    later = CompletionRequest(source, position, PATH)
    decoding = completer.following(later, Settings())
    assert decoding is not None and decoding.cancel is token
    for _ in range(2):
        model.release.release()
    outcome["thread"].join(10)
    assert outcome["result"].text == "lue.strip()"
    rest = completer.answer_at_once(later, Settings())
    assert rest is not None and rest.text == "ue.strip()" and model.calls == 1


def test_an_answer_the_user_typed_past_is_cancelled_while_it_is_written() -> None:
    completer, model, token = Completer(), Paced(["lue", ".strip()", " or None"]), CancelToken()
    outcome = run_in_thread(completer, model, token)
    assert model.started.wait(10)
    model.release.release()  # "va"
    source, position = typed("r")  # "var...": the model has written nothing of it yet
    assert completer.following(CompletionRequest(source, position, PATH), Settings())
    model.release.release()  # "lue": not what was typed
    outcome["thread"].join(10)
    assert token.cancelled and outcome.get("cancelled")
    assert completer.answer_at_once(CompletionRequest(source, position, PATH),
                                    Settings()) is None


# -- through a language server -------------------------------------------------------------------

class SlowLine(BaseHTTPRequestHandler):
    """A /completions endpoint that streams ``pieces``, waiting ``pause_s`` after the first."""

    pieces: list[str] = []
    pause_s = 0.0
    seen: list[dict] = []

    def do_POST(self):  # noqa: N802 - the standard library's name
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).seen.append(body)
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        try:
            for index, piece in enumerate(self.pieces):
                event = {"choices": [{"index": 0, "text": piece, "finish_reason": None}]}
                self.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
                self.wfile.flush()
                if index == 0:
                    time.sleep(self.pause_s)
            self.wfile.write(b'data: {"choices": [{"index": 0, "text": "", '
                             b'"finish_reason": "stop"}]}\n\ndata: [DONE]\n\n')
        except OSError:  # the client hung up: it cancelled the answer
            type(self).seen[-1]["hung_up"] = True

    def log_message(self, *args):
        pass


@pytest.fixture
def slow_line() -> Iterator[type[SlowLine]]:
    with serving(type("Handler", (SlowLine,), {"pieces": [], "seen": []})) as handler:
        yield handler


async def serve(tmp_path: Path, base_url: str):
    env = {**os.environ, "HEARTH_LOG_DIR": str(tmp_path / "logs"),
           "HEARTH_CACHE_DIR": str(tmp_path / "cache"), "PYTHONPATH": str(ROOT / "server")}
    client = await ClientServerConfig(
        server_command=[sys.executable, "-m", "hearth", "serve", "--stdio"],
        server_env=env).start()
    caps = types.ClientCapabilities(text_document=types.TextDocumentClientCapabilities(
        inline_completion=types.InlineCompletionClientCapabilities()))
    await client.initialize_session(types.InitializeParams(
        capabilities=caps, root_uri=tmp_path.as_uri(), initialization_options={
            "model": {"backend": "openai"}, "openai": {"baseUrl": base_url, "retries": 0},
            "index": {"enabled": False}, "completion": {"contextTokens": 0}}))
    return client


def ask(client, uri: str, position: Pos, msg_id: str) -> asyncio.Future:
    params = types.InlineCompletionParams(
        text_document=types.TextDocumentIdentifier(uri=uri),
        position=types.Position(position.line, position.col),
        context=types.InlineCompletionContext(
            trigger_kind=types.InlineCompletionTriggerKind.Automatic))
    return asyncio.wrap_future(client.protocol.send_request(
        types.TEXT_DOCUMENT_INLINE_COMPLETION, params, msg_id=msg_id))


async def type_key(client, uri: str, source: str, version: int, cancel: str) -> None:
    """As VS Code does on a key: the change, then the cancel of the request in flight."""
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
        content_changes=[types.TextDocumentContentChangeWholeDocument(text=source)]))
    client.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id=cancel))


async def wait_for(condition, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.01)


def texts(answer) -> list[str]:
    return [item.insert_text for item in answer.items] if answer is not None else []


async def cancelled_or_empty(future) -> bool:
    """A request the editor cancelled: answered with nothing, or with the cancel error."""
    try:
        return texts(await future) == []
    except Exception as exc:  # noqa: BLE001 - pygls' JsonRpcRequestCancelled
        return "cancel" in type(exc).__name__.lower() or "cancel" in str(exc).lower()


async def stats(client) -> list[dict]:
    answer = await client.protocol.send_request_async("hearth/completionStats", {})
    recent = answer["recent"] if isinstance(answer, dict) else answer.recent
    return [dict(r) if isinstance(r, dict) else r._asdict() for r in recent]


async def start_typing(tmp_path: Path, slow_line) -> tuple:
    client = await serve(tmp_path, slow_line.base_url)
    uri = (tmp_path / "conf.py").as_uri()
    client.text_document_did_open(types.DidOpenTextDocumentParams(
        text_document=types.TextDocumentItem(uri=uri, language_id="python", version=1,
                                             text=CONFIG)))
    first = ask(client, uri, CURSOR, "first")
    await wait_for(lambda: slow_line.seen)  # the model is writing "lue" and then waits
    return client, uri, first


async def stop(client) -> None:
    try:
        await client.shutdown_session()
    finally:
        await client.stop()


async def test_a_key_typed_along_the_answer_waits_for_it_instead_of_asking_again(
        tmp_path: Path, slow_line) -> None:
    slow_line.pieces, slow_line.pause_s = ["lue", ".strip()", "\n"], 1.0
    client, uri, first = await start_typing(tmp_path, slow_line)
    try:
        source, position = typed("l")
        await type_key(client, uri, source, 2, cancel="first")
        second = ask(client, uri, position, "second")
        assert texts(await second) == ["ue.strip()"]
        assert await cancelled_or_empty(first)  # cancelled by the editor
        assert len(slow_line.seen) == 1, "the key started another answer"
        [record] = await stats(client)
        assert record["followed"] and record["cached"]
    finally:
        await stop(client)


async def test_a_key_that_contradicts_the_answer_cancels_it(tmp_path: Path, slow_line) -> None:
    slow_line.pieces, slow_line.pause_s = ["lue", ".strip()", "\n"], 1.0
    client, uri, first = await start_typing(tmp_path, slow_line)
    try:
        source, position = typed("x")
        await type_key(client, uri, source, 2, cancel="first")
        slow_line.pieces, slow_line.pause_s = [" = 1", "\n"], 0.0
        second = ask(client, uri, position, "second")
        assert texts(await second) == [" = 1"]
        assert await cancelled_or_empty(first)
        assert len(slow_line.seen) == 2  # the second key's own answer
        [record] = await stats(client)
        assert not record["followed"] and not record["cached"]
    finally:
        await stop(client)
