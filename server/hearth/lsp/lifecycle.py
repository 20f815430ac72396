"""The end of the server's life: `shutdown`, and watching the editor's process; and the end
of an idle model's: unloading it after `model.unloadAfter` seconds unused.

`exit`, the end of stdin and the editor's death all end in `HearthServer.terminate`;
docs/lifecycle.md tells the whole story.
"""

from __future__ import annotations

import asyncio
import logging
import os
import select
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

from lsprotocol import types

from hearth.core.cancel import Cancelled, CancelToken
from hearth.core.inference import InferenceQueue, Priority

if TYPE_CHECKING:
    from hearth.core.session import Session
    from hearth.lsp.server import HearthServer

log = logging.getLogger(__name__)

# `shutdown` waits this long for the indexes to be saved before it answers: the editor waits
# for that answer, and a large index takes a moment to write.
SHUTDOWN_SAVE_S = 2.0
POLL_S = 1.0  # where the editor's end cannot be waited for, how often to look
MAX_PID = 2**31 - 1


def process_alive(pid: int) -> bool:
    """Whether ``pid`` is a running process (a zombie has ended, whoever reaps it)."""
    if sys.platform == "win32":
        return _windows_process_alive(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process: it exists
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True  # no /proc (macOS): a signal reached it
    return state not in ("Z", "X")


def _windows_process_alive(pid: int) -> bool:
    import ctypes

    kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined]
    handle = kernel32.OpenProcess(0x00100000, False, pid)  # SYNCHRONIZE
    if not handle:
        return False
    try:
        return kernel32.WaitForSingleObject(handle, 0) == 0x00000102  # WAIT_TIMEOUT
    finally:
        kernel32.CloseHandle(handle)


class ParentWatcher:
    """Calls ``on_exit`` once the process ``pid`` has ended, as the LSP specification asks of
    a server given the editor's ``processId``: an editor that crashes sends no `exit`."""

    def __init__(self, pid: int, on_exit: Callable[[], None], poll_s: float = POLL_S) -> None:
        self.pid = pid
        self.on_exit = on_exit
        self.poll_s = poll_s
        self.thread = threading.Thread(target=self._run, name="hearth-parent", daemon=True)

    def start(self) -> ParentWatcher:
        self.thread.start()
        return self

    def _run(self) -> None:
        if not process_alive(self.pid):
            log.warning("The editor's process %d is not running", self.pid)
            self.on_exit()
            return
        try:
            # Linux: a descriptor that becomes readable when the process ends, with no polling
            # and no risk of mistaking a new process that got the same pid for the editor.
            descriptor = os.pidfd_open(self.pid)
        except (AttributeError, OSError):
            descriptor = None
        if descriptor is not None:
            try:
                select.select([descriptor], [], [])
            finally:
                os.close(descriptor)
        else:
            while process_alive(self.pid):
                time.sleep(self.poll_s)
        log.warning("The editor's process %d ended", self.pid)
        self.on_exit()


def watch(pid: Any, on_exit: Callable[[], None]) -> ParentWatcher | None:
    """Watch the ``processId`` a client sent, if it is one."""
    if pid is None:
        return None
    # A process id is a C pid_t: 2**63 passed JSON and then overflowed os.kill on the watcher.
    if isinstance(pid, bool) or not isinstance(pid, int) or not 0 < pid <= MAX_PID:
        log.warning("Not watching processId %r: not a process id", pid)
        return None
    return ParentWatcher(pid, on_exit).start()


class IdleUnloader:
    """Frees the models no action has used for ``model.unloadAfter`` seconds.

    A timer on the event loop; when it fires, a background job on the inference queue, behind
    any action, asks the Session (``Session.unload_idle``), which knows when each model was
    last used, so that a model is never unloaded while it decodes. The Session's answer says
    when to look again. The timer is armed after each action and at each settings change,
    and never again once `close` has run (at `shutdown` or the end of the process).
    """

    def __init__(self, queue: InferenceQueue, session: Callable[[], Session]) -> None:
        self._queue = queue
        self._session = session  # the server's current Session (`initialize` replaces it)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._checking = False  # a check is queued or running; its answer re-arms the timer
        self._pending: float | None = None  # a look asked for while a check was under way
        self._closed = False

    @property
    def armed(self) -> bool:
        return self._timer is not None or self._checking

    def used(self) -> None:
        """An action has run: look once its model may have been unused long enough (unless
        a look is due sooner)."""
        self._look_in(self._session().settings.model.unload_after)

    def settings_changed(self) -> None:
        """``unloadAfter`` may be shorter, longer or 0 now: look at once, and go from there."""
        self._cancel_timer()
        self._look_in(0.0)

    def close(self) -> None:
        """Nothing more, from any thread (a timer that fires later does nothing; a check
        already queued is cancelled with the queue's other jobs)."""
        self._closed = True
        try:
            on_loop = asyncio.get_running_loop() is self._loop
        except RuntimeError:
            on_loop = False
        if on_loop:
            self._cancel_timer()
        elif self._loop is not None and self._timer is not None:
            try:
                self._loop.call_soon_threadsafe(self._cancel_timer)
            except RuntimeError:  # the loop is closed
                pass

    def _look_in(self, delay: float) -> None:
        if self._closed or self._session().settings.model.unload_after <= 0:
            return
        if self._checking:  # the check's answer may be older than this: look again after it
            self._pending = delay if self._pending is None else min(self._pending, delay)
            return
        self._loop = asyncio.get_running_loop()
        when = self._loop.time() + delay
        if self._timer is not None and self._timer.when() <= when:
            return
        self._cancel_timer()
        self._timer = self._loop.call_at(when, self._check)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _check(self) -> None:
        self._timer = None
        if self._closed:
            return
        session = self._session()
        try:
            future = self._queue.submit(lambda token: session.unload_idle(),
                                        priority=Priority.BACKGROUND, cancel=CancelToken())
        except RuntimeError:  # the queue is stopped: the process is ending
            return
        self._checking = True
        loop = self._loop
        assert loop is not None

        def checked(done: Future) -> None:
            try:
                loop.call_soon_threadsafe(self._checked, done)
            except RuntimeError:  # the loop is closed: the process is ending
                pass

        future.add_done_callback(checked)

    def _checked(self, done: Future) -> None:
        self._checking = False
        pending, self._pending = self._pending, None
        if self._closed or done.cancelled():
            return
        error = done.exception()
        if error is not None:
            if not isinstance(error, Cancelled):
                log.error("Unloading idle models failed", exc_info=error)
            return  # the next action or settings change arms the timer again
        for delay in (done.result(), pending):
            if delay is not None:
                self._look_in(delay)


def register(server: HearthServer) -> None:
    @server.feature(types.SHUTDOWN)
    async def shutdown(params: Any = None) -> None:
        """Cancel what runs (the model stops at its next token), then give the indexes a
        moment to be saved: `exit` follows, and it waits for nothing. Idle models are not
        unloaded any more (`stop_work` closes the unloader)."""
        saving = server.stop_work()
        if not saving:
            return
        done, pending = await asyncio.wait([asyncio.wrap_future(f) for f in saving],
                                           timeout=SHUTDOWN_SAVE_S)
        for future in done:
            if future.exception() is not None:
                log.error("Saving an index failed", exc_info=future.exception())
        if pending:
            log.warning("%d index(es) still being saved after %.0f s; not waiting",
                        len(pending), SHUTDOWN_SAVE_S)
