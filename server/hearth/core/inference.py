"""One inference queue: a single worker thread owns the model, interactive work goes first."""

from __future__ import annotations

import itertools
import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from enum import IntEnum
from typing import Any, TypeVar

from hearth.core.cancel import Cancelled, CancelToken

log = logging.getLogger(__name__)
T = TypeVar("T")


class Priority(IntEnum):
    INTERACTIVE = 0  # an action the user is waiting for
    BACKGROUND = 10  # warming the model, benchmarks


class InferenceQueue:
    """Runs jobs one at a time on one thread, so a model is never used by two threads.

    A job cancelled before it starts is dropped without running; one cancelled while running
    sees its token and stops itself (the backend checks it every token). `cancel_all` does
    that to every job at once, for a process that is about to end.
    """

    def __init__(self, name: str = "hearth-inference") -> None:
        self._queue: queue.PriorityQueue = queue.PriorityQueue()
        self._counter = itertools.count()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._stopped = False
        self._live: dict[Future, CancelToken] = {}  # submitted and not yet finished
        self._lock = threading.Lock()
        self._thread.start()

    def submit(self, job: Callable[[CancelToken], T], *, priority: Priority = Priority.INTERACTIVE,
               cancel: CancelToken | None = None) -> Future[T]:
        if self._stopped:
            raise RuntimeError("the inference queue is stopped")
        token = cancel or CancelToken()
        future: Future[T] = Future()
        with self._lock:
            self._live[future] = token
        self._queue.put((int(priority), next(self._counter), job, token, future))
        return future

    def _run(self) -> None:
        while True:
            _, _, job, token, future = self._queue.get()
            if job is None:
                return
            try:
                if token.cancelled or not future.set_running_or_notify_cancel():
                    if not future.done():
                        future.set_exception(Cancelled())
                    continue
                try:
                    result: Any = job(token)
                except BaseException as exc:  # noqa: BLE001 - handed to the waiting caller
                    future.set_exception(exc)
                else:
                    future.set_result(result)
            finally:
                with self._lock:
                    self._live.pop(future, None)

    def cancel_all(self) -> None:
        """Cancel every job, the running one through its token (it reaches the decoder)."""
        with self._lock:
            tokens = list(self._live.values())
        for token in tokens:
            token.cancel()

    def join(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for the worker to end after `stop`; True if it did."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def stop(self) -> None:
        if not self._stopped:
            self._stopped = True
            self._queue.put((1 << 30, next(self._counter), None, None, None))
