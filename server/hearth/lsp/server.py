"""Hearth's language server: the pygls subclass that owns all state, and its construction."""

from __future__ import annotations

import asyncio
import concurrent.futures
import faulthandler
import logging
import os
import socket
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pygls.io_ import StdoutWriter
from pygls.lsp.server import LanguageServer
from pygls.uris import to_fs_path
from pygls.workspace import TextDocument

from hearth import __version__
from hearth.core.cancel import Cancelled, CancelToken
from hearth.core.errors import HearthError, NoAnswer
from hearth.core.guardrails import AuditLog
from hearth.core.inference import InferenceQueue, Priority
from hearth.core.pipeline.types import Action, ActionRequest
from hearth.core.session import Session
from hearth.core.text import split_lines
from hearth.logs import flush_logs, protect_stderr
from hearth.lsp import lifecycle
from hearth.lsp.convert import to_core
from hearth.lsp.early import EarlyStart, InitializeCache
from hearth.lsp.protocol import SYNC_KIND, HearthProtocol
from hearth.lsp.transport import read_stdin
from hearth.lsp.typing_rhythm import TypingRhythm
from hearth.settings import Settings

log = logging.getLogger(__name__)
T = TypeVar("T")

REQUEST_FAILED = -32803  # LSP's RequestFailed
# Larger documents get no analysis or actions: parsing and linting them would stall the editor
# for seconds, and no prompt could hold them anyway.
MAX_DOCUMENT_CHARS = 1_000_000
# Once the process is to end, how long the indexes being saved get to finish before it ends
# regardless: `exit` within a second.
EXIT_GRACE_S = 0.6
# When the process ends whatever any thread is doing: a watchdog outside Python, which no thread
# holding the interpreter's lock (a long regex, an AST of a large file) can hold up. The long
# fuzz run saw the graceful path take 2.5 s on a loaded machine, waiting for that lock; it
# normally ends within 0.8 s.
EXIT_HARD_S = 1.5


def request_failed(message: str, data: Any | None = None) -> JsonRpcException:
    return JsonRpcException(message, code=REQUEST_FAILED, data=data)


def content_modified(message: str) -> JsonRpcException:
    return JsonRpcException(message, code=types.LSPErrorCodes.ContentModified)


class HearthServer(LanguageServer):
    protocol: HearthProtocol

    def __init__(self) -> None:
        super().__init__("hearth", __version__, protocol_cls=HearthProtocol,
                         text_document_sync_kind=SYNC_KIND)
        self.init_options: dict[str, Any] = {}
        self.client_settings: dict[str, Any] | None = None  # workspace/configuration's answer
        self.queue = InferenceQueue()
        self.diagnostic_tasks: dict[str, asyncio.Task] = {}
        self.large_documents_reported: dict[str, bool] = {}
        self.typing = TypingRhythm()  # how long diagnostics wait after an edit, per document
        self.audit = AuditLog()  # one per server: guardrail decisions, hashed, as JSON lines
        # The engine for the workspace; `initialize` replaces it once the root is known.
        self.session = Session(Settings(), None, audit=self.audit)
        # Frees the models left unused for model.unloadAfter seconds (on the inference thread).
        self.unloader = lifecycle.IdleUnloader(self.queue, lambda: self.session)
        self.memory = None  # hearth.lsp.memory.Memory, set when that feature registers
        self.completions = None  # hearth.lsp.completion.Completions, set when it registers
        self.outcomes = None  # hearth.lsp.history.Outcomes, set when that feature registers
        self.after_initialized: list = []  # coroutines run once the settings are known
        self.after_settings_changed: list = []  # coroutines run when the editor changes them
        self.loop: asyncio.AbstractEventLoop | None = None
        self._jobs: dict[Any, CancelToken] = {}
        self._exiting = False
        self._exit_lock = threading.Lock()
        self._shutdown_read = False  # the transport read a `shutdown` request
        # Answers to `initialize`, kept for `hearth serve` to give before it has loaded.
        self.initialize_cache: InitializeCache | None = None

    @property
    def settings(self) -> Settings:
        return self.session.settings

    @property
    def root(self) -> Path | None:
        return self.session.root

    @property
    def actions(self) -> list[Action]:
        return self.session.actions

    # -- the model ---------------------------------------------------------------------------
    async def run_inference(self, job: Callable[[CancelToken], T], cancel: CancelToken,
                            priority: Priority = Priority.INTERACTIVE) -> T:
        """Run ``job`` on the inference thread; an asyncio cancellation reaches its token."""
        try:
            future: Future[T] = self.queue.submit(job, priority=priority, cancel=cancel)
        except RuntimeError:  # the queue is stopped: the process is ending
            raise Cancelled() from None
        try:
            return await asyncio.wrap_future(future)
        except asyncio.CancelledError:
            cancel.cancel()
            raise
        finally:
            self.unloader.used()  # the job may have loaded a model: unload it once idle

    # -- jobs and cancellation ------------------------------------------------------------
    def track_job(self, cancel: CancelToken) -> Any:
        msg_id = self.protocol.msg_id
        if msg_id is not None:
            self._jobs[msg_id] = cancel
        return msg_id

    def untrack_job(self, msg_id: Any) -> None:
        self._jobs.pop(msg_id, None)

    def cancel_job(self, msg_id: Any) -> None:
        token = self._jobs.pop(msg_id, None)
        if token is not None:
            log.info("Cancelling request %s", msg_id)
            token.cancel()

    # -- documents ----------------------------------------------------------------------------
    def document(self, uri: str) -> TextDocument | None:
        """The open document at ``uri`` (any spelling of it), or None."""
        return self.workspace.find_text_document(uri)

    def action_request(self, uri: str, position: types.Position,
                       end: types.Position | None = None, instruction: str | None = None,
                       extra: dict[str, Any] | None = None,
                       ) -> tuple[ActionRequest, int | None]:
        """A core request for the document at ``uri`` as it is now, and its version."""
        document = self.document(uri)
        if document is None:
            raise HearthError(f"{uri} is not open in the editor.", "Open the file first.")
        source = document.source
        if len(source) > MAX_DOCUMENT_CHARS:
            raise HearthError(f"{Path(uri).name} is too large for Hearth "
                              f"({len(source) / 1e6:.1f} M characters; the limit is "
                              f"{MAX_DOCUMENT_CHARS / 1e6:.0f} M).")
        lines = split_lines(source)
        encoding = self.workspace.position_encoding or types.PositionEncodingKind.Utf16
        path = Path(to_fs_path(uri)) if uri.startswith("file:") else None
        request = self.session.request(
            source, to_core(lines, position, encoding), path=path,
            language_id=document.language_id,
            end=to_core(lines, end, encoding) if end is not None else None,
            instruction=instruction, extra=extra)
        return request, document.version

    def document_version(self, uri: str) -> int | None:
        document = self.document(uri)
        return None if document is None else document.version

    def call_soon(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """Run ``function`` on the event loop, from any thread (notifications must be sent
        from the loop)."""
        if self.loop is not None:
            self.loop.call_soon_threadsafe(lambda: function(*args, **kwargs))

    # -- talking to the user ------------------------------------------------------------------
    def show(self, message: str, kind: types.MessageType = types.MessageType.Error) -> None:
        self.window_show_message(types.ShowMessageParams(type=kind, message=message))

    def log_to_client(self, message: str,
                      kind: types.MessageType = types.MessageType.Info) -> None:
        self.window_log_message(types.LogMessageParams(type=kind, message=message))

    def status(self, state: str, message: str = "", **extra: Any) -> None:
        """``hearth/status`` for clients that show it (the VS Code extension's status bar)."""
        self.protocol.notify("hearth/status", {"state": state, "message": message, **extra})

    def client_declares(self, feature: str) -> bool:
        """Whether the client's `experimental.hearth` capabilities say ``feature`` is true."""
        try:
            experimental = self.client_capabilities.experimental
        except (AttributeError, RuntimeError):  # before initialize
            return False
        hearth = experimental.get("hearth") if isinstance(experimental, dict) else None
        return isinstance(hearth, dict) and hearth.get(feature) is True

    def user_error(self, exc: BaseException) -> JsonRpcException:
        """Turn a failure into a response error, and tell the user why."""
        if isinstance(exc, Cancelled):
            return JsonRpcException("Cancelled", code=types.LSPErrorCodes.RequestCancelled)
        data = None
        if isinstance(exc, HearthError):
            message = str(exc)
            entry = exc.history_id if isinstance(exc, NoAnswer) else None
            if entry is not None:
                # The failure is in the history: a bad rating's note says what to do, and it
                # goes with the request when it is asked again (docs/history.md). A client
                # that rates failures (the VS Code extension) shows the message itself, with
                # a way to say it; to any other, the message says how.
                data = {"historyId": entry}
                if not self.client_declares("ratesFailures"):
                    message += (f" It is history entry #{entry}: rate it bad with a note "
                                "saying what the answer should do, then ask again.")
                    self.show(f"Hearth: {message}", types.MessageType.Warning)
            else:
                self.show(f"Hearth: {message}", types.MessageType.Warning)
        else:
            log.exception("Unexpected failure", exc_info=exc)
            message = f"Hearth hit an unexpected error: {exc!r}. See the log for details."
            self.show(message)
        self.status("error", message)
        return request_failed(message, data)

    # -- the life cycle -----------------------------------------------------------------------
    def start_io(self, stdin: BinaryIO | None = None, stdout: BinaryIO | None = None,
                 early: EarlyStart | None = None) -> None:
        """Serve over stdio until `terminate` ends the process.

        Hearth's own reader (`transport.read_stdin`) replaces pygls': it frames as real
        clients do, and it sees `exit` and the end of stdin even while the event loop is busy.
        With ``early``, that reader was started before this server was built (`hearth serve`
        does, to answer ``initialize`` while it loads): the server takes over its messages.
        """
        protect_stderr()
        if early is not None:
            stdin, stdout = early.stdin, early.stdout
            self.initialize_cache = early.cache
        self.protocol.set_writer(StdoutWriter(stdout or sys.stdout.buffer))
        try:
            asyncio.run(self._serve(stdin or sys.stdin.buffer, early))
        except KeyboardInterrupt:
            self.terminate("interrupted")
            threading.Event().wait()  # terminate ends the process

    def start_tcp(self, host: str, port: int) -> None:
        """Serve the first client that connects to ``host:port``, exactly as over stdio (the
        same reader, rules and ending); the process ends with its connection.

        pygls' TCP server has its own reader (exact framing, any length allocated, invalid
        params unanswered), and it keeps serving a second client the state of the first.
        """
        protect_stderr()
        try:
            listener = socket.create_server((host, port))
        except OSError as exc:
            raise HearthError(f"Cannot listen on {host}:{port}: {exc.strerror or exc}.",
                              "Choose another port, or use stdio.") from None
        with listener:
            log.info("Listening on %s:%d for one client", host, port)
            connection, address = listener.accept()
        log.info("Client connected from %s", address)
        self.start_io(connection.makefile("rb"), connection.makefile("wb"))

    async def _serve(self, stdin: BinaryIO, early: EarlyStart | None = None) -> None:
        loop = self.loop = asyncio.get_running_loop()

        def deliver(message: Any, release: Callable[[], None], answered: Any) -> None:
            def handle() -> None:
                try:
                    self.protocol.receive(message, answered=answered)
                except Exception:  # noqa: BLE001 - one bad message must not end the server
                    log.exception("Failed to handle a message")
                finally:
                    release()
            loop.call_soon_threadsafe(handle)

        events = {"on_exit": lambda: self.terminate("exit"), "on_shutdown": self._note_shutdown,
                  "on_end": lambda: self.terminate("the client closed stdin")}
        if early is None:
            read_stdin(stdin, deliver, **events)
        else:
            early.attach(deliver, **events)
        await asyncio.Event().wait()  # the process ends in terminate, from whichever thread

    def _note_shutdown(self) -> None:
        self._shutdown_read = True

    def watch_parent(self, pid: Any) -> None:
        lifecycle.watch(pid, lambda: self.terminate(f"the editor's process {pid} ended"))

    def stop_work(self) -> list[concurrent.futures.Future]:
        """Cancel every job, running or queued, and the indexer; the futures of the indexes
        being saved. No idle model is unloaded from now on."""
        self.unloader.close()
        self.queue.cancel_all()
        return self.memory.close() if self.memory is not None else []

    def terminate(self, reason: str) -> None:
        """End the process within a second, whatever is running; callable from any thread.

        Nothing is written to the client from now on. The model and the indexer are cancelled,
        the indexes being saved get `EXIT_GRACE_S` (on a thread of their own), and the process
        then ends without the interpreter's clean-up, which would wait for threads stuck in C
        code (the model, a read of stdin); with nothing being saved, it ends at once. The exit
        code is the specification's: 0 after `shutdown`, 1 without; and 1 from the watchdog if
        the process is still there after `EXIT_HARD_S`.
        """
        with self._exit_lock:
            if self._exiting:
                return
            self._exiting = True
        devnull = open(os.devnull, "w")  # noqa: SIM115 - kept open until the process ends
        faulthandler.dump_traceback_later(EXIT_HARD_S, exit=True, file=devnull)
        self.protocol.closed = True
        code = 0 if (self._shutdown_read or self.protocol.shutdown_received) else 1
        log.info("Exiting (%s) with code %d", reason, code)
        saving = self.stop_work()
        if all(future.done() for future in saving):
            # Nothing to wait for: end here, on the thread that holds the interpreter's lock
            # now. A thread of its own would first have to get that lock, which another thread
            # in long C code (a regex, an AST) can keep for seconds on a loaded machine; the
            # watchdog then ended the process with code 1 after `shutdown` (the long fuzz run
            # with 12 servers on 2 cores, seed 1, sequence 1384).
            flush_logs(0.05)
            os._exit(code)
        threading.Thread(target=self._finish, args=(code, saving), name="hearth-exit",
                         daemon=True).start()

    def _finish(self, code: int, saving: list[concurrent.futures.Future]) -> None:
        deadline = time.monotonic() + EXIT_GRACE_S
        try:
            self.queue.stop()  # cancelled; os._exit ends it wherever it is
            _, unsaved = concurrent.futures.wait(
                saving, timeout=max(0.0, deadline - time.monotonic()))
            log.info("At exit: the inference thread %s; %d index(es) not saved",
                     "had stopped" if self.queue.join(0) else "was still running",
                     len(unsaved))
            flush_logs(0.2)
        finally:
            os._exit(code)


def serialize_ast_parse() -> None:
    """Let one thread at a time turn source into an AST. CPython 3.11 keeps the AST
    constructor's recursion depth in per-interpreter state, so two threads building ASTs at
    once (the server parses in its analysis, inference and event-loop threads; flake8 and
    pyflakes call ``ast.parse`` too) can make one of them fail with "SystemError: AST
    constructor recursion depth mismatch" (python/cpython#106905; found by the long fuzz run).
    Parsing takes milliseconds, so the lock costs nothing that matters."""
    import ast

    if getattr(ast.parse, "hearth_serialized", False):
        return
    parse, lock = ast.parse, threading.RLock()

    def serialized(*args: Any, **kwargs: Any) -> Any:
        with lock:
            return parse(*args, **kwargs)

    serialized.hearth_serialized = True  # type: ignore[attr-defined]
    ast.parse = serialized  # type: ignore[assignment]


def create_server() -> HearthServer:
    from hearth.lsp import actions, completion, config, documents, history, memory

    serialize_ast_parse()
    server = HearthServer()
    config.register(server)
    documents.register(server)
    memory.register(server)
    actions.register(server)
    history.register(server)
    completion.register(server)
    lifecycle.register(server)
    return server
