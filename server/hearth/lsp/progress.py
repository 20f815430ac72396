"""Work-done progress with a cancellable token, safe to report from a worker thread."""

from __future__ import annotations

import asyncio
import logging
import uuid
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

    def report(self, message: str, percentage: int | None = None) -> None:
        """Callable from any thread."""
        if self.token is None or self._loop is None:
            return
        value = types.WorkDoneProgressReport(message=message, percentage=percentage,
                                             cancellable=True)
        self._loop.call_soon_threadsafe(self.server.work_done_progress.report, self.token, value)

    async def __aexit__(self, exc_type, exc, tb) -> None:
        if self.token is None:
            return
        message = "Cancelled" if self.cancel.cancelled else ("Failed" if exc else "Done")
        self.server.work_done_progress.end(self.token, types.WorkDoneProgressEnd(message=message))
        self.server.work_done_progress.tokens.pop(self.token, None)
