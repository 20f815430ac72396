"""Logging to stderr and a rotating file in the user log folder; never to stdout (the protocol).

The language server's stderr is written from a bounded buffer by a daemon thread
(`protect_stderr`): an editor that never reads stderr fills the pipe, and then log records are
dropped and counted instead of blocking the thread that logged them, the protocol's included.
"""

from __future__ import annotations

import io
import logging
import os
import sys
import threading
import time
from collections import deque
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import TextIO

import platformdirs

# What the stderr buffer holds before it drops: a few seconds of verbose logging, bounded so
# that a stalled reader costs at most this much memory.
STDERR_BUFFER_CHARS = 2_000_000

_stderr_handler: logging.StreamHandler | None = None


def log_dir() -> Path:
    return Path(os.environ.get("HEARTH_LOG_DIR") or platformdirs.user_log_dir("hearth"))


def setup_logging(level: int = logging.INFO, *, to_file: bool = True) -> Path | None:
    global _stderr_handler
    root = logging.getLogger()
    root.setLevel(level)
    formatter = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    _stderr_handler = logging.StreamHandler(sys.stderr)
    _stderr_handler.setFormatter(formatter)
    root.handlers[:] = [_stderr_handler]
    # pygls logs every message it sends at INFO: keep that for --verbose only.
    pygls_level = logging.DEBUG if level <= logging.DEBUG else logging.WARNING
    logging.getLogger("pygls").setLevel(pygls_level)
    if not to_file:
        return None
    path = log_dir() / "hearth.log"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # A lone surrogate (a client's bad URI, quoted in a message) is written escaped: a
        # strict encoder would fail the record, and logging would print a traceback instead.
        handler = RotatingFileHandler(path, maxBytes=5_000_000, backupCount=3, encoding="utf-8",
                                      errors="backslashreplace")
    except OSError as exc:
        logging.getLogger(__name__).warning("Cannot write the log file %s: %s", path, exc)
        return None
    handler.setFormatter(formatter)
    root.addHandler(handler)
    return path


class StderrPump(io.TextIOBase):
    """A text stream whose writes never block.

    A daemon thread copies what is written to ``target``. When the buffer is full (nobody
    reads the pipe), further writes are dropped and counted; once the reader catches up, the
    count is written first, so the log says what it lost. A target that fails (closed, broken
    pipe) is given up for good, without a word: there is nowhere left to say it.
    """

    def __init__(self, target: TextIO, capacity_chars: int = STDERR_BUFFER_CHARS) -> None:
        super().__init__()
        self.target = target
        self.capacity_chars = capacity_chars
        self.dropped = 0
        self.broken = False
        self._pending: deque[str] = deque()
        self._pending_chars = 0
        self._writing = False
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="hearth-stderr", daemon=True)
        self._thread.start()

    # -- the stream interface ------------------------------------------------------------------
    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.target, "encoding", None) or "utf-8"

    def fileno(self) -> int:
        # For C-level users (faulthandler): they write to the descriptor and may block, but
        # nothing of Hearth's own goes that way.
        return self.target.fileno()

    def write(self, text: str) -> int:
        if not text:
            return 0
        with self._changed:
            if self.broken or self._pending_chars + len(text) > self.capacity_chars:
                self.dropped += 1
            else:
                self._pending.append(text)
                self._pending_chars += len(text)
                self._changed.notify_all()
        return len(text)

    def flush(self) -> None:
        """Never waits: `drain` does, with a bound."""

    # -- the writer thread ------------------------------------------------------------------------
    def _run(self) -> None:
        reported = 0
        while True:
            with self._changed:
                while not self._pending:
                    self._changed.wait()
                text = self._pending.popleft()
                self._pending_chars -= len(text)
                self._writing = True
                lost, reported = self.dropped - reported, self.dropped
            try:
                if lost:
                    self.target.write(f"hearth: {lost} log message(s) dropped: stderr was "
                                      "not being read\n")
                self.target.write(text)
                self.target.flush()
            except (OSError, ValueError):
                with self._changed:
                    self.broken = True
                    self._pending.clear()
                    self._pending_chars = 0
            finally:
                with self._changed:
                    self._writing = False
                    self._changed.notify_all()

    def drain(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for everything written so far to reach the target."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while self._pending or self._writing:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._changed.wait(remaining)
        return True


def protect_stderr() -> StderrPump:
    """Send this process's stderr, the log handler's and ``sys.stderr``'s writes alike,
    through one `StderrPump`. For the language server: stderr is the editor's to read, or not."""
    if isinstance(sys.stderr, StderrPump):
        return sys.stderr
    pump = StderrPump(sys.stderr)
    if _stderr_handler is not None:
        _stderr_handler.setStream(pump)
    sys.stderr = pump
    return pump


def flush_logs(timeout: float) -> None:
    """Bring the log file and stderr up to date, waiting at most ``timeout`` seconds (the
    process is about to end without the interpreter's own clean-up)."""
    for handler in logging.getLogger().handlers:
        if handler is not _stderr_handler:
            try:
                handler.flush()
            except (OSError, ValueError):
                pass
    if isinstance(sys.stderr, StderrPump):
        sys.stderr.drain(timeout)
