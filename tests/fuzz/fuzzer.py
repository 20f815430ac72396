"""The LSP fuzzer: seeded sequences of valid and invalid messages against a real `hearth serve`
process over stdio, and what each sequence did wrong (docs/fuzzing.md).

One sequence is one server process: a start (requests before ``initialize``, a variation of
``initialize``), random steps (documents opened, changed, closed and reopened; code actions,
their resolution and commands racing those edits; cancels; configuration changes; wrong types
in params; unknown methods; broken framing and JSON), and an ending (``shutdown`` and
``exit``, ``exit`` alone, or stdin closed, sometimes while work is running). The same seed
gives the same messages; what the server answers, and when, is its own.
"""

from __future__ import annotations

import copy
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
ANSWER_BOUND_S = 30.0  # a request unanswered this long after the last message: a hang
EXIT_BOUND_S = 2.0  # the process still running this long after exit or stdin's end: a hang
DIAGNOSTICS_WAIT_S = 3.0  # the first lint of a process loads flake8's plugins
TRACEBACK = re.compile(r"Traceback \(most recent call last\):\n((?:[ \t].*\n)+)(\S.*)")
ACTIONS = ("generate", "fix", "explain", "generateTests")


def server_command() -> list[str]:
    python = ROOT / ".venv" / "bin" / "python"
    return [str(python if python.exists() else sys.executable), "-m", "hearth", "serve"]


# -- what a sequence found -------------------------------------------------------------------
@dataclass
class Outcome:
    seed: int
    sequence: int
    messages: int = 0
    requests: int = 0
    crashed: str | None = None  # why: the process ended before the fuzzer ended it
    hung: str | None = None
    unanswered: list[Any] = field(default_factory=list)  # request ids with no answer
    stale_edits: list[str] = field(default_factory=list)
    first_traceback: str | None = None
    edits: int = 0  # edits returned for a document the fuzzer knew the text of: judged
    tracebacks: list[str] = field(default_factory=list)  # Hearth's, by their last line
    exit_code: int | None = None
    steps: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not (self.crashed or self.hung or self.unanswered or self.stale_edits
                    or self.tracebacks)


@dataclass
class Document:
    """The fuzzer's view of one document: what it last sent, and every state in send order."""

    uri: str
    text: str = ""
    version: int = 0
    open: bool = False
    history: list[tuple[int, bool, str]] = field(default_factory=list)  # (sent at, open, text)

    def record(self, index: int) -> None:
        self.history.append((index, self.open, self.text))

    def state_at(self, index: int) -> tuple[bool, str] | None:
        """Whether it was open, and its text, once every message up to ``index`` was read."""
        state = None
        for sent, is_open, text in self.history:
            if sent > index:
                break
            state = (is_open, text)
        return state

    def states_between(self, first: int, last: int) -> list[tuple[bool, str] | None]:
        """Every state it had while the server read from message ``first`` to ``last``."""
        return [self.state_at(first)] + [(is_open, text) for sent, is_open, text in self.history
                                         if first < sent <= last]


@dataclass
class Pending:
    sent_at: int
    method: str
    # (uri, version, text) an edit may be for; text None: any text at that version
    edit_for: tuple[str, int, str | None] | None = None


# -- the client --------------------------------------------------------------------------------
class Client:
    """Raw bytes to the server's stdin; the server's messages read on a thread."""

    def __init__(self, process: subprocess.Popen, outcome: Outcome,
                 documents: dict[str, Document], on_request: Callable[[dict], Any]) -> None:
        self.process = process
        self.outcome = outcome
        self.documents = documents
        self.on_request = on_request
        self.sent = 0  # messages (and byte blobs) written, in order
        self.pending: dict[Any, Pending] = {}
        self.answered: dict[Any, dict] = {}
        self.processed_up_to = -1  # every message sent up to here has provably been read
        self.ended = threading.Event()
        self.changed = threading.Condition()
        self.stdin_open = True
        self.next_id = 0
        self.lock = threading.Lock()  # sending, from the fuzzer and the reader thread
        self.diagnostics: dict[str, list[dict]] = {}  # the last published, by URI
        self.judge_edits = True  # False once the fuzzer no longer knows the server's texts
        threading.Thread(target=self._read, daemon=True).start()

    # receiving
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
                    name, _, value = line.decode("ascii", "replace").partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value)
                if length is None:
                    self.outcome.crashed = "the server wrote a message without Content-Length"
                    return
                self._received(json.loads(stream.read(length)))
        except (OSError, ValueError) as exc:
            self.outcome.crashed = f"the server's output could not be read: {exc!r}"
        finally:
            self.ended.set()
            with self.changed:
                self.changed.notify_all()

    def _received(self, message: dict) -> None:
        if "method" in message:
            if message["method"] == "textDocument/publishDiagnostics":
                params = message.get("params") or {}
                with self.changed:
                    self.diagnostics[params.get("uri")] = params.get("diagnostics") or []
                    self.changed.notify_all()
            if "id" in message:
                self.send({"jsonrpc": "2.0", "id": message["id"],
                           "result": self.on_request(message)})
            return
        msg_id = message.get("id")
        with self.changed:
            pending = self.pending.pop(msg_id, None)
            if pending is not None:
                self.answered[msg_id] = message
                # The server reads in order: all sent before this request has been read.
                self.processed_up_to = max(self.processed_up_to, pending.sent_at)
                if pending.edit_for is not None:
                    edit = ((message.get("result") or {}).get("edit")
                            if isinstance(message.get("result"), dict) else None)
                    if edit:
                        check_edit(self, edit, pending.edit_for, f"request {msg_id}")
            self.changed.notify_all()

    # sending
    def write(self, data: bytes, step: str | None = None) -> int:
        with self.lock:
            if not self.stdin_open:
                return self.sent
            index = self.sent
            self.sent += 1
            self.outcome.messages += 1
            try:
                self.process.stdin.write(data)
                self.process.stdin.flush()
            except (BrokenPipeError, ValueError, OSError):
                self.stdin_open = False
            return index

    def send(self, message: Any, header: bytes = b"Content-Length", eol: bytes = b"\r\n") -> int:
        body = json.dumps(message).encode("utf-8", "surrogatepass")
        return self.write(header + b": %d" % len(body) + eol + eol + body)

    def request(self, method: str, params: Any = None, edit_for: Any = None,
                msg_id: Any = None, **framing: bytes) -> Any:
        if msg_id is None:
            self.next_id += 1
            msg_id = self.next_id if self.next_id % 3 else f"s{self.next_id}"
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": msg_id, "method": method}
        if params is not None:
            message["params"] = params
        with self.changed:
            # Registered before sending: the answer may come before `send` returns.
            self.pending[msg_id] = Pending(self.sent, method, edit_for)
            self.outcome.requests += 1
        index = self.send(message, **framing)
        with self.changed:
            if msg_id in self.pending:
                self.pending[msg_id].sent_at = index
        return msg_id

    def notify(self, method: str, params: Any = None) -> int:
        message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            message["params"] = params
        return self.send(message)

    def wait(self, msg_id: Any, timeout: float) -> dict | None:
        deadline = time.monotonic() + timeout
        with self.changed:
            while msg_id not in self.answered:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self.ended.is_set():
                    return None
                self.changed.wait(remaining)
            return self.answered[msg_id]

    def wait_diagnostics(self, uri: str, timeout: float) -> list[dict]:
        deadline = time.monotonic() + timeout
        with self.changed:
            while uri not in self.diagnostics and not self.ended.is_set():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self.changed.wait(remaining)
            return self.diagnostics.get(uri) or []

    def wait_all(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        with self.changed:
            while self.pending and not self.ended.is_set():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return
                self.changed.wait(remaining)

    def close_stdin(self) -> None:
        with self.lock:
            self.stdin_open = False
            try:
                self.process.stdin.close()
            except OSError:
                pass


def check_edit(client: Client, edit: dict, edit_for: tuple[str, int, str | None],
               where: str, read_up_to: int = -1) -> None:
    """An edit is stale when the server had read a change to its document (closed, or other
    text) before it sent the edit: it was computed for text the document no longer holds.
    ``read_up_to``: a message the server has provably read besides those answered.

    What the server had read when it wrote the edit is known only within bounds: at least
    every message up to the last one answered, at most every message sent so far. The edit is
    stale only if the document held other text (or was closed) at every point between: a
    document changed and then given its old text back at the same version (closed and
    reopened, or a full-text change) holds what the edit was computed for again. Judged at
    the lower bound alone, that read as stale (seed 1, sequences 4653 and 5026, every time)."""
    from hearth.lsp.workspace import document_key

    if not client.judge_edits:
        return
    uri, version, text = edit_for
    targets: list[tuple[str, Any]] = []
    for change in edit.get("documentChanges") or []:
        document = change.get("textDocument") if isinstance(change, dict) else None
        if isinstance(document, dict):
            targets.append((document.get("uri"), document.get("version")))
    targets += [(changed_uri, None) for changed_uri in (edit.get("changes") or {})]
    for target_uri, target_version in targets:
        if not isinstance(target_uri, str) or document_key(target_uri) != document_key(uri):
            continue  # another file (Generate tests' test file)
        client.outcome.edits += 1
        if target_version is not None and target_version != version:
            client.outcome.stale_edits.append(
                f"{where}: an edit for version {target_version} of a request made at {version}")
            continue
        document = client.documents.get(document_key(uri))
        read = max(client.processed_up_to, read_up_to)
        states = document.states_between(read, client.sent - 1) if document else [None]
        if not any(state is not None and state[0] and (text is None or state[1] == text)
                   for state in states):
            state = states[0]
            client.outcome.stale_edits.append(
                f"{where}: an edit for {uri} after the server read that it "
                f"{'closed' if state is None or not state[0] else 'changed'}")


# -- what the fuzzer sends ----------------------------------------------------------------------
SOURCES = (
    "import os\nimport sys\n\n\ndef main():\n    unused = 1\n    return sys.argv\n",
    'def add(a, b):\n    """Add two numbers.\n\n    >>> add(1, 2)\n    3\n    """\n    pass\n',
    "# TODO: return the square of x\ndef square(x):\n    ...\n",
    "import subprocess\n\n\ndef run(cmd):\n    return subprocess.call(cmd, shell=True)\n",
    "def f(:\n    return\n",
    "",
    "x = 1",
    "class A:\n    def m(self):\n        raise NotImplementedError\n",
)
ODD = ("\u2028", "\u2029", "\x0c", "\x85", "\r", "\r\n", "\ud800", "\udfff", "\U0001F600",
       "\u00e9", "\u4e2d", "\x00", "\t", "\ufeff", "\x1b", "\u0301")


def random_text(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.04:
        return "x = 1\n" * rng.choice((40_000, 200_000))  # 240 KB, or over Hearth's limit
    # Half the time the file with unused names, which Fix answers by rule: edits to race.
    text = SOURCES[0] if rng.random() < 0.5 else rng.choice(SOURCES)
    if roll < 0.5:  # in a string and a comment, where the code stays valid and fixable
        odd = "".join(rng.choice(ODD) for _ in range(rng.randint(1, 4)))
        odd = odd.replace("\r", "").replace("\n", "").replace("\x00", "")
        text = f'NOTE = "{odd}"  # {odd}\n' + text + "print(NOTE)\n"
    elif roll < 0.7:  # anywhere
        pieces = list(text)
        for _ in range(rng.randint(1, 6)):
            pieces.insert(rng.randint(0, len(pieces)), rng.choice(ODD))
        text = "".join(pieces)
    if rng.random() < 0.2:
        text = text.replace("\n", rng.choice(("\r\n", "\r", "\u2028", "\x0c\n")))
    return text


def random_position(rng: random.Random, text: str = "") -> dict[str, Any]:
    if rng.random() < 0.85:
        lines = max(1, text.count("\n") + 1)
        return {"line": rng.randrange(lines + 1), "character": rng.randrange(12)}
    return {"line": rng.choice((-1, 2**31, 10**12, 1.5, "0", None, True)),
            "character": rng.choice((0, -5, 2**40, "x", None, [1]))}


WRONG = (None, True, -1, 0, 2**63, 1.5, "", "x" * 300, [], [1, "a"], {}, {"a": {"b": None}},
         "\ud800")


def mutate(rng: random.Random, value: Any) -> Any:
    """``value`` with one part replaced by a value of a wrong type (or removed)."""
    value = copy.deepcopy(value)
    if not isinstance(value, (dict, list)) or not value or rng.random() < 0.15:
        return rng.choice(WRONG)
    key = rng.choice(list(value) if isinstance(value, dict) else range(len(value)))
    if isinstance(value, dict) and rng.random() < 0.25:
        del value[key]
    else:
        value[key] = mutate(rng, value[key])
    return value


def settings(rng: random.Random, model_url: str) -> dict[str, Any]:
    options: dict[str, Any] = {
        "index": {"enabled": False},
        "model": {"backend": "openai"},
        "openai": {"baseUrl": model_url if rng.random() < 0.8 else "http://127.0.0.1:9/v1",
                   "retries": 0, "timeoutS": 5},
        "generation": {"samples": rng.choice((1, 1, 2))},
        "diagnostics": {"debounceMs": rng.choice((0, 10, 300))},
    }
    return safe(mutate(rng, options), model_url) if rng.random() < 0.3 else options


def safe(options: Any, model_url: str) -> Any:
    """``options`` that never load the in-process model nor index (the fuzzer is about the
    protocol, and an empty settings object means the defaults: llama-cpp)."""
    if isinstance(options, dict):
        options["model"] = {"backend": "openai"}
        options["index"] = {"enabled": False}
        if not isinstance(options.get("openai"), dict):
            options["openai"] = {}
        options["openai"].update(baseUrl=model_url, retries=0)
    return options


def capabilities(rng: random.Random) -> dict[str, Any]:
    caps: dict[str, Any] = {}
    if rng.random() < 0.7:
        caps["textDocument"] = {"codeAction": {
            "resolveSupport": {"properties": ["edit"]} if rng.random() < 0.6 else None,
            "codeActionLiteralSupport": {"codeActionKind": {"valueSet": ["quickfix"]}}}}
        if rng.random() < 0.5:
            caps["textDocument"]["inlineCompletion"] = {}
    if rng.random() < 0.7:
        caps["workspace"] = {"configuration": rng.random() < 0.5,
                             "workspaceEdit": {"documentChanges": rng.random() < 0.6,
                                               "resourceOperations": ["create"]},
                             "applyEdit": True}
    if rng.random() < 0.5:
        caps["window"] = {"workDoneProgress": rng.random() < 0.5}
    if rng.random() < 0.5:
        caps["general"] = {"positionEncodings": rng.sample(["utf-8", "utf-16", "utf-32",
                                                            "latin-1"], rng.randint(1, 3))}
    return caps if rng.random() < 0.9 else mutate(rng, caps)


# -- one sequence --------------------------------------------------------------------------------
class Sequence:
    def __init__(self, seed: int, index: int, model_url: str, workdir: Path,
                 answer_bound_s: float = ANSWER_BOUND_S, exit_bound_s: float = EXIT_BOUND_S,
                 command: list[str] | None = None) -> None:
        self.rng = random.Random(f"{seed}:{index}")
        self.outcome = Outcome(seed, index)
        self.model_url = model_url
        self.workdir = workdir
        self.answer_bound_s = answer_bound_s
        self.exit_bound_s = exit_bound_s
        self.command = command or server_command()
        self.documents: dict[str, Document] = {}
        self.shutdown_sent = False
        self.config_answer: Any = None
        # Whether the server's workspace is the sequence's folder, whose [tool.hearth] keeps the
        # model out when the client's own settings are not an object (they are then ignored).
        self.rooted = False

    def step(self, name: str) -> None:
        self.outcome.steps.append(name)

    # server requests
    def answer_server(self, message: dict) -> Any:
        method = message.get("method")
        if method == "workspace/configuration":
            items = (message.get("params") or {}).get("items") or []
            return [self.config_answer for _ in items]
        if method == "workspace/applyEdit":
            edit = (message.get("params") or {}).get("edit") or {}
            # Which command the edit answers is known only when one is running.
            running = [p for p in list(self.client.pending.values())
                       if p.edit_for is not None and p.method == "workspace/executeCommand"]
            if len(running) == 1:
                # The server runs that command: it has read every message up to it.
                check_edit(self.client, edit, running[0].edit_for, "workspace/applyEdit",
                           read_up_to=running[0].sent_at)
            return {"applied": self.rng.random() < 0.8}
        return None

    def run(self) -> Outcome:
        root = self.workdir / f"ws{self.outcome.sequence}"
        root.mkdir(parents=True, exist_ok=True)
        (root / "app.py").write_text(SOURCES[0], encoding="utf-8")
        (root / "pyproject.toml").write_text(
            '[tool.hearth.model]\nbackend = "openai"\n[tool.hearth.index]\nenabled = false\n'
            f'[tool.hearth.openai]\nbaseUrl = "{self.model_url}"\nretries = 0\n',
            encoding="utf-8")
        stderr_path = self.workdir / f"stderr{self.outcome.sequence}.txt"
        env = {**os.environ, "HEARTH_LOG_DIR": str(self.workdir / "logs"),
               "HEARTH_CACHE_DIR": str(self.workdir / "cache"),
               "HEARTH_DATA_DIR": str(self.workdir / "data"),  # the history: not the user's
               "PYTHONPATH": str(ROOT / "server")}
        with stderr_path.open("wb") as stderr:
            process = subprocess.Popen(self.command, stdin=subprocess.PIPE,
                                       stdout=subprocess.PIPE, stderr=stderr, env=env,
                                       cwd=self.workdir)
        self.client = Client(process, self.outcome, self.documents, self.answer_server)
        try:
            self.start(root)
            for _ in range(self.rng.randint(3, 25)):
                if self.client.ended.is_set() or not self.client.stdin_open:
                    break
                self.random_step(root)
            self.end()
        finally:
            if process.poll() is None:
                process.kill()
            process.wait()
            self.outcome.exit_code = process.returncode
        stderr_text = stderr_path.read_text(encoding="utf-8", errors="replace")
        self.outcome.tracebacks = hearth_tracebacks(stderr_text)
        self.outcome.first_traceback = next(iter(hearth_tracebacks(stderr_text, True)), None)
        stderr_path.unlink()
        return self.outcome

    def start(self, root: Path) -> None:
        client, rng = self.client, self.rng
        if rng.random() < 0.2:
            self.step("before-initialize")
            for _ in range(rng.randint(1, 3)):
                client.request(rng.choice(("textDocument/codeAction", "shutdown", "x/unknown",
                                           "workspace/executeCommand")), {})
            client.notify("textDocument/didOpen", {"textDocument": {
                "uri": "file:///early.py", "languageId": "python", "version": 1, "text": ""}})
        params: dict[str, Any] = {
            "processId": rng.choice((None, None, os.getpid(), "abc", -5, 0)),
            "rootUri": rng.choice((root.as_uri(), root.as_uri(), None, "not a uri",
                                   "file:///does/not/exist")),
            "capabilities": capabilities(rng),
            "initializationOptions": settings(rng, self.model_url),
        }
        if not isinstance(params["initializationOptions"], dict):
            params["rootUri"] = root.as_uri()  # ignored options: [tool.hearth] applies
        self.rooted = params["rootUri"] == root.as_uri()
        if rng.random() < 0.5:
            params["workspaceFolders"] = [{"uri": root.as_uri(), "name": root.name}]
        if rng.random() < 0.15:
            self.step("bad-initialize")
            bad = mutate(rng, params)
            if isinstance(bad, dict):  # keep the model out of it whatever else breaks
                bad["initializationOptions"] = self.kept_out(settings(rng, self.model_url),
                                                             rooted=False)
            client.wait(client.request("initialize", bad), self.answer_bound_s)
        if isinstance(params["processId"], int) and params["processId"] <= 0:
            params["processId"] = None  # pid 0 and below: not watched; keep the run going
        self.step("initialize")
        answer = client.wait(client.request("initialize", params), self.answer_bound_s)
        if answer is not None and "result" in answer:
            client.notify("initialized", {})
            if rng.random() < 0.2:
                client.request("initialize", params)  # a second one: refused

    def kept_out(self, options: Any, rooted: bool | None = None) -> Any:
        """``options``, unless they are not an object and no [tool.hearth] would apply in their
        place (the defaults load the real model and index): then the stub's settings."""
        rooted = self.rooted if rooted is None else rooted
        return options if isinstance(options, dict) or rooted else safe({}, self.model_url)

    # the steps
    def uri(self, root: Path) -> str:
        name = self.rng.choice(("app.py", "my module.py", "b.py", "notes.txt", "x.py"))
        uri = (root / name).as_uri()
        if self.rng.random() < 0.2:
            uri = uri.replace("%20", " ") if "%20" in uri else uri.replace("/app", "/%61pp")
        if self.rng.random() < 0.05:
            uri = self.rng.choice(("untitled:Untitled-1", "file://", "", "::"))
        return uri

    def document(self, uri: str) -> Document:
        # The client's own identity for a document: every spelling of a URI is one file.
        from hearth.lsp.workspace import document_key
        key = document_key(uri)
        if key not in self.documents:
            self.documents[key] = Document(uri)
        return self.documents[key]

    def open(self, uri: str, text: str, version: int | None = None,
             language: str | None = None) -> None:
        document = self.document(uri)
        document.text, document.open = text, True
        document.version = version if version is not None else self.rng.randint(0, 5)
        index = self.client.notify("textDocument/didOpen", {"textDocument": {
            "uri": uri,
            "languageId": language or self.rng.choice(("python", "python", "plaintext")),
            "version": document.version, "text": text}})
        document.record(index)

    def change(self, uri: str) -> None:
        document = self.document(uri)
        if not document.open:
            return
        document.text = random_text(self.rng)
        document.version += self.rng.choice((1, 1, 1, 0, -1))
        index = self.client.notify("textDocument/didChange", {
            "textDocument": {"uri": uri, "version": document.version},
            "contentChanges": [{"text": document.text}]})
        document.record(index)

    def close(self, uri: str) -> None:
        document = self.document(uri)
        document.open = False
        document.record(self.client.notify("textDocument/didClose",
                                           {"textDocument": {"uri": uri}}))

    def open_document(self) -> tuple[str, Document] | None:
        documents = [d for d in self.documents.values() if d.open]
        if not documents:
            return None
        document = self.rng.choice(documents)
        return document.uri, document

    def random_step(self, root: Path) -> None:
        rng, client = self.rng, self.client
        kinds = ["open", "open", "change", "close", "reopen", "actions", "actions", "command",
                 "bad-command", "bad-resolve", "cancel", "configuration", "wrong-types",
                 "unknown", "framing", "json", "shutdown", "race", "complete", "fix-race",
                 "fix-race"]
        kind = rng.choice(kinds)
        self.step(kind)
        target = self.open_document()
        needs_document = ("change", "close", "reopen", "actions", "race", "command",
                          "complete")
        if kind == "open" or target is None and kind in needs_document:
            self.open(self.uri(root), random_text(rng))
        elif kind == "change":
            self.change(target[0])
        elif kind == "close":
            self.close(target[0])
        elif kind == "reopen":  # closed and opened again at the same version, other text
            uri, document = target
            version = document.version
            self.close(uri)
            self.open(uri, random_text(rng), version)
        elif kind in ("actions", "race"):
            self.actions(target, race=kind == "race")
        elif kind == "fix-race":
            # The race most likely to return an edit: Fix by rule (answered in milliseconds)
            # on a fresh file with an unused import and name, the edit 0-20 ms after the ask.
            uri = (root / f"race{len(self.outcome.steps)}.py").as_uri()
            self.open(uri, SOURCES[0], language="python")
            self.actions((uri, self.document(uri)), race=True, delay=rng.uniform(0, 0.02))
        elif kind == "command":
            uri, document = target
            action = rng.choice(ACTIONS)
            arguments = [{"uri": uri, "position": random_position(rng, document.text),
                          "version": document.version}]
            # With the text's hash (as a code action's arguments carry it) the edit must be
            # for that text; without it only the version names the document, and a document
            # reopened at the same version with other text is, to the server, the same one.
            hashed = rng.random() < 0.5
            if hashed:
                from hearth.core.history.history import digest
                from hearth.lsp.workspace import valid_text
                arguments[0]["textHash"] = digest(valid_text(document.text))
            sent = client.request("workspace/executeCommand",
                                  {"command": f"hearth.{action}", "arguments": arguments},
                                  edit_for=(document.uri, document.version,
                                            document.text if hashed else None))
            if rng.random() < 0.5:
                client.wait(sent, self.answer_bound_s)
        elif kind == "bad-command":
            command = rng.choice([f"hearth.{a}" for a in ACTIONS]
                                 + ["hearth.indexWorkspace", "hearth.listActions", "nope",
                                    "hearth.feedback", "hearth.history", "hearth.stats"])
            client.request("workspace/executeCommand", {
                "command": command, "arguments": rng.choice(
                    ([], [None], [1, 2], ["x"], [{"uri": 5}], [{"uri": "file:///a.py"}],
                     [{"id": rng.randint(-2, 5), "rating": rng.choice(["good", "bad", 1])}],
                     [{"id": True, "rating": "good"}], [{"limit": rng.choice([0, 5, "x"])}],
                     [{"uri": "file:///a.py", "position": random_position(rng)}],
                     [{"uri": "file:///a.py", "range": {"start": "x"}}]))})
        elif kind == "bad-resolve":
            client.request("codeAction/resolve", rng.choice((
                {"title": "x"}, {"title": "x", "data": None}, {"title": "x", "data": [1]},
                {"title": "x", "data": {"action": 5}},
                {"title": "x", "data": {"action": "fix", "uri": "file:///nowhere.py",
                                        "position": random_position(rng)}},
                {"title": "x", "data": {"action": "nope", "uri": "file:///a.py"}},
                {"title": 5}, None, [])))
        elif kind == "cancel":
            ids = list(client.pending) or [1]
            client.notify("$/cancelRequest", {"id": rng.choice(
                (rng.choice(ids), rng.choice(ids), {"id": 1}, [1], None, "s3", 10**20))})
        elif kind == "configuration":
            url = self.model_url
            self.config_answer = self.kept_out(
                rng.choice((None, safe({}, url), "x", [1], settings(rng, url))))
            change = rng.choice((None, 5, "x", {"hearth": settings(rng, url)},
                                 {"hearth": safe(mutate(rng, settings(rng, url)), url)},
                                 {"hearth": [1]}))
            if not isinstance(change, dict) or not isinstance(change.get("hearth"), dict):
                change = change if self.rooted else {"hearth": safe({}, url)}
            client.notify("workspace/didChangeConfiguration", {"settings": change})
        elif kind == "wrong-types":
            self.wrong_types(target)
        elif kind == "complete" and target is not None:
            self.complete(target)
        elif kind == "unknown":
            if rng.random() < 0.5:
                client.request(rng.choice(("x/unknown", "textDocument/hover", "$/foo", "")),
                               mutate(rng, {"a": 1}))
            else:
                client.notify(rng.choice(("x/unknown", "$/foo", "textDocument/didFoo")), [1])
        elif kind == "framing":
            self.framing()
        elif kind == "json":
            client.write(frame(rng.choice((b"{not json", b"[]", b"[{}]", b"5", b'"x"', b"null",
                                           b'{"jsonrpc": "2.0", "id": "junk-1"}', b"\xff\xfe{}",
                                           b'{"jsonrpc": "2.0", "method": "\xff"}',
                                           b'{"jsonrpc": "1.0", "id": "junk-2", "method": "x"}',
                                           b'{"jsonrpc": "2.0", "id": {"a": 1}, "method": "x"}',
                                           b"[" * 100_000))))
        elif kind == "shutdown" and not self.shutdown_sent:
            self.shutdown_sent = True
            client.request("shutdown")
            if rng.random() < 0.5:  # requests after shutdown: InvalidRequest
                client.request("textDocument/codeAction", {})

    def actions(self, target: tuple[str, Document], race: bool,
                delay: float | None = None) -> None:
        rng, client = self.rng, self.client
        uri, document = target
        text = document.text
        start = end = random_position(rng, text)
        published = client.wait_diagnostics(uri, DIAGNOSTICS_WAIT_S)
        context: list[dict] = []
        if published and rng.random() < 0.7:  # as an editor asks: for a diagnostic's range
            # Mostly one that Fix answers by rule, at once: edits to race.
            by_rule = [d for d in published if d.get("code") in ("F401", "F841")]
            context = [rng.choice(by_rule if by_rule and rng.random() < 0.7 else published)]
            start, end = context[0]["range"]["start"], context[0]["range"]["end"]
        msg_id = client.request("textDocument/codeAction", {
            "textDocument": {"uri": uri}, "range": {"start": start, "end": end},
            "context": {"diagnostics": context}})
        answer = client.wait(msg_id, self.answer_bound_s)
        offered = (answer or {}).get("result") or []
        if not isinstance(offered, list) or not offered:
            return
        fixes = [o for o in offered if isinstance(o, dict)
                 and str(o.get("title", "")).startswith("Hearth: Fix")]
        chosen = rng.choice(fixes if fixes and rng.random() < 0.7 else offered)
        edit_for = (document.uri, document.version, document.text)
        if chosen.get("data") is not None:
            sent = client.request("codeAction/resolve", chosen, edit_for=edit_for)
        elif chosen.get("command"):
            sent = client.request("workspace/executeCommand", {
                "command": chosen["command"]["command"],
                "arguments": chosen["command"].get("arguments")}, edit_for=edit_for)
        else:
            return
        if not race:
            if rng.random() < 0.6:  # as a user who waits for the answer: edits to judge
                client.wait(sent, self.answer_bound_s)
            return
        # Edit while the action runs (at once, or a little later, so that the edit lands
        # before, during or after the answer), then a request that proves it was read.
        if delay is None:
            delay = rng.uniform(0, 0.3) if rng.random() < 0.5 else 0.0
        time.sleep(delay)
        if rng.random() < 0.5:
            self.close(uri)
            self.open(uri, random_text(rng), document.version)
        else:
            self.change(uri)
        if rng.random() < 0.3:
            client.notify("$/cancelRequest", {"id": sent})
        client.request("workspace/executeCommand", {"command": "hearth.listActions"})

    def complete(self, target: tuple[str, Document]) -> None:
        """Inline completion as an editor asks for it while the user types: a burst of
        requests, each superseding the last, some cancelled, edits in between."""
        rng, client = self.rng, self.client
        uri, document = target
        for _ in range(rng.randint(1, 4)):
            sent = client.request("textDocument/inlineCompletion", {
                "textDocument": {"uri": uri}, "position": random_position(rng),
                "context": {"triggerKind": rng.choice((1, 2, 2, 3, "x"))}})
            roll = rng.random()
            if roll < 0.3:
                client.notify("$/cancelRequest", {"id": sent})
            elif roll < 0.5:
                self.change(uri)
        if rng.random() < 0.3:
            client.request("hearth/completionStats", rng.choice(({}, None, [1])))

    def wrong_types(self, target: tuple[str, Document] | None) -> None:
        rng, client = self.rng, self.client
        uri = target[0] if target else "file:///a.py"
        valid = rng.choice((
            ("textDocument/codeAction", {"textDocument": {"uri": uri}, "range": {
                "start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 1}},
                "context": {"diagnostics": [{"range": {"start": {"line": 0, "character": 0},
                                                       "end": {"line": 0, "character": 1}},
                                             "message": "m", "code": "F401",
                                             "source": "flake8"}]}}),
            ("workspace/executeCommand", {"command": "hearth.fix", "arguments": [
                {"uri": uri, "position": {"line": 0, "character": 0}}]}),
            ("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "python",
                                                       "version": 1, "text": "x = 1\n"}}),
            ("textDocument/didChange", {"textDocument": {"uri": uri, "version": 2},
                                        "contentChanges": [{"text": "y = 2\n"}]}),
            ("textDocument/didSave", {"textDocument": {"uri": uri}}),
            ("workspace/didChangeWatchedFiles", {"changes": [{"uri": uri, "type": 2}]}),
            ("workspace/didChangeWorkspaceFolders", {"event": {"added": [], "removed": []}}),
            ("window/workDoneProgress/cancel", {"token": "t"}),
            ("textDocument/inlineCompletion", {"textDocument": {"uri": uri},
                                               "position": {"line": 0, "character": 0},
                                               "context": {"triggerKind": 1}}),
            ("codeAction/resolve", {"title": "t", "data": {"action": "fix", "uri": uri,
                                                           "position": {"line": 0,
                                                                        "character": 0}}}),
        ))
        method, params = valid
        params = mutate(rng, params)
        if method.startswith(("textDocument/did", "workspace/did", "window/")):
            client.notify(method, params)  # the fuzzer's view of documents is left alone:
            # a didOpen/didChange that the server accepts would change its text
            if method in ("textDocument/didOpen", "textDocument/didChange"):
                self.forget_texts()
        else:
            client.request(method, params)

    def forget_texts(self) -> None:
        """After a mutated didOpen/didChange the fuzzer no longer knows what the server holds:
        edits are not judged stale from here on."""
        self.client.judge_edits = False

    def framing(self) -> None:
        rng, client = self.rng, self.client
        body = json.dumps({"jsonrpc": "2.0", "method": "x/ping"}).encode()
        kind = rng.choice(("lower", "lf", "missing", "huge", "negative", "nan", "truncated",
                           "garbage", "long-header", "extra-headers"))
        self.outcome.steps[-1] = f"framing:{kind}"
        list_actions = {"command": "hearth.listActions"}
        if kind == "lower":
            client.request("workspace/executeCommand", list_actions, header=b"content-length")
        elif kind == "lf":
            client.request("workspace/executeCommand", list_actions, eol=b"\n")
        elif kind == "missing":
            client.write(b"Content-Type: x\r\n\r\n" + body)
        elif kind == "huge":
            client.write(b"Content-Length: " + rng.choice((b"1000000000000", b"70000000",
                                                          b"9" * 40)) + b"\r\n\r\n" + body)
        elif kind == "negative":
            client.write(b"Content-Length: -5\r\n\r\n" + body)
        elif kind == "nan":
            client.write(b"Content-Length: abc\r\n\r\n" + body)
        elif kind == "truncated":  # the declared rest comes as junk: one Parse error
            extra = rng.randint(1, 40)
            client.write(b"Content-Length: %d\r\n\r\n" % (len(body) + extra) + body[:-3])
            client.write(b"#" * (extra + 3))
        elif kind == "garbage":
            # Ended by a blank line: junk that runs into the next header would take it along.
            client.write(bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 200)))
                         .lower().replace(b"content", b"xxxxxxx") + b"\r\n\r\n")
        elif kind == "long-header":
            client.write(b"X-Long: " + b"a" * 20_000 + b"\r\n\r\n")
        else:
            client.write(b"Content-Type: application/vscode-jsonrpc; charset=utf-8\r\n"
                         b"Content-Length: %d\r\nX-Other: 1\r\n\r\n" % len(body) + body)
        if rng.random() < 0.5:  # a request framed the odd way, which must be answered
            client.request("workspace/executeCommand", {"command": "hearth.listActions"})

    # the ending
    def end(self) -> None:
        rng, client = self.rng, self.client
        how = rng.choice(("shutdown-exit", "shutdown-exit", "exit", "close-stdin",
                          "exit-while-busy", "close-while-busy"))
        self.step(f"end:{how}")
        if not how.endswith("busy"):
            client.wait_all(self.answer_bound_s)
            if client.pending:
                self.outcome.hung = (f"{len(client.pending)} request(s) unanswered after "
                                     f"{self.answer_bound_s:.0f} s")
                self.outcome.unanswered = list(client.pending)
        if client.ended.is_set():
            self.outcome.crashed = self.outcome.crashed or "the server ended before the exit"
            return
        if how == "shutdown-exit" and not self.shutdown_sent:
            answer = client.wait(client.request("shutdown"), self.answer_bound_s)
            if answer is None:
                self.outcome.hung = "no answer to shutdown"
        if how.startswith("close"):
            client.close_stdin()
        else:
            client.notify("exit")
            client.close_stdin()
        try:
            self.client.process.wait(self.exit_bound_s)
        except subprocess.TimeoutExpired:
            self.outcome.hung = (self.outcome.hung or
                                 f"still running {self.exit_bound_s} s after {how}")
        if how == "shutdown-exit" and self.client.process.returncode not in (0, None):
            self.outcome.crashed = (f"exit after shutdown ended with code "
                                    f"{self.client.process.returncode}")


def frame(body: bytes, header: bytes = b"Content-Length", eol: bytes = b"\r\n") -> bytes:
    return header + b": %d" % len(body) + eol + eol + body


def hearth_tracebacks(stderr: str, full: bool = False) -> list[str]:
    """Every traceback that passes through Hearth's code: its last line, or all of it."""
    found = []
    for match in TRACEBACK.finditer(stderr):
        frames, last = match.group(1), match.group(2)
        if "/hearth/" in frames:
            found.append(match.group(0)[-4000:] if full else last.strip()[:300])
    return found


# -- many sequences ------------------------------------------------------------------------------
@dataclass
class Report:
    seed: int
    sequences: int = 0
    messages: int = 0
    requests: int = 0
    crashes: int = 0
    hangs: int = 0
    unanswered: int = 0
    stale_edits: int = 0
    unhandled_exceptions: int = 0
    edits_judged: int = 0
    failures: list[Outcome] = field(default_factory=list)
    elapsed_s: float = 0.0

    def add(self, outcome: Outcome) -> None:
        self.sequences += 1
        self.messages += outcome.messages
        self.requests += outcome.requests
        self.crashes += bool(outcome.crashed)
        self.hangs += bool(outcome.hung)
        self.unanswered += len(outcome.unanswered)
        self.stale_edits += len(outcome.stale_edits)
        self.unhandled_exceptions += len(outcome.tracebacks)
        self.edits_judged += outcome.edits
        if not outcome.clean:
            self.failures.append(outcome)

    def summary(self) -> dict[str, Any]:
        return {"seed": self.seed, "sequences": self.sequences, "messages": self.messages,
                "requests": self.requests, "crashes": self.crashes, "hangs": self.hangs,
                "unanswered_requests": self.unanswered, "stale_edits": self.stale_edits,
                "unhandled_exceptions": self.unhandled_exceptions,
                "edits_judged": self.edits_judged,
                "elapsed_s": round(self.elapsed_s, 1)}


def run(seed: int, sequences: int, *, budget_s: float | None = None, jobs: int = 1,
        answer_bound_s: float = ANSWER_BOUND_S, exit_bound_s: float = EXIT_BOUND_S,
        on_outcome: Callable[[Outcome], None] | None = None) -> Report:
    """Run ``sequences`` sequences (fewer if ``budget_s`` runs out first), ``jobs`` at once."""
    from concurrent.futures import ThreadPoolExecutor

    from tests.fuzz.model_stub import ModelStub

    report = Report(seed)
    start = time.monotonic()
    lock = threading.Lock()
    with tempfile.TemporaryDirectory(prefix="hearth-fuzz-") as folder, \
            ModelStub(seed) as stub:
        workdir = Path(folder)

        def one(index: int) -> None:
            if budget_s is not None and time.monotonic() - start > budget_s:
                return
            outcome = Sequence(seed, index, stub.base_url, workdir,
                               answer_bound_s, exit_bound_s).run()
            with lock:
                report.add(outcome)
                if on_outcome is not None:
                    on_outcome(outcome)

        with ThreadPoolExecutor(max_workers=jobs) as pool:
            list(pool.map(one, range(sequences)))
    report.elapsed_s = time.monotonic() - start
    return report
