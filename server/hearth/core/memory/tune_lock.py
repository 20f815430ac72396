"""At most one tuning of the embedder per machine: an exclusive lock on a file in the cache,
held by the tuning process for as long as it runs.

The operating system drops the lock when that process ends, however it ends (a crash, a
kill, a power cut), so a dead tuner never leaves it taken; the file itself stays and only
names the last holder's pid, for messages."""

from __future__ import annotations

import errno
import os
import sys
import time
from pathlib import Path

LOCK_FILE = "tune-embedder.lock"
PROBE_RETRY_S = 0.02
TAKE_PATIENCE_S = 1.0  # how long a starting tuner retries before it believes another tunes


def tune_lock_path(cache_base: Path) -> Path:
    """Beside what it guards: the models folder, which a test cache may share by a link."""
    return cache_base / "models" / LOCK_FILE


class TuneLock:
    """The machine's tuning lock; one instance holds it at most once."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self, wait: bool = False, patience_s: float = 0.0) -> bool:
        """Take the lock; with ``wait`` block until it is free, else return False when
        another process still holds it after ``patience_s`` (a ``busy()`` probe holds it for
        microseconds: a process that must not mistake a probe for a tuner gives it a moment)."""
        if self._fd is not None:
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)  # not inherited by children
        try:
            deadline = time.monotonic() + patience_s
            while not _lock(fd, wait):
                if time.monotonic() >= deadline:
                    os.close(fd)
                    return False
                time.sleep(PROBE_RETRY_S)
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
        except OSError:
            os.close(fd)
            raise
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            _unlock(fd)
        finally:
            os.close(fd)  # closing alone drops the lock too

    def busy(self) -> bool:
        """Whether another process holds the lock now (taken and dropped at once to see)."""
        if self._fd is not None:
            return False
        if self.acquire(wait=False):
            self.release()
            return False
        return True

    def holder(self) -> int | None:
        """The pid the last holder wrote, if readable."""
        try:
            return int(self.path.read_text(encoding="ascii").strip())
        except (OSError, ValueError):
            return None

    def __enter__(self) -> TuneLock:
        self.acquire(wait=True)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()


if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _lock(fd: int, wait: bool) -> bool:
        while True:
            try:
                msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
                return True
            except OSError:
                if not wait:
                    return False
                time.sleep(1.0)

    def _unlock(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
else:
    import fcntl

    def _lock(fd: int, wait: bool) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                return False
            raise
        return True

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)
