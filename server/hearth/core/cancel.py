"""Cancellation that crosses threads: the editor sets it, the decoder loop checks it each token."""

from __future__ import annotations

import threading
from collections.abc import Callable


class Cancelled(Exception):
    """The work was cancelled by the user or superseded."""


class CancelToken:
    def __init__(self) -> None:
        self._event = threading.Event()
        self._callbacks: list[Callable[[], None]] = []
        self._lock = threading.Lock()
        # Set by the inference queue while the job runs: long work calls checkpoint() between
        # steps so that urgent jobs (an inline completion) run there instead of waiting.
        self._checkpoint: Callable[[], None] | None = None

    def checkpoint(self) -> None:
        """A moment where the work holding this token may be paused for urgent work."""
        hook = self._checkpoint
        if hook is not None:
            hook()

    def set_checkpoint(self, hook: Callable[[], None] | None) -> None:
        self._checkpoint = hook

    def cancel(self) -> None:
        with self._lock:
            if self._event.is_set():
                return
            self._event.set()
            callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            callback()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise Cancelled()

    def on_cancel(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` once when cancelled (at once if already cancelled)."""
        with self._lock:
            if not self._event.is_set():
                self._callbacks.append(callback)
                return
        callback()
