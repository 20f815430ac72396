"""Tune the retrieval embedder while the language server works, so that nobody waits for it:
a child process at the lowest priority (core/memory/tuner_process.py), at most one per machine
(the tuning lock), never under CI or tests unless asked, stopped by its owner when it ends.

The owner (the language server's memory feature) decides when to start it and what to do
when the tuned model is ready: switch its indexes to it (WorkspaceIndex.stage_model, adopt).
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from hearth.core.errors import HearthError
from hearth.core.memory.embed import loads_at_once, resolve_model
from hearth.core.memory.tune_lock import TuneLock, tune_lock_path
from hearth.core.models.threads import usable_cores

log = logging.getLogger(__name__)

TUNE_ENV = "HEARTH_TUNE_IN_BACKGROUND"
"""``1`` tunes in the background even under CI or tests; ``0`` never does."""
LOG_FILE = "tune-embedder.log"  # in the cache folder: the last background tunings' output
_LOG_LIMIT_BYTES = 1_000_000
_YES = frozenset({"1", "true", "yes", "on"})
_NO = frozenset({"0", "false", "no", "off"})
WAIT_POLL_S = 5.0  # how often to look whether another process's tuning has ended


def tuning_refusal(enabled: bool, choice: str,
                   env: Mapping[str, str] | None = None) -> str | None:
    """Why the embedder is not to be tuned in the background here, or None.

    ``enabled`` is the ``index.tuneInBackground`` setting, ``choice`` the
    ``index.embeddingModel`` one (only "auto" ever switches to the tuned model by itself).
    Under CI (``CI=true``) or pytest (``PYTEST_CURRENT_TEST``, which a server started by a test
    inherits) nothing starts unless ``HEARTH_TUNE_IN_BACKGROUND=1`` asks for it."""
    env = os.environ if env is None else env
    asked = env.get(TUNE_ENV, "").strip().lower()
    if asked in _NO:
        return f"{TUNE_ENV}={asked}"
    if not enabled:
        return "index.tuneInBackground is off"
    if choice != "auto":
        return f'index.embeddingModel is "{choice}"'
    if asked in _YES:
        return None
    if env.get("CI", "").strip().lower() in _YES:
        return "CI is set"
    if env.get("PYTEST_CURRENT_TEST"):
        return "running under tests"
    return None


def tuned_model_ready(cache_base: Path, backend: str = "onnx") -> bool:
    """Whether the code-tuned model is made and loads at once (its export is there)."""
    try:
        model = resolve_model("auto", cache_base)
    except HearthError:
        return False
    return model.tuned and loads_at_once(model, backend, cache_base)


def tuner_command(cache_base: Path, threads: int | None = None) -> list[str]:
    """The child process: this Python, one core fewer than the machine has (so that a core
    stays with the editor and the model whatever the scheduler does), ending with us."""
    threads = threads or max(1, usable_cores() - 1)
    return [sys.executable, "-m", "hearth.core.memory.tuner_process", "--cache", str(cache_base),
            "--parent", str(os.getpid()), "--threads", str(threads)]


@dataclass(frozen=True)
class TuneOutcome:
    """How a background tuning ended."""

    code: int | None  # the child's exit code; None when another process's tuning was awaited
    ready: bool  # the tuned model is made and loads at once
    log_path: Path


class BackgroundTuner:
    """One background tuning at a time, for one owner.

    ``start`` launches the child process, or, when another process holds the machine's
    tuning lock (another editor's server, `make embedder`), waits for that one instead.
    ``on_done(outcome)`` is called once per start, from a thread of this object's, unless
    ``stop`` came first. ``stop`` kills the child (its lock goes with it; its model, written
    atomically, is either whole or absent) and nothing is reported after it."""

    def __init__(self, cache_base: Path, on_done: Callable[[TuneOutcome], None], *,
                 command: Sequence[str] | None = None, backend: str = "onnx",
                 wait_poll_s: float = WAIT_POLL_S) -> None:
        self.cache_base = cache_base
        self.on_done = on_done
        self.command = list(command) if command is not None else tuner_command(cache_base)
        self.backend = backend
        self.log_path = cache_base / LOG_FILE
        self.wait_poll_s = wait_poll_s
        self._process: subprocess.Popen | None = None
        self._thread: threading.Thread | None = None
        self._stopped = threading.Event()
        self._lock = threading.Lock()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def pid(self) -> int | None:
        process = self._process
        return process.pid if process is not None and process.poll() is None else None

    def start(self) -> str:
        """``"started"`` (a child process tunes), ``"waiting"`` (for another process's
        tuning), ``"running"`` (already one of the two), ``"ready"`` (nothing to do) or
        ``"stopped"``."""
        with self._lock:
            if self._stopped.is_set():
                return "stopped"
            if self.running:
                return "running"
            if tuned_model_ready(self.cache_base, self.backend):
                return "ready"
            if TuneLock(tune_lock_path(self.cache_base)).busy():
                self._thread = threading.Thread(target=self._wait_for_other,
                                                name="hearth-tune-wait", daemon=True)
                self._thread.start()
                return "waiting"
            self._process = self._spawn()
            self._thread = threading.Thread(target=self._wait_for_child, args=(self._process,),
                                            name="hearth-tune-wait", daemon=True)
            self._thread.start()
            return "started"

    def stop(self) -> None:
        """Kill the tuning and report nothing more; callable from any thread, repeatedly."""
        self._stopped.set()
        with self._lock:
            process = self._process
        if process is not None and process.poll() is None:
            process.kill()

    def _spawn(self) -> subprocess.Popen:
        self.cache_base.mkdir(parents=True, exist_ok=True)
        try:
            if self.log_path.stat().st_size > _LOG_LIMIT_BYTES:
                self.log_path.unlink()
        except OSError:
            pass
        with self.log_path.open("ab") as output:  # the child keeps its own copy
            return subprocess.Popen(
                self.command, stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT,
                close_fds=True, creationflags=getattr(subprocess, "IDLE_PRIORITY_CLASS", 0))

    def _wait_for_child(self, process: subprocess.Popen) -> None:
        code = process.wait()
        log.info("The background tuning (pid %d) ended with code %d", process.pid, code)
        self._finish(code)

    def _wait_for_other(self) -> None:
        lock = TuneLock(tune_lock_path(self.cache_base))
        while not self._stopped.wait(self.wait_poll_s):
            if not lock.busy():
                break
        self._finish(None)

    def _finish(self, code: int | None) -> None:
        if self._stopped.is_set():
            return
        self.on_done(TuneOutcome(code, tuned_model_ready(self.cache_base, self.backend),
                                 self.log_path))
