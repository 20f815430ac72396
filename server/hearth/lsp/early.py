"""Answering ``initialize`` while the server is still loading (issue 16: the editor waits for
that answer, and Emacs' eglot freezes the editor while it waits).

Importing pygls' protocol types alone takes longer than the 300 ms an editor tool has to
answer ``initialize``, and the engine as long again. Yet the answer depends on nothing but the
code and the client's capabilities. So `hearth serve --stdio` starts reading stdin before it
imports the server, and a first ``initialize`` whose answer is in `InitializeCache` is answered
there and then, from the reader's thread. Every later message waits in `EarlyStart` until the
server attaches, then reaches it in order; the server handles that ``initialize`` as any other,
and its own answer replaces the cached one if the two differ.

The cache holds answers the server itself gave: an entry is written only after a successful
``initialize``, keyed by a hash of the code (Hearth's, pygls' and lsprotocol's files, and the
Python version) and of the request's params. The params that differ between two starts of the
same editor (processId, rootUri, rootPath, workspaceFolders, workDoneToken) enter the key by
their shape only (which keys, which JSON types), so that a request is answered early only if
one of the same shape was accepted before. Nothing but stdlib is imported here.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

from hearth.core.memory.cache import cache_base
from hearth.logs import flush_logs
from hearth.lsp.transport import Deliver, read_stdin

log = logging.getLogger(__name__)

CACHE_FILE = "initialize.json"
CACHE_ENTRIES = 8  # editors and their versions a user starts Hearth from
CACHE_FORMAT = 1
# Params that differ between two starts of the same client: in the key by their shape only.
VOLATILE = ("processId", "rootUri", "rootPath", "workspaceFolders", "workDoneToken")
# The packages whose code decides the answer: Hearth's features, pygls' capability builder
# and lsprotocol's types.
PACKAGES = ("hearth", "pygls", "lsprotocol")


def shape(value: Any) -> Any:
    """``value``'s structure without its values: what decides whether it fits a type."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in sorted(value.items())}
    if isinstance(value, list):
        return sorted({json.dumps(shape(item), sort_keys=True) for item in value})
    return type(value).__name__  # bool before int: type() tells them apart


def code_signature(packages: tuple[str, ...] = PACKAGES) -> str:
    """A hash of the names, sizes and times of the Python files of ``packages``, and of the
    interpreter's version: it changes whenever the code that computes the answer may have."""
    digest = hashlib.sha256(sys.version.encode())
    for name in packages:
        spec = importlib.util.find_spec(name)  # finds, does not import
        for folder in (spec.submodule_search_locations or []) if spec else []:
            for path, dirs, files in os.walk(folder):
                dirs[:] = sorted(d for d in dirs if d != "__pycache__")
                for file in sorted(f for f in files if f.endswith(".py")):
                    stat = os.stat(os.path.join(path, file))
                    relative = os.path.relpath(os.path.join(path, file), folder)
                    digest.update(f"{name}/{relative}:{stat.st_size}:{stat.st_mtime_ns}\n"
                                  .encode("utf-8", "backslashreplace"))
    return digest.hexdigest()


class InitializeCache:
    """The answers to ``initialize`` this code gave before, in one small JSON file in the user
    cache folder ($HEARTH_CACHE_DIR overrides), the newest `CACHE_ENTRIES` kept."""

    def __init__(self, path: Path, signature: str | None = None) -> None:
        self.path = path
        self._signature = signature
        self._lock = threading.Lock()

    @classmethod
    def default(cls) -> InitializeCache:
        return cls(cache_base() / CACHE_FILE)

    @property
    def signature(self) -> str:
        if self._signature is None:
            self._signature = code_signature()
        return self._signature

    def key(self, message: Any) -> str | None:
        """The cache key of an ``initialize`` request, or None if it cannot have one."""
        params = message.get("params") if isinstance(message, dict) else None
        if not isinstance(params, dict):
            return None
        stable = {name: value for name, value in params.items() if name not in VOLATILE}
        shapes = {name: shape(params[name]) for name in VOLATILE if name in params}
        try:
            text = json.dumps([CACHE_FORMAT, self.signature, stable, shapes], sort_keys=True)
        except (TypeError, ValueError, RecursionError):
            return None
        return hashlib.sha256(text.encode("utf-8", "backslashreplace")).hexdigest()

    def lookup(self, message: Any) -> dict | None:
        key = self.key(message)
        if key is None:
            return None
        for entry in self._entries():
            if entry.get("key") == key and isinstance(entry.get("result"), dict):
                return entry["result"]
        return None

    def store(self, key: str, result: dict) -> None:
        """Keep ``result`` as the answer for ``key``; a failure to write is logged, no more."""
        with self._lock:
            entries = [entry for entry in self._entries() if entry.get("key") != key]
            entries.insert(0, {"key": key, "result": result})
            temporary = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                temporary.write_text(json.dumps({"format": CACHE_FORMAT,
                                                 "entries": entries[:CACHE_ENTRIES]}),
                                     encoding="utf-8")
                os.replace(temporary, self.path)
            except OSError as exc:
                log.warning("Cannot keep the answer to initialize in %s: %s", self.path, exc)
                try:
                    temporary.unlink(missing_ok=True)
                except OSError:  # the folder itself is not there to hold it
                    pass

    def _entries(self) -> list[dict]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return []
        except (OSError, ValueError) as exc:  # unreadable or corrupt: rewritten at next store
            log.warning("Ignored the cached answers to initialize in %s: %s", self.path, exc)
            return []
        if not isinstance(data, dict) or data.get("format") != CACHE_FORMAT \
                or not isinstance(data.get("entries"), list):
            return []
        return [entry for entry in data["entries"] if isinstance(entry, dict)]


def frame(message: dict) -> bytes:
    """A message as the protocol writes it (hearth.lsp.protocol: ASCII JSON, both headers)."""
    body = json.dumps(message)
    return (f"Content-Length: {len(body)}\r\n"
            f"Content-Type: application/vscode-jsonrpc; charset=utf-8\r\n\r\n{body}"
            ).encode("utf-8")


class EarlyStart:
    """The stdio reader, started before the server exists (`begin`): it answers a cached
    ``initialize`` at once and holds every message until the server `attach`es. Before that,
    ``exit`` or the end of stdin ends the process as the server would (code 0 after
    ``shutdown``, else 1): there is nothing to save yet."""

    def __init__(self, stdin: BinaryIO, stdout: BinaryIO, cache: InitializeCache) -> None:
        self.stdin = stdin
        self.stdout = stdout
        self.cache = cache
        self.shutdown_read = False
        self._lock = threading.Lock()
        self._held: list[tuple[Any, Callable[[], None], Any]] = []
        self._deliver: Deliver | None = None
        self._on_exit: Callable[[], None] | None = None
        self._on_shutdown: Callable[[], None] | None = None
        self._on_end: Callable[[], None] | None = None
        # Logged when the server attaches: `hearth.entry` starts this before logging is set up.
        self._notes: list[str] = []
        self._started = time.monotonic()

    @classmethod
    def begin(cls, stdin: BinaryIO, stdout: BinaryIO,
              cache: InitializeCache | None = None) -> EarlyStart:
        early = cls(stdin, stdout, cache or InitializeCache.default())
        read_stdin(stdin, early._receive, on_exit=early._exit, on_shutdown=early._shutdown,
                   on_end=early._end, answer_first=early._answer)
        return early

    def attach(self, deliver: Deliver, on_exit: Callable[[], None],
               on_shutdown: Callable[[], None], on_end: Callable[[], None]) -> None:
        """From now on, messages and the life cycle's events go to the server; the ones held
        so far are delivered first, in the order they came."""
        with self._lock:
            for held in self._held:
                deliver(*held)
            self._held.clear()
            self._deliver = deliver
            self._on_exit, self._on_shutdown, self._on_end = on_exit, on_shutdown, on_end
        for note in self._notes:
            log.info("%s", note)
        if self.shutdown_read:  # read before the server was there to note it
            on_shutdown()

    # -- the reader's thread ---------------------------------------------------------------
    def _answer(self, message: dict) -> dict | None:
        """Answer ``message`` (a first ``initialize``) from the cache if the server is not
        there yet to answer it; the answer given, or None. Never raises: the reader's thread
        must go on reading."""
        try:
            with self._lock:
                if self._deliver is not None:
                    return None  # the server is up: it answers
                msg_id = message.get("id")
                if not isinstance(msg_id, (int, str)) or isinstance(msg_id, bool) \
                        or message.get("jsonrpc") != "2.0":
                    return None
                result = self.cache.lookup(message)
                if result is None:
                    self._notes.append("initialize is not in the cache: the server answers it")
                    return None
                self.stdout.write(frame({"jsonrpc": "2.0", "id": msg_id, "result": result}))
                self.stdout.flush()
                self._notes.append(
                    f"Answered initialize from the cache {time.monotonic() - self._started:.3f}"
                    " s after the reader started, before the server had loaded")
            return result
        except Exception as exc:  # noqa: BLE001 - a failure here only means the server answers
            self._notes.append(f"Could not answer initialize early ({exc!r}); the server does")
            return None

    def _receive(self, message: Any, release: Callable[[], None], answered: Any) -> None:
        with self._lock:
            if self._deliver is None:
                self._held.append((message, release, answered))
                return
            deliver = self._deliver
        deliver(message, release, answered)

    def _shutdown(self) -> None:
        self.shutdown_read = True
        with self._lock:
            on_shutdown = self._on_shutdown
        if on_shutdown is not None:
            on_shutdown()

    def _exit(self) -> None:
        self._end_with(lambda: self._on_exit, "exit")

    def _end(self) -> None:
        self._end_with(lambda: self._on_end, "the client closed stdin")

    def _end_with(self, handler: Callable[[], Callable[[], None] | None], reason: str) -> None:
        with self._lock:
            target = handler()
            if target is None:
                code = 0 if self.shutdown_read else 1
                log.info("Exiting (%s) before the server had loaded, with code %d", reason,
                         code)
                flush_logs(0.05)
                os._exit(code)
        target()
