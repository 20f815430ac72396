"""One inference queue: a single worker thread owns the model, interactive work goes first."""

from __future__ import annotations

import collections
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
_URGENT_MARK = object()  # in the priority queue: "an urgent job is waiting in the deque"


class Priority(IntEnum):
    URGENT = -10  # an inline completion: runs first, and between the steps of a running job
    INTERACTIVE = 0  # an action the user is waiting for
    BACKGROUND = 10  # warming the model, benchmarks


class InferenceQueue:
    """Runs jobs one at a time on one thread, so a model is never used by two threads.

    A job cancelled before it starts is dropped without running; one cancelled while running
    sees its token and stops itself (the backend checks it every token). `cancel_all` does
    that to every job at once, for a process that is about to end.

    Urgent jobs never wait behind a running one: a running job's token has a checkpoint that
    its decoder calls between steps, and the urgent jobs queued meanwhile run there, on this
    same thread (the model is still used by one thread at a time; an urgent job must not use
    the same prompt cache as the job it interrupts: the backends keep a lane for them).
    """

    def __init__(self, name: str = "hearth-inference") -> None:
        self._queue: queue.PriorityQueue = queue.PriorityQueue()
        self._counter = itertools.count()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._stopped = False
        self._live: dict[Future, CancelToken] = {}  # submitted and not yet finished
        self._lock = threading.Lock()
        self._urgent: collections.deque = collections.deque()
        self._thread.start()

    def submit(self, job: Callable[[CancelToken], T], *, priority: Priority = Priority.INTERACTIVE,
               cancel: CancelToken | None = None) -> Future[T]:
        if self._stopped:
            raise RuntimeError("the inference queue is stopped")
        token = cancel or CancelToken()
        future: Future[T] = Future()
        with self._lock:
            self._live[future] = token
            if priority <= Priority.URGENT:
                self._urgent.append((job, token, future))
                job = _URGENT_MARK  # the queue only wakes the worker; the deque holds the job
        self._queue.put((int(priority), next(self._counter), job, token, future))
        return future

    def _run(self) -> None:
        while True:
            _, _, job, token, future = self._queue.get()
            if job is None:
                return
            if job is _URGENT_MARK:
                self._run_urgent()
                continue
            self._execute(job, token, future, urgent=False)

    def _run_urgent(self) -> None:
        """Run every urgent job queued so far (on the worker thread, maybe inside another
        job's checkpoint)."""
        while True:
            with self._lock:
                if not self._urgent:
                    return
                job, token, future = self._urgent.popleft()
            self._execute(job, token, future, urgent=True)

    def _execute(self, job: Callable[[CancelToken], Any], token: CancelToken, future: Future,
                 urgent: bool) -> None:
        try:
            if token.cancelled or not future.set_running_or_notify_cancel():
                if not future.done():
                    future.set_exception(Cancelled())
                return
            if not urgent:
                token.set_checkpoint(self._run_urgent)
            try:
                result: Any = job(token)
            except BaseException as exc:  # noqa: BLE001 - handed to the waiting caller
                future.set_exception(exc)
            else:
                future.set_result(result)
            finally:
                token.set_checkpoint(None)
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
