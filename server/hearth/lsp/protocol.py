"""Hearth's JSON-RPC protocol: the life cycle's rules applied to every message, a spec answer to
every request however malformed, and the one place that writes to the client.

pygls drops a request whose params do not fit their type without answering it, runs requests
that arrive before ``initialize`` (they fail with a traceback), and goes on writing after
``shutdown``. Here a request always gets its answer or the spec's error, and after ``shutdown``
only answers are written; once the process is ending, nothing is.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import re
from collections.abc import Callable
from typing import Any

import attrs
import cattrs
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pygls.protocol import (JsonRPCNotification, JsonRPCRequestMessage,
                            JsonRPCResponseMessage, LanguageServerProtocol, lsp_method)

from hearth.lsp.transport import Unparsable
from hearth.lsp.workspace import HearthWorkspace

log = logging.getLogger(__name__)

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
SERVER_NOT_INITIALIZED = -32002
SYNC_KIND = types.TextDocumentSyncKind.Full
LOGGED_BODY_CHARS = 4000  # a whole document in every log line helps nobody


def describe(exc: BaseException) -> str:
    """What is wrong with a message, in the client's field names (camelCase)."""
    if isinstance(exc, cattrs.BaseValidationError):
        problems = cattrs.transform_error(exc, path="$")
    else:
        problems = [f"{type(exc).__name__}: {exc}"]
    text = "; ".join(problems[:6]) + ("; ..." if len(problems) > 6 else "")
    return re.sub(r"_([a-z])", lambda m: m.group(1).upper(), text)[:1000]


def is_response(data: Any) -> bool:
    if isinstance(data, dict):
        return "method" not in data
    return getattr(data, "method", None) is None


def valid_id(value: Any) -> bool:
    return isinstance(value, (int, str)) and not isinstance(value, bool)


def notification_method(method: str) -> bool:
    """A method LSP defines as a notification (so a message with an id cannot be it)."""
    entry = types.METHOD_TO_TYPES.get(method)
    return entry is not None and "id" not in attrs.fields_dict(entry[0])


class HearthProtocol(LanguageServerProtocol):
    def __init__(self, server: Any, converter: Any) -> None:
        super().__init__(server, converter)
        self.initialize_received = False
        self.shutdown_received = False
        self.closed = False  # the process is ending: nothing more is written, ever
        # Checks run just before a request's answer is written (recheck_before_answer).
        self._rechecks: dict[Any, Callable[[], JsonRpcException | None]] = {}
        # `initialize` requests not answered yet by the protocol: the raw message, and the
        # result hearth.lsp.early already sent for it (or None).
        self._initialize_requests: dict[Any, tuple[dict, Any]] = {}

    # -- receiving ----------------------------------------------------------------------------
    def receive(self, data: Any, answered: Any = None) -> None:
        """One message as the transport parsed it: checked as JSON-RPC, typed, handled.

        ``answered``: the result the transport already sent for this ``initialize``
        (hearth.lsp.early). It is handled all the same, and its answer is not written again.
        """
        if isinstance(data, Unparsable):
            self.send_error(None, PARSE_ERROR, f"Parse error: {data.problem}")
            return
        if not isinstance(data, dict):
            self.send_error(None, INVALID_REQUEST,
                            "Invalid request: a message is one JSON object (LSP has no batches)")
            return
        msg_id, method = data.get("id"), data.get("method")
        if "method" not in data:
            if valid_id(msg_id) and ("result" in data or "error" in data):
                self._receive_response(data)
            else:
                self.send_error(msg_id if valid_id(msg_id) else None, INVALID_REQUEST,
                                "Invalid request: a message needs a method, or an id and a "
                                "result or error")
            return
        is_request = "id" in data
        problem = None
        if data.get("jsonrpc") != "2.0":
            problem = 'jsonrpc must be "2.0"'
        elif not isinstance(method, str):
            problem = "method must be a string"
        elif is_request and not valid_id(msg_id):
            problem = "id must be an integer or a string"
        if problem is not None:
            if is_request:
                self.send_error(msg_id if valid_id(msg_id) else None, INVALID_REQUEST,
                                f"Invalid request: {problem}")
            else:
                log.warning("Ignored a notification: %s", problem)
            return
        if is_request and method == types.INITIALIZE:
            self._initialize_requests[msg_id] = (data, answered)
        if is_request and notification_method(method):
            self.send_error(msg_id, METHOD_NOT_FOUND,
                            f"{method} is a notification; it cannot be sent as a request")
            return
        if not self._admit(method, is_request, msg_id):
            return
        message_type = self.get_message_type(method)
        if message_type is None:  # not LSP's: pygls' generic message, whose params are required
            message_type = JsonRPCRequestMessage if is_request else JsonRPCNotification
            data = {"params": None, **data}
        try:
            message = self._converter.structure(data, message_type)
        except Exception as exc:  # noqa: BLE001 - cattrs raises many kinds; all mean "bad params"
            if is_request:
                self.send_error(msg_id, INVALID_PARAMS,
                                f"Invalid params for {method}: {describe(exc)}")
            else:
                log.warning("Ignored %s with invalid params: %s", method, describe(exc))
            return
        self._mark(method, is_request)
        super().handle_message(message)

    def _mark(self, method: str, is_request: bool) -> None:
        """The life cycle moves on once its request is valid: an ``initialize`` with bad
        params may be sent again."""
        if is_request and method == types.INITIALIZE:
            self.initialize_received = True
        elif is_request and method == types.SHUTDOWN:
            self.shutdown_received = True

    def _receive_response(self, data: dict[str, Any]) -> None:
        msg_id = data["id"]
        result_type = self._result_types.pop(msg_id, None)
        if "error" in data:
            result_type = types.ResponseErrorMessage
        try:
            message = self._converter.structure(data, result_type or JsonRPCResponseMessage)
        except Exception as exc:  # noqa: BLE001 - the waiting request must still end
            log.warning("The client's answer to request %s was malformed: %s",
                        msg_id, describe(exc))
            future = self._request_futures.pop(msg_id, None)
            if future is not None and not future.done():
                future.set_exception(JsonRpcException(
                    f"The client's answer was malformed: {describe(exc)}"))
            return
        waiting = self._request_futures.get(msg_id)
        if waiting is not None and waiting.done():
            # The server stopped waiting (its job was cancelled): pygls would set a result on
            # a cancelled future and raise.
            self._request_futures.pop(msg_id, None)
            log.debug("The client answered request %s after it was cancelled", msg_id)
            return
        super().handle_message(message)

    def handle_message(self, message: Any) -> None:
        """A typed message from pygls' own reader (the TCP transport): through the gate."""
        method = getattr(message, "method", None)
        is_request = method is not None and hasattr(message, "id")
        if self._admit(method, is_request, getattr(message, "id", None)):
            if method is not None:
                self._mark(method, is_request)
            super().handle_message(message)

    def _admit(self, method: str | None, is_request: bool, msg_id: Any) -> bool:
        """The life cycle's gate, before params are even looked at: before ``initialize`` a
        request gets ServerNotInitialized and a notification is dropped; after ``shutdown`` a
        request gets InvalidRequest. Answers to the server's own requests always pass."""
        if method is None or method == types.EXIT:
            return True
        if method == types.INITIALIZE and is_request:
            if self.initialize_received:
                self.send_error(msg_id, INVALID_REQUEST,
                                "The server is already initialized (initialize comes once)")
                return False
        elif not self.initialize_received:
            if is_request:
                self.send_error(msg_id, SERVER_NOT_INITIALIZED,
                                f"{method} before initialize: the server is not initialized")
            else:
                log.info("Dropped %s: it came before initialize", method)
            return False
        if self.shutdown_received:
            if is_request:
                self.send_error(msg_id, INVALID_REQUEST,
                                f"{method} after shutdown: the server is shutting down")
            return False
        return True

    # -- the life cycle -----------------------------------------------------------------------
    @lsp_method(types.INITIALIZE)
    def lsp_initialize(self, params: types.InitializeParams):  # noqa: ANN201 - pygls' shape
        result = yield from super().lsp_initialize(params)
        # Documents are filed under one spelling of their URI. No document can be open yet
        # (didOpen comes after this answer), so pygls' empty workspace is simply replaced.
        plain = self.workspace
        self._workspace = HearthWorkspace(plain.root_uri, SYNC_KIND,
                                          list(plain.folders.values()), plain.position_encoding)
        self._server.watch_parent(params.process_id)
        # Inline completion is offered only to a client that says it shows it: any other
        # would never ask, and a model would be loaded for nothing.
        text_document = params.capabilities.text_document
        if text_document is None or text_document.inline_completion is None:
            self.server_capabilities.inline_completion_provider = None
        return result

    @lsp_method(types.SHUTDOWN)
    def lsp_shutdown(self, *args: Any):  # noqa: ANN201 - pygls' shape
        """pygls' own, but over a copy of the requests in flight: cancelling a command's
        request (a plain future) answers it at once, which removes it from the very dict
        pygls iterates, and `shutdown` failed with "dictionary changed size"."""
        if (handler := self.fm.features.get(types.SHUTDOWN)) is not None:
            yield handler, args, None
        current = self.msg_id
        for msg_id, future in list(self._request_futures.items()):
            if msg_id != current and not future.done():
                future.cancel()
        self._shutdown = True
        return None

    @lsp_method(types.EXIT)
    def lsp_exit(self, *args: Any) -> None:
        self._server.terminate("exit")

    def _handle_cancel_notification(self, msg_id: Any) -> None:
        """Also cancels Hearth's own job for that request: pygls cancels a request's future
        only if it has not started, and never reaches a command that is already running."""
        if not valid_id(msg_id):
            log.warning("Ignored $/cancelRequest for an id that is neither a number nor a "
                        "string: %.80r", msg_id)
            return
        self._server.cancel_job(msg_id)
        super()._handle_cancel_notification(msg_id)

    @lsp_method(types.WINDOW_WORK_DONE_PROGRESS_CANCEL)
    def lsp_work_done_progress_cancel(  # noqa: ANN201 - pygls' shape
            self, params: types.WorkDoneProgressCancelParams):
        if not valid_id(params.token):
            log.warning("Ignored a progress cancel for a token that is neither a number nor a "
                        "string: %.80r", params.token)
            return None
        return (yield from super().lsp_work_done_progress_cancel(params))

    # -- sending: the one place that writes ---------------------------------------------------
    def recheck_before_answer(self, msg_id: Any,
                              check: Callable[[], JsonRpcException | None]) -> None:
        """Run ``check`` just before the answer to request ``msg_id`` is written, and answer
        with the error it returns instead, if any. A handler's last check and its answer are
        not one step: pygls writes the answer from the task's done callback, and messages read
        in between (a change to the document) are handled first. Found by the long fuzz run
        (seed 1, sequence 341): a resolved Fix went out after the server had read, and
        answered a request after, a change to its document."""
        if msg_id is not None:
            self._rechecks[msg_id] = check

    def _send_handler_result(self, future: Any, *, msg_id: Any) -> None:
        """A handler's deliberate error (RequestFailed, RequestCancelled, InvalidParams) is an
        answer, not a crash: logged in a line, where pygls logs a traceback. A result that a
        recheck (recheck_before_answer) finds stale is answered with the check's error."""
        check = self._rechecks.pop(msg_id, None)
        if check is not None and future.done() and not future.cancelled() \
                and future.exception() is None and (stale := check()) is not None:
            self._request_futures.pop(msg_id, None)
            log.info("Request %s answered with error %s instead of its result: %s", msg_id,
                     stale.code, stale.message)
            self._send_response(msg_id, error=stale.to_response_error())
            return
        if future.done() and not future.cancelled() and isinstance(
                exc := future.exception(), JsonRpcException):
            self._request_futures.pop(msg_id, None)
            log.info("Request %s answered with error %s: %s", msg_id, exc.code, exc.message)
            self._send_response(msg_id, error=exc.to_response_error())
            return
        super()._send_handler_result(future, msg_id=msg_id)

    def send_error(self, msg_id: Any, code: int, message: str) -> None:
        """An error response; ``msg_id`` None when the request's id could not be known."""
        self._send_data({"jsonrpc": "2.0", "id": msg_id,
                         "error": {"code": code, "message": message}})

    def _send_data(self, data: Any) -> None:
        if not data:
            return
        if self.closed or (self.shutdown_received and not is_response(data)):
            self._refuse(data)
            return
        if self.writer is None:
            log.error("Nothing to send %s through: no transport", type(data).__name__)
            return
        try:
            body = json.dumps(data, default=self._serialize_message)
        except Exception as exc:  # noqa: BLE001 - a handler returned what JSON cannot hold
            log.exception("Cannot encode %s for the client", type(data).__name__)
            msg_id = getattr(data, "id", None)
            if is_response(data) and valid_id(msg_id) and getattr(data, "error", None) is None:
                self.send_error(msg_id, INTERNAL_ERROR,
                                f"Hearth could not encode its answer: {exc!r}")
            return
        msg_id = data.get("id") if isinstance(data, dict) else getattr(data, "id", None)
        if is_response(data) and valid_id(msg_id) and msg_id in self._initialize_requests:
            request, answered = self._initialize_requests.pop(msg_id)
            if self._initialize_answer(request, answered, json.loads(body)):
                return
        log.debug("Sending %s", body[:LOGGED_BODY_CHARS])
        if self._include_headers:  # json.dumps writes ASCII only: characters are bytes
            body = (f"Content-Length: {len(body)}\r\n"
                    f"Content-Type: {self.CONTENT_TYPE}; charset={self.CHARSET}\r\n\r\n{body}")
        try:
            written = self.writer.write(body.encode(self.CHARSET))
            if inspect.isawaitable(written):
                asyncio.ensure_future(written)
        except (OSError, ValueError) as exc:  # ValueError: the stream is already closed
            # The client is gone. Saying so to the client (pygls' showMessage) would fail the
            # same way, and that failure would be reported again: just end.
            self.closed = True
            log.warning("Writing to the client failed (%s): exiting", exc)
            self._server.terminate("the client stopped reading")

    def _initialize_answer(self, request: dict, answered: Any, answer: dict) -> bool:
        """Keep a successful answer to ``initialize`` for the next start (hearth.lsp.early);
        True if the answer was already sent early, and so must not be written again."""
        cache = getattr(self._server, "initialize_cache", None)
        result = answer.get("result") if "error" not in answer else None
        if answered is not None:
            if result is None:
                problem = (answer.get("error") or {}).get("message", "no result")
                log.error("initialize was answered from the cache, then failed: %s", problem)
                self._server.show(f"Hearth did not start properly: {problem}")
            elif result != answered:
                log.warning("The cached answer to initialize was not the server's; the cache "
                            "now holds the server's, for the next start")
            else:
                log.debug("The cached answer to initialize was the server's")
        if cache is not None and isinstance(result, dict) and result != answered \
                and (key := cache.key(request)) is not None:
            # Here and now, not on a thread an `exit` right after would end: a millisecond,
            # as the reader already hashed the code to look the request up.
            cache.store(key, result)
        return answered is not None

    def _refuse(self, data: Any) -> None:
        """Drop a message; a request's caller learns at once that no answer will come."""
        msg_id = getattr(data, "id", None)
        log.debug("Not sent (%s): %s", "exiting" if self.closed else "after shutdown",
                  getattr(data, "method", None) or f"answer to {msg_id}")
        if not is_response(data) and msg_id is not None:
            future = self._request_futures.pop(msg_id, None)
            if future is not None and not future.done():
                future.set_exception(JsonRpcException(
                    "Hearth is shutting down: nothing more is sent to the client"))
