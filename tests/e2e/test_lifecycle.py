"""The server's life cycle and its robustness to what clients really send, byte by byte.

Each test talks raw JSON-RPC over the real `python -m hearth serve --stdio` (no LSP client
library in between, so that framing, bad input and abrupt endings can be exactly what a test
says). None needs the language model but the one marked `model`.
"""

from __future__ import annotations

import fcntl
import io
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from hearth.core.cancel import Cancelled, CancelToken
from hearth.core.inference import InferenceQueue
from hearth.logs import StderrPump
from hearth.lsp.lifecycle import ParentWatcher
from hearth.lsp.transport import MessageReader
from hearth.lsp.workspace import document_key
from tests.e2e.conftest import ROOT, require_default_model

EXITS_WITHIN_S = 5.0  # "ends the process": a generous bound, not a timing
ANSWERS_WITHIN_S = 60.0
NO_INDEX = {"index": {"enabled": False}}
CAPABILITIES: dict[str, Any] = {
    "window": {"workDoneProgress": True},
    "workspace": {"configuration": True, "workspaceEdit": {"documentChanges": True}},
    "textDocument": {"codeAction": {"resolveSupport": {"properties": ["edit"]},
                                    "codeActionLiteralSupport": {"codeActionKind": {
                                        "valueSet": ["quickfix", "refactor"]}}}},
}


def frame(body: bytes, header: str = "Content-Length", eol: bytes = b"\r\n") -> bytes:
    return f"{header}: {len(body)}".encode() + eol + eol + body


class RawClient:
    """A client that frames messages itself and answers the server's requests with null."""

    def __init__(self, process: subprocess.Popen) -> None:
        self.process = process
        self.messages: list[dict[str, Any]] = []
        self.closed = threading.Event()  # the server's stdout reached its end
        self._changed = threading.Condition()
        self._next_id = 0
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    # -- receiving ----------------------------------------------------------------------------
    def _read(self) -> None:
        stream = self.process.stdout
        try:
            while True:
                length = None
                while True:
                    line = stream.readline()
                    if not line:
                        return
                    if line in (b"\r\n", b"\n"):
                        break
                    name, _, value = line.decode("ascii").partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value)
                assert length is not None, "the server sent a message without Content-Length"
                message = json.loads(stream.read(length))
                with self._changed:
                    self.messages.append(message)
                    self._changed.notify_all()
                if "method" in message and "id" in message:
                    self._answer_server_request(message)
        finally:
            self.closed.set()
            with self._changed:
                self._changed.notify_all()

    def _answer_server_request(self, message: dict[str, Any]) -> None:
        result: Any = None
        if message["method"] == "workspace/configuration":
            result = [None for _ in message["params"]["items"]]
        try:
            self.send({"jsonrpc": "2.0", "id": message["id"], "result": result})
        except OSError:
            pass  # the test closed stdin on purpose

    def wait_for(self, predicate: Callable[[dict[str, Any]], bool],
                 timeout: float = ANSWERS_WITHIN_S) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for message in self.messages:
                    if predicate(message):
                        return message
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self.closed.is_set():
                    raise AssertionError(f"no such message within {timeout} s; got "
                                         f"{[m.get('method', m.get('id')) for m in self.messages]}"
                                         f"; stderr: {stderr_of(self.process)}")
                self._changed.wait(remaining)

    def response(self, msg_id: Any, timeout: float = ANSWERS_WITHIN_S) -> dict[str, Any]:
        return self.wait_for(lambda m: m.get("id") == msg_id and "method" not in m, timeout)

    def error(self, msg_id: Any) -> dict[str, Any]:
        answer = self.response(msg_id)
        assert "error" in answer, f"expected an error, got {answer}"
        return answer["error"]

    # -- sending ------------------------------------------------------------------------------
    def send_bytes(self, data: bytes) -> None:
        self.process.stdin.write(data)
        self.process.stdin.flush()

    def send(self, message: Any, **framing: Any) -> None:
        self.send_bytes(frame(json.dumps(message).encode("utf-8"), **framing))

    def request(self, method: str, params: Any = None, **framing: Any) -> int:
        self._next_id += 1
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": self._next_id, "method": method}
        if params is not None:
            message["params"] = params
        self.send(message, **framing)
        return self._next_id

    def call(self, method: str, params: Any = None) -> Any:
        answer = self.response(self.request(method, params))
        assert "error" not in answer, f"{method} failed: {answer['error']}"
        return answer["result"]

    def notify(self, method: str, params: Any = None) -> None:
        message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            message["params"] = params
        self.send(message)

    def initialize(self, root: Path, *, options: Any = NO_INDEX, process_id: Any = None,
                   capabilities: dict[str, Any] | None = None) -> dict[str, Any]:
        result = self.call("initialize", {
            "processId": process_id, "rootUri": root.as_uri(),
            "capabilities": CAPABILITIES if capabilities is None else capabilities,
            "workspaceFolders": [{"uri": root.as_uri(), "name": root.name}],
            "initializationOptions": options})
        self.notify("initialized", {})
        return result

    def open(self, path: Path, text: str, uri: str | None = None, version: int = 1) -> str:
        uri = uri or path.as_uri()
        self.notify("textDocument/didOpen", {"textDocument": {
            "uri": uri, "languageId": "python", "version": version, "text": text}})
        return uri

    def diagnostics_for(self, uri: str) -> list[dict[str, Any]]:
        message = self.wait_for(lambda m: m.get("method") == "textDocument/publishDiagnostics"
                                and m["params"]["uri"] == uri)
        return message["params"]["diagnostics"]

    # -- ending -------------------------------------------------------------------------------
    def exit_code(self, timeout: float = EXITS_WITHIN_S) -> int:
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"the server was still running {timeout} s later; stderr: "
                                 f"{stderr_of(self.process)}") from None

    def shutdown_and_exit(self) -> int:
        self.call("shutdown")
        self.notify("exit")
        return self.exit_code()


def stderr_of(process: subprocess.Popen) -> str:
    path = getattr(process, "stderr_path", None)
    if path is None or not path.exists():
        return "(not captured)"
    return path.read_text(encoding="utf-8", errors="replace")[-3000:]


def stderr_says(process: subprocess.Popen, text: str, within_s: float = 30.0) -> bool:
    """Whether ``text`` reaches the server's stderr within ``within_s``: the server writes it
    from a queue of its own (hearth.logs), so a line may land after the answer that follows."""
    deadline = time.monotonic() + within_s
    while text not in stderr_of(process):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.fixture
def environment(tmp_path: Path, shared_cache: Path) -> dict[str, str]:
    return {**os.environ, "HEARTH_LOG_DIR": str(tmp_path / "logs"),
            "HEARTH_CACHE_DIR": str(shared_cache), "PYTHONPATH": str(ROOT / "server")}


@pytest.fixture
def serve(tmp_path: Path, environment: dict[str, str]):
    """``serve(verbose=False, stderr=None)``: a RawClient on a fresh server, killed after."""
    processes: list[subprocess.Popen] = []

    def start(*, verbose: bool = False, stderr: Any = None,
              command: list[str] | None = None) -> RawClient:
        command = command or [sys.executable, "-m", "hearth", *(["-v"] if verbose else []),
                              "serve", "--stdio"]
        stderr_path = None
        if stderr is None:
            stderr_path = tmp_path / f"stderr-{len(processes)}.txt"
            stderr = stderr_path.open("wb")
        process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                   stderr=stderr, env=environment, cwd=tmp_path)
        process.stderr_path = stderr_path
        processes.append(process)
        return RawClient(process)

    yield start
    for process in processes:
        if process.poll() is None:
            process.kill()
            process.wait()


def workspace(tmp_path: Path, files: int) -> Path:
    root = tmp_path / "ws"
    for n in range(files):
        package = root / f"pkg{n // 50}"
        package.mkdir(parents=True, exist_ok=True)
        (package / f"mod{n}.py").write_text(
            f'"""Module {n}."""\n\n\ndef helper_{n}(value):\n'
            f'    """Scale ``value`` by {n}."""\n    return value * {n}\n', encoding="utf-8")
    return root


def progress_began(message: dict[str, Any]) -> bool:
    return (message.get("method") == "$/progress"
            and message["params"]["value"].get("kind") == "begin")


# -- exit, whatever is running ------------------------------------------------------------
def test_shutdown_and_exit_while_indexing_end_the_process_and_write_nothing_after(
        serve, tmp_path: Path):
    client = serve()
    client.initialize(workspace(tmp_path, 300), options={})
    client.wait_for(progress_began)
    shutdown = client.request("shutdown")
    client.response(shutdown)
    answered = len(client.messages)
    client.notify("exit")
    assert client.exit_code() == 0
    assert client.closed.wait(EXITS_WITHIN_S)
    assert client.messages[answered:] == []
    assert "Traceback" not in stderr_of(client.process)


def test_end_of_stdin_while_indexing_ends_the_process(serve, tmp_path: Path):
    client = serve()
    client.initialize(workspace(tmp_path, 300), options={})
    client.wait_for(progress_began)
    client.process.stdin.close()
    assert client.exit_code() == 1  # no `shutdown` came first
    assert "Traceback" not in stderr_of(client.process)


def test_exit_without_shutdown_while_indexing_exits_with_1(serve, tmp_path: Path):
    client = serve()
    client.initialize(workspace(tmp_path, 300), options={})
    client.wait_for(progress_began)
    client.notify("exit")
    assert client.exit_code() == 1
    assert client.closed.wait(EXITS_WITHIN_S)
    assert "Traceback" not in stderr_of(client.process)


def test_exit_before_initialize_ends_the_process(serve):
    client = serve()
    client.notify("exit")
    assert client.exit_code() == 1


def test_requests_after_shutdown_are_invalid_and_exit_still_works(serve, tmp_path: Path):
    client = serve()
    client.initialize(tmp_path)
    client.call("shutdown")
    assert client.error(client.request("workspace/executeCommand", {
        "command": "hearth.listActions"}))["code"] == -32600
    client.notify("exit")
    assert client.exit_code() == 0


def test_the_server_exits_when_the_editor_process_dies(serve, tmp_path: Path):
    """The editor starts the server through a process that then dies: the pid from
    `initialize` is all the server has to notice it."""
    pid_file = tmp_path / "server.pid"
    launcher = (
        "import subprocess, sys, time\n"
        "server = subprocess.Popen([sys.executable, '-m', 'hearth', 'serve', '--stdio'])\n"
        f"open({str(pid_file)!r}, 'w').write(str(server.pid))\n"
        "time.sleep(600)\n")
    client = serve(command=[sys.executable, "-c", launcher])
    editor = client.process
    result = client.initialize(tmp_path, process_id=editor.pid)
    assert result["serverInfo"]["name"] == "hearth"
    server_pid = int(pid_file.read_text())
    editor.kill()
    editor.wait()
    # The launcher is gone, so the server held the last end of our stdout pipe.
    assert client.closed.wait(EXITS_WITHIN_S), "the server outlived its editor"
    deadline = time.monotonic() + EXITS_WITHIN_S  # its descriptors close just before it ends
    while running(server_pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not running(server_pid)


def running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state not in ("Z", "X")  # a zombie has exited, whoever reaps it


def test_a_process_id_that_is_already_dead_ends_the_server(serve, tmp_path: Path):
    finished = subprocess.Popen([sys.executable, "-c", "pass"])
    finished.wait()
    client = serve()
    # Not waiting for the answer: with its editor gone, the server may end before it.
    client.request("initialize", {"processId": finished.pid, "capabilities": {},
                                  "initializationOptions": NO_INDEX})
    assert client.exit_code() == 1


def test_a_client_that_never_reads_stderr_still_gets_every_answer(serve, tmp_path: Path):
    client = serve(verbose=True, stderr=subprocess.PIPE)  # a pipe nobody drains
    client.initialize(tmp_path)
    text = "import os\n\n\ndef f(x):\n    return x\n" * 200
    uri = client.open(tmp_path / "big.py", text)
    for _ in range(150):  # each message is logged: far more than the pipe holds
        client.call("textDocument/codeAction", {
            "textDocument": {"uri": uri},
            "range": {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}},
            "context": {"diagnostics": []}})
    assert client.shutdown_and_exit() == 0
    # The same records went to the log file: more than the pipe could ever have taken.
    pipe_size = fcntl.fcntl(client.process.stderr.fileno(), getattr(fcntl, "F_GETPIPE_SZ", 1032))
    assert (tmp_path / "logs" / "hearth.log").stat().st_size > pipe_size


# -- before initialize, and bad input -----------------------------------------------------
def test_requests_before_initialize_get_server_not_initialized(serve, tmp_path: Path):
    client = serve()
    for method, params in [("textDocument/codeAction", {}), ("shutdown", None),
                           ("workspace/executeCommand", {"command": "hearth.listActions"})]:
        error = client.error(client.request(method, params))
        assert error["code"] == -32002, error
        assert "initialize" in error["message"]
    assert client.initialize(tmp_path)["serverInfo"]["name"] == "hearth"
    assert client.shutdown_and_exit() == 0


def test_a_second_initialize_is_refused(serve, tmp_path: Path):
    client = serve()
    client.initialize(tmp_path)
    error = client.error(client.request("initialize", {"processId": None, "capabilities": {}}))
    assert error["code"] == -32600
    assert client.shutdown_and_exit() == 0


POSITION = {"line": 0, "character": 0}
RANGE = {"start": POSITION, "end": POSITION}


def bad_requests(uri: str) -> list[tuple[str, Any]]:
    """Requests Hearth serves, each with params a fuzzer or a broken client would send."""
    resolve = [
        "not an object", [1, 2], {}, {"action": "fix"}, {"action": 7, "uri": uri},
        {"action": "nope", "uri": uri, "position": POSITION},
        {"action": "fix", "uri": uri, "position": {"line": "a", "character": 0}},
        {"action": "fix", "uri": uri, "position": {"line": -1, "character": 0}},
        {"action": "fix", "uri": uri, "position": {"line": 1e300, "character": 0}},
        {"action": "fix", "uri": uri, "position": {"line": True, "character": 0}},
        {"action": "fix", "uri": 5, "position": POSITION},
        {"action": "fix", "uri": uri, "range": {"start": "x"}},
        {"action": "fix", "uri": uri, "position": POSITION, "end": [0, 0]},
    ]
    out: list[tuple[str, Any]] = [
        ("codeAction/resolve", {"title": "Hearth: Fix", "data": data}) for data in resolve]
    out += [
        ("codeAction/resolve", {"data": {}}),  # no title
        ("codeAction/resolve", "a string"),
        ("textDocument/codeAction", {}),
        ("textDocument/codeAction", {"textDocument": {"uri": uri}, "range": "everything",
                                     "context": {"diagnostics": []}}),
        ("textDocument/codeAction", {"textDocument": {"uri": uri}, "range": RANGE,
                                     "context": {"diagnostics": [{"range": 1}]}}),
        ("textDocument/codeAction", {"textDocument": {"uri": uri}, "range": {
            "start": {"line": -3, "character": 0}, "end": POSITION},
            "context": {"diagnostics": []}}),
        ("workspace/executeCommand", {}),
        ("workspace/executeCommand", {"command": "hearth.nothing"}),
        ("workspace/executeCommand", {"command": "hearth.fix", "arguments": "uri"}),
    ]
    for command in ("hearth.fix", "hearth.generate", "hearth.explain", "hearth.tests"):
        for arguments in ([], [None], [1], [{"uri": uri}], [{"uri": uri, "position": 3}],
                          [{"uri": 3, "position": POSITION}],
                          [{"uri": uri, "position": {"line": 0}}]):
            out.append(("workspace/executeCommand",
                        {"command": command, "arguments": arguments}))
    return out


def test_every_malformed_hearth_request_gets_invalid_params(serve, tmp_path: Path):
    client = serve()
    client.initialize(tmp_path)
    uri = client.open(tmp_path / "a.py", "import os\n")
    for method, params in bad_requests(uri):
        error = client.error(client.request(method, params))
        assert error["code"] == -32602, (method, params, error)
        assert len(error["message"]) > 10, (method, params, error)  # says what is wrong
    # The server is still up and serving.
    listed = client.call("workspace/executeCommand", {"command": "hearth.listActions"})
    assert {a["name"] for a in listed["actions"]} >= {"fix", "generate"}
    assert client.shutdown_and_exit() == 0


def test_an_action_on_a_document_that_is_not_open_fails_clearly(serve, tmp_path: Path):
    client = serve()
    client.initialize(tmp_path)
    error = client.error(client.request("workspace/executeCommand", {
        "command": "hearth.fix",
        "arguments": [{"uri": (tmp_path / "gone.py").as_uri(), "position": POSITION}]}))
    assert error["code"] == -32803 and "not open" in error["message"]
    assert client.shutdown_and_exit() == 0


def test_index_workspace_without_an_index_fails_clearly(serve, tmp_path: Path):
    client = serve()
    client.initialize(tmp_path)  # index.enabled is false
    error = client.error(client.request("workspace/executeCommand", {
        "command": "hearth.indexWorkspace"}))
    assert error["code"] == -32803 and "no workspace folder to index" in error["message"]
    assert client.shutdown_and_exit() == 0


def test_cancel_with_an_object_id_and_other_odd_notifications_are_ignored(serve, tmp_path):
    client = serve()
    client.initialize(tmp_path)
    for method, params in [("$/cancelRequest", {"id": {"nested": 1}}),
                           ("$/cancelRequest", {"id": [1]}), ("$/cancelRequest", {}),
                           ("$/cancelRequest", None), ("$/cancelRequest", {"id": 99}),
                           ("textDocument/didChange", {"textDocument": {
                               "uri": (tmp_path / "never-opened.py").as_uri(), "version": 2},
                               "contentChanges": [{"text": "x = 1\n"}]}),
                           ("textDocument/didOpen", {"textDocument": 5}),
                           ("workspace/didChangeConfiguration", "nonsense")]:
        client.notify(method, params)
    assert client.call("workspace/executeCommand", {"command": "hearth.listActions"})
    assert not [m for m in client.messages if m.get("method") == "window/showMessage"]
    assert client.shutdown_and_exit() == 0


def test_messages_that_are_not_json_rpc_requests_get_spec_errors(serve, tmp_path: Path):
    client = serve()
    client.initialize(tmp_path)
    client.send_bytes(frame(b"{not json"))
    assert client.wait_for(lambda m: m.get("error", {}).get("code") == -32700)["id"] is None
    client.send([{"jsonrpc": "2.0", "id": 1000, "method": "shutdown"}])  # a batch
    assert client.wait_for(lambda m: m.get("error", {}).get("code") == -32600)["id"] is None
    client.send({"jsonrpc": "1.0", "id": 1001, "method": "shutdown"})
    assert client.error(1001)["code"] == -32600
    client.send({"jsonrpc": "2.0", "id": 1002, "method": 42})
    assert client.error(1002)["code"] == -32600
    client.send({"jsonrpc": "2.0", "id": 1003, "method": "textDocument/didSave",
                 "params": {"textDocument": {"uri": "file:///x.py"}}})
    assert client.error(1003)["code"] == -32601  # a notification sent as a request
    client.send({"jsonrpc": "2.0", "id": 1004, "method": "hearth/unknown"})
    assert client.error(1004)["code"] == -32601
    assert client.shutdown_and_exit() == 0


# -- framing --------------------------------------------------------------------------------
def test_a_huge_content_length_is_skipped_and_the_server_stays_up(serve, tmp_path: Path):
    client = serve()
    client.initialize(tmp_path)
    body = json.dumps({"jsonrpc": "2.0", "id": 500, "method": "shutdown"}).encode()
    client.send_bytes(b"Content-Length: 1000000000000\r\n\r\n" + body)
    listed = client.call("workspace/executeCommand", {"command": "hearth.listActions"})
    assert listed["actions"]
    assert not [m for m in client.messages if m.get("id") == 500]  # that message was skipped
    assert stderr_says(client.process, "Content-Length"), stderr_of(client.process)
    assert client.shutdown_and_exit() == 0


def test_garbage_between_messages_is_skipped(serve, tmp_path: Path):
    client = serve()
    client.initialize(tmp_path)
    client.send_bytes(b"hello\r\nContent-Length: nope\r\n\r\n{}\r\nX-Other: 1\r\n\r\n")
    client.send_bytes(b"Content-Length: -5\r\n\r\n")
    assert client.call("workspace/executeCommand", {"command": "hearth.listActions"})
    assert client.shutdown_and_exit() == 0


def test_a_lower_case_header_is_understood(serve, tmp_path: Path):
    client = serve()
    client.initialize(tmp_path)
    msg_id = client.request("workspace/executeCommand", {"command": "hearth.listActions"},
                            header="content-length")
    assert client.response(msg_id)["result"]["actions"]
    assert client.shutdown_and_exit() == 0


def test_lf_only_framing_is_understood(serve, tmp_path: Path):
    client = serve()
    msg_id = client.request("initialize", {"processId": None, "capabilities": {},
                                           "initializationOptions": NO_INDEX}, eol=b"\n")
    assert client.response(msg_id)["result"]["serverInfo"]["name"] == "hearth"
    client.send_bytes(b"Content-Type: application/vscode-jsonrpc; charset=utf-8\n")
    msg_id = client.request("shutdown", eol=b"\n")
    assert "error" not in client.response(msg_id)
    client.notify("exit")
    assert client.exit_code() == 0


# -- URIs -----------------------------------------------------------------------------------
def test_a_percent_encoded_uri_gets_diagnostics_and_actions(serve, tmp_path: Path):
    client = serve()
    client.initialize(tmp_path)
    text = "import os\n\nVALUE = 1\n"
    uri = client.open(tmp_path / "my module.py", text)
    assert "%20" in uri
    diagnostics = client.diagnostics_for(uri)
    assert [d["code"] for d in diagnostics] == ["F401"]
    actions = client.call("textDocument/codeAction", {
        "textDocument": {"uri": uri}, "range": diagnostics[0]["range"],
        "context": {"diagnostics": diagnostics}})
    [fix] = [a for a in actions if "F401" in a["title"]]
    resolved = client.call("codeAction/resolve", fix)  # the rule fix: no model needed
    [change] = resolved["edit"]["documentChanges"]
    assert change["textDocument"] == {"uri": uri, "version": 1}
    assert change["edits"][0]["newText"] == "" and change["edits"][0]["range"]["start"] == {
        "line": 0, "character": 0}
    assert client.shutdown_and_exit() == 0


def test_the_same_document_under_another_spelling_of_its_uri(serve, tmp_path: Path):
    """Clients differ in what they escape: `my module.py` and `my%20module.py` are one file."""
    client = serve()
    client.initialize(tmp_path)
    path = tmp_path / "my module.py"
    raw = "file://" + str(path)  # the space unescaped
    client.open(path, "import os\n", uri=raw)
    assert [d["code"] for d in client.diagnostics_for(raw)] == ["F401"]
    actions = client.call("textDocument/codeAction", {
        "textDocument": {"uri": path.as_uri()}, "range": RANGE,
        "context": {"diagnostics": []}})
    assert any(a["title"].startswith("Hearth:") for a in actions)
    assert client.shutdown_and_exit() == 0


# -- exit while generating (needs the model) ------------------------------------------------
STUB = '''def primes_below(limit):
    """Return every prime number below ``limit``, in increasing order, using a sieve."""
    pass
'''


def start_generating(client, tmp_path: Path):
    """Generate on the stub, returned once the model is working (a progress report)."""
    client.initialize(tmp_path)
    uri = client.open(tmp_path / "primes.py", STUB)
    command = client.request("workspace/executeCommand", {
        "command": "hearth.generate",
        "arguments": [{"uri": uri, "position": {"line": 2, "character": 4}}]})
    client.wait_for(lambda m: m.get("method") == "$/progress"
                    and m["params"]["value"].get("kind") == "report")
    return command


@pytest.mark.model
def test_exit_while_generating_ends_the_process(serve, tmp_path: Path):
    require_default_model()
    client = serve()
    command = start_generating(client, tmp_path)
    client.notify("exit")
    assert client.exit_code() == 1
    assert not [m for m in client.messages if m.get("id") == command and "result" in m]


@pytest.mark.model
def test_shutdown_while_generating_cancels_the_request(serve, tmp_path: Path):
    require_default_model()
    client = serve()
    command = start_generating(client, tmp_path)
    shutdown = client.request("shutdown")
    assert client.error(command)["code"] == -32800  # RequestCancelled
    assert "error" not in client.response(shutdown)
    client.notify("exit")
    assert client.exit_code() == 0


# -- the parts, in process ------------------------------------------------------------------
def read_all(data: bytes, **kwargs: Any) -> list[bytes]:
    reader = MessageReader(io.BytesIO(data), **kwargs)
    bodies = []
    while (body := reader.read()) is not None:
        bodies.append(body)
    return bodies


def test_the_reader_accepts_what_real_clients_send():
    stream = (b"content-length: 2\r\n\r\n{}"
              b"Content-Length: 3\n\n[1]"
              b"CONTENT-LENGTH:1\r\nContent-Type: application/vscode-jsonrpc; charset=utf-8\r\n"
              b"\r\n7\r\n\r\nContent-Length: 1\r\n\r\n8")
    assert read_all(stream) == [b"{}", b"[1]", b"7", b"8"]


def test_the_reader_skips_a_lying_length_and_finds_the_next_message():
    stream = (b"Content-Length: 1000000000000\r\n\r\n{\"id\": 1}"  # body, then at once:
              b"Content-Length: 2\r\n\r\nok"
              b"Content-Length: 99999999999999999999999999\r\n\r\nContent-Length: 1\r\n\r\nA"
              b"Content-Length: 10\r\n\r\n0123456789")
    assert read_all(stream, max_length=1000) == [b"ok", b"A", b"0123456789"]


def test_the_reader_skips_garbage_and_stops_at_the_end():
    stream = (b"X-Long: " + b"a" * 10_000 + b"\r\nhello\r\n" + b"x" * 100_000
              + b"\r\nX-Other: 1\r\n\r\n"
              b"Content-Length: -1\r\n\r\nContent-Length: 2\r\n\r\nhi"
              b"Content-Length: 50\r\n\r\ncut short")
    assert read_all(stream) == [b"hi"]


def test_document_keys_are_one_per_file():
    assert document_key("file:///home/u/my%20module.py") == document_key(
        "file:///home/u/my module.py") == "file:///home/u/my%20module.py"
    assert document_key("file:///C%3A/Work/a.py") == document_key("file:///c:/Work/a.py")
    assert document_key("file://localhost/home/u/a.py") == "file:///home/u/a.py"
    assert document_key("file:///home/u/A.py") != document_key("file:///home/u/a.py")
    assert document_key("untitled:Untitled-1") == "untitled:Untitled-1"


def test_the_stderr_pump_never_blocks_and_counts_what_it_drops():
    read_end, write_end = os.pipe()
    target = os.fdopen(write_end, "w", encoding="utf-8")
    pump = StderrPump(target, capacity_chars=10_000)
    line = "x" * 99 + "\n"
    started = time.monotonic()
    for _ in range(20_000):  # 2 MB into a 64 KB pipe nobody reads
        pump.write(line)
    assert time.monotonic() - started < EXITS_WITHIN_S
    assert pump.dropped > 0
    with os.fdopen(read_end, "rb") as reader:
        os.set_blocking(read_end, False)
        received = b""
        deadline = time.monotonic() + EXITS_WITHIN_S
        while time.monotonic() < deadline:
            pump.write("after\n")
            try:
                received += reader.read() or b""
            except BlockingIOError:
                pass
            if b"dropped" in received and received.endswith(b"after\n"):
                break
            time.sleep(0.01)
    assert b"log message(s) dropped: stderr was not being read" in received


def test_the_parent_watcher_sees_a_process_end():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.5)"])
    ended = threading.Event()
    ParentWatcher(child.pid, ended.set, poll_s=0.05).start()
    assert not ended.wait(0.1)
    child.wait()
    assert ended.wait(EXITS_WITHIN_S)


def test_cancel_all_reaches_the_running_job_and_drops_the_queued_ones():
    queue = InferenceQueue()
    started, seen = threading.Event(), []

    def job(token: CancelToken) -> str:
        started.set()
        while not token.cancelled:  # a decoder checking its token between tokens
            time.sleep(0.01)
        seen.append("cancelled")
        raise Cancelled()

    running = queue.submit(job)
    queued = queue.submit(lambda token: "never run")
    assert started.wait(EXITS_WITHIN_S)
    queue.cancel_all()
    queue.stop()
    assert queue.join(EXITS_WITHIN_S)
    assert seen == ["cancelled"]
    for future in (running, queued):
        with pytest.raises(Cancelled):
            future.result(0)
