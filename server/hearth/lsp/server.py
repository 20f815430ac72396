"""Hearth's language server: the pygls subclass that owns all state, and its construction."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol
from pygls.uris import to_fs_path

from hearth import __version__
from hearth.core.cancel import Cancelled, CancelToken
from hearth.core.errors import HearthError
from hearth.core.guardrails import AuditLog
from hearth.core.inference import InferenceQueue, Priority
from hearth.core.pipeline.types import Action, ActionRequest
from hearth.core.session import Session
from hearth.core.text import split_lines
from hearth.lsp.convert import to_core
from hearth.settings import Settings

log = logging.getLogger(__name__)
T = TypeVar("T")

REQUEST_FAILED = -32803  # LSP's RequestFailed
# Larger documents get no analysis or actions: parsing and linting them would stall the editor
# for seconds, and no prompt could hold them anyway.
MAX_DOCUMENT_CHARS = 1_000_000


def request_failed(message: str) -> JsonRpcException:
    return JsonRpcException(message, code=REQUEST_FAILED)


def content_modified(message: str) -> JsonRpcException:
    return JsonRpcException(message, code=types.LSPErrorCodes.ContentModified)


class HearthProtocol(LanguageServerProtocol):
    """Passes ``$/cancelRequest`` on to Hearth's own jobs.

    pygls cancels a request's future only if it has not started, and never reaches a command
    coroutine that is already running: Hearth keeps a token per request id and cancels it here.
    """

    def _handle_cancel_notification(self, msg_id):  # noqa: ANN001 - pygls' signature
        self._server.cancel_job(msg_id)
        super()._handle_cancel_notification(msg_id)


class HearthServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__("hearth", __version__, protocol_cls=HearthProtocol,
                         text_document_sync_kind=types.TextDocumentSyncKind.Full)
        self.init_options: dict[str, Any] = {}
        self.client_settings: dict[str, Any] | None = None  # workspace/configuration's answer
        self.queue = InferenceQueue()
        self.diagnostic_tasks: dict[str, asyncio.Task] = {}
        self.large_documents_reported: dict[str, bool] = {}
        self.audit = AuditLog()  # one per server: guardrail decisions, hashed, as JSON lines
        # The engine for the workspace; `initialize` replaces it once the root is known.
        self.session = Session(Settings(), None, audit=self.audit)
        self.memory = None  # hearth.lsp.memory.Memory, set when that feature registers
        self.after_initialized: list = []  # coroutines run once the settings are known
        self.after_settings_changed: list = []  # coroutines run when the editor changes them
        self.loop: asyncio.AbstractEventLoop | None = None
        self._jobs: dict[Any, CancelToken] = {}

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
        future: Future[T] = self.queue.submit(job, priority=priority, cancel=cancel)
        try:
            return await asyncio.wrap_future(future)
        except asyncio.CancelledError:
            cancel.cancel()
            raise

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
    def action_request(self, uri: str, position: types.Position,
                       end: types.Position | None = None, instruction: str | None = None,
                       extra: dict[str, Any] | None = None,
                       ) -> tuple[ActionRequest, int | None]:
        """A core request for the document at ``uri`` as it is now, and its version."""
        document = self.workspace.get_text_document(uri)
        if document.version is None and uri not in self.workspace.text_documents:
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
        document = self.workspace.text_documents.get(uri)
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

    def user_error(self, exc: BaseException) -> JsonRpcException:
        """Turn a failure into a response error, and tell the user why."""
        if isinstance(exc, Cancelled):
            return JsonRpcException("Cancelled", code=types.LSPErrorCodes.RequestCancelled)
        if isinstance(exc, HearthError):
            message = str(exc)
            self.show(f"Hearth: {message}", types.MessageType.Warning)
        else:
            log.exception("Unexpected failure", exc_info=exc)
            message = f"Hearth hit an unexpected error: {exc!r}. See the log for details."
            self.show(message)
        self.status("error", message)
        return request_failed(message)


def create_server() -> HearthServer:
    from hearth.lsp import actions, config, documents, memory

    server = HearthServer()
    config.register(server)
    documents.register(server)
    memory.register(server)
    actions.register(server)
    return server
