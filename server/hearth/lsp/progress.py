"""Work-done progress with a cancellable token, and an answer's text as it is generated: both
safe to report from the inference thread, both sent from the event loop."""

from __future__ import annotations

import asyncio
import logging
import math
import re
import threading
import uuid
from collections.abc import Callable
from typing import Any

from lsprotocol import types

from hearth.core.cancel import CancelToken

log = logging.getLogger(__name__)


class WorkProgress:
    """``$/progress`` for one piece of work; the client's cancel button cancels ``cancel``.

    Uses the client's ``workDoneToken`` when the request carried one, else creates a token
    when the client supports ``window.workDoneProgress``, else reports nothing.
    """

    def __init__(self, server: Any, title: str, cancel: CancelToken,
                 token: types.ProgressToken | None = None) -> None:
        self.server = server
        self.title = title
        self.cancel = cancel
        self.token = token
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ended = False

    def _supported(self) -> bool:
        window = self.server.client_capabilities.window
        return bool(window and window.work_done_progress)

    async def __aenter__(self) -> WorkProgress:
        self._loop = asyncio.get_running_loop()
        if self.token is None and self._supported():
            token = f"hearth-{uuid.uuid4()}"
            try:
                await self.server.work_done_progress.create_async(token)
                self.token = token
            except Exception as exc:  # noqa: BLE001 - progress is a nicety, not a requirement
                log.info("Client refused a progress token: %s", exc)
        if self.token is not None:
            self.server.work_done_progress.begin(self.token, types.WorkDoneProgressBegin(
                title=self.title, cancellable=True, percentage=0))
            future = self.server.work_done_progress.tokens.get(self.token)
            if future is not None:
                future.add_done_callback(lambda f: f.cancelled() and self.cancel.cancel())
        return self

    @property
    def active(self) -> bool:
        """Whether reports reach the client: it has a token, and the work has not ended."""
        return self.token is not None and not self._ended

    def report(self, message: str, percentage: int | None = None) -> None:
        """Callable from any thread."""
        if self.token is None or self._loop is None:
            return
        self._loop.call_soon_threadsafe(self.report_now, message, percentage)

    def report_now(self, message: str, percentage: int | None = None) -> None:
        """On the event loop; nothing once the work has ended (a report scheduled from the
        inference thread may run after the end)."""
        if not self.active:
            return
        self.server.work_done_progress.report(self.token, types.WorkDoneProgressReport(
            message=message, percentage=percentage, cancellable=True))

    async def __aexit__(self, exc_type, exc, tb) -> None:
        if self.token is None:
            return
        self._ended = True
        message = "Cancelled" if self.cancel.cancelled else ("Failed" if exc else "Done")
        self.server.work_done_progress.end(self.token, types.WorkDoneProgressEnd(message=message))
        self.server.work_done_progress.tokens.pop(self.token, None)


# At most this many updates a second of an answer's text: a preview that fills smoothly,
# and few enough messages that a slow client does not fall behind the model.
STREAM_INTERVAL_S = 0.1
FENCE_LINE = re.compile(r"^`{3,}[\w+-]*$")


class TextStream:
    """An answer's text as the model writes it, sent on the event loop by ``send``.

    Called on the inference thread with the whole text so far: it keeps the newest text and,
    when no update is pending, schedules one on the loop, so the decoder never waits for the
    client. Updates are at least ``interval`` apart and each carries the whole text (a
    dropped or coalesced update loses nothing). ``close`` (on the loop) ends it: what was
    pending is dropped, as the final answer follows.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, send: Callable[[str], None],
                 interval: float = STREAM_INTERVAL_S) -> None:
        self._loop = loop
        self._send = send
        self._interval = interval
        self._lock = threading.Lock()
        self._text: str | None = None  # the newest text, not sent yet
        self._pending = False
        self._closed = False
        self._last_sent = -math.inf
        self._timer: asyncio.TimerHandle | None = None
        self.sent = 0  # updates sent (the logs say how many)

    def __call__(self, text: str) -> None:
        with self._lock:
            if self._closed:
                return
            self._text = text
            if self._pending:
                return
            self._pending = True
        try:
            self._loop.call_soon_threadsafe(self._schedule)
        except RuntimeError:  # the loop is closed: the process is ending
            pass

    def _schedule(self) -> None:
        if self._closed:
            return
        wait = self._last_sent + self._interval - self._loop.time()
        self._timer = self._loop.call_later(max(0.0, wait), self._flush)

    def _flush(self) -> None:
        self._timer = None
        with self._lock:
            text, self._text, self._pending = self._text, None, False
            if self._closed or text is None:
                return
        self._last_sent = self._loop.time()
        self.sent += 1
        try:
            self._send(text)
        except Exception:  # noqa: BLE001 - a preview must never fail the action
            log.exception("Sending the text so far failed")

    def close(self) -> None:
        with self._lock:
            self._closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


def last_line(text: str, width: int = 80) -> str:
    """The last line with words in it, shortened to ``width``: a progress message. A fence
    (```, ```python) is markup, not a line of the answer: an answer's last update, which
    closes its code block, still shows its last line of code."""
    line = next((line.strip() for line in reversed(text.splitlines())
                 if line.strip() and not FENCE_LINE.match(line.strip())), "")
    line = line.lstrip("#").strip() or line
    return line if len(line) <= width else line[:width - 1] + "\u2026"
