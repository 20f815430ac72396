"""The end of the server's life: `shutdown`, and watching the editor's process.

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
from typing import TYPE_CHECKING, Any

from lsprotocol import types

if TYPE_CHECKING:
    from hearth.lsp.server import HearthServer

log = logging.getLogger(__name__)

# `shutdown` waits this long for the indexes to be saved before it answers: the editor waits
# for that answer, and a large index takes a moment to write.
SHUTDOWN_SAVE_S = 2.0
POLL_S = 1.0  # where the editor's end cannot be waited for, how often to look


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
    if isinstance(pid, bool) or not isinstance(pid, int) or pid <= 0:
        log.warning("Not watching processId %r: not a process id", pid)
        return None
    return ParentWatcher(pid, on_exit).start()


def register(server: HearthServer) -> None:
    @server.feature(types.SHUTDOWN)
    async def shutdown(params: Any = None) -> None:
        """Cancel what runs (the model stops at its next token), then give the indexes a
        moment to be saved: `exit` follows, and it waits for nothing."""
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
