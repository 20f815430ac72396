"""How many threads llama.cpp decodes with: a number the user fixed, or chosen per request.

Measured on the 2-core reference machine (docs/BENCHMARKS.md, "Threads", one run): a Generate
with 5 samples took 33.9 s with 2 threads and 52.4 s with 1 while the other core was idle, but
82.1 s with 2 threads and 56.3 s with 1 while another process kept a core busy. llama.cpp's
threads wait for each other at every layer, so one descheduled thread stalls them all; one
thread fewer than the cores is steady, every core is fastest only on an idle machine.

So the automatic choice (``model.threads`` unset) looks before each request: every core if the
rest of the machine has been idle for the last moment, one fewer otherwise; and during the
request it watches the decode steps, dropping a thread if they slow down sharply (a build or a
test run started meanwhile). Linux only (``/proc/stat``); elsewhere it keeps one core free.
"""

from __future__ import annotations

import logging
import os
import statistics
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

# Other work, in cores, below which a request may use every core. A process spinning on one
# core reads as about 1.0; an idle desktop as 0.0-0.1.
IDLE_BELOW = 0.3
# How long the machine is looked at before a request (adds this much to its latency).
SAMPLE_S = 0.15
# Decode steps this much slower than usual with as many rows (the median of the latest few
# against the median of the history) mean something else took a core: the request drops to
# one thread fewer.
SLOWDOWN = 2.0
RECENT_STEPS = 5
MIN_HISTORY = 8
HISTORY_STEPS = 64

PROC_STAT = Path("/proc/stat")


def usable_cores() -> int:
    """The CPUs this process may run on (its affinity set, which a container may narrow)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def default_threads() -> int:
    """The steady choice: every core but one, never fewer than one."""
    return max(1, usable_cores() - 1)


def _cpu_times(path: Path = PROC_STAT) -> tuple[float, float] | None:
    """(busy, total) jiffies summed over the CPUs in this process's affinity set."""
    try:
        text = path.read_text()
    except OSError:
        return None
    allowed = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    busy = total = 0.0
    for line in text.splitlines():
        name, _, rest = line.partition(" ")
        if not name.startswith("cpu") or name == "cpu":
            continue
        try:
            cpu = int(name[3:])
            # user nice system idle iowait irq softirq steal: steal counts as busy (the
            # hypervisor gave the core to someone else); guest time is already in user.
            # Niced time counts as idle: work at low priority (the embedder's background
            # tuning runs at SCHED_IDLE and nice 19) gives its core up to the decoder, so
            # counting it would cost every request a thread for nothing.
            fields = [float(value) for value in rest.split()[:8]]
        except ValueError:
            continue
        if allowed is not None and cpu not in allowed:
            continue
        idle = fields[1] + fields[3] + (fields[4] if len(fields) > 4 else 0.0)
        total += sum(fields)
        busy += sum(fields) - idle
    return (busy, total) if total > 0 else None


def busy_cores(interval: float = SAMPLE_S, cores: int | None = None) -> float | None:
    """Cores the machine kept busy over the next ``interval`` seconds; None if unknown."""
    first = _cpu_times()
    if first is None:
        return None
    time.sleep(interval)
    second = _cpu_times()
    if second is None or second[1] <= first[1]:
        return None
    return (second[0] - first[0]) / (second[1] - first[1]) * (cores or usable_cores())


@dataclass
class StepWatch:
    """Notices decode steps slowing down within one request.

    A step's time depends mostly on the rows in its batch (the weights are read once per step;
    attention over a few thousand cells adds little), so each row count has a baseline: the
    median of its latest steps, over this request and the earlier ones with the same threads
    (``history``, shared). The median of this request's last few steps is compared with it.
    Medians, because single steps jitter: on the reference machine (a VM whose host steals
    some time) idle 1-row steps took 44 ms at best, 57-61 ms at the median, p90 66-78 ms, with
    lone spikes to 300 ms; with a core taken they take about three times the median.
    Earlier requests matter: a core taken just before the samples start would otherwise set a
    slow baseline.
    """

    history: dict[int, deque[float]] = field(default_factory=dict)
    fewer_threads: int = 1  # what the request drops to when the steps slow down
    slowdown: float = SLOWDOWN
    _recent: dict[int, list[float]] = field(default_factory=dict)

    def slowed(self, rows: int, seconds: float) -> bool:
        history = self.history.setdefault(rows, deque(maxlen=HISTORY_STEPS))
        baseline = statistics.median(history) if len(history) >= MIN_HISTORY else None
        history.append(seconds)
        recent = self._recent.setdefault(rows, [])
        recent.append(seconds)
        del recent[:-RECENT_STEPS]
        return (baseline is not None and len(recent) == RECENT_STEPS
                and statistics.median(recent) > self.slowdown * baseline)


@dataclass
class ThreadPolicy:
    """``fixed`` threads if the user set them, else chosen by :meth:`for_request`."""

    fixed: int | None = None
    cores: int = field(default_factory=usable_cores)
    measure: Callable[[], float | None] | None = None
    # threads -> rows -> the latest decode step times, kept across requests
    _history: dict[int, dict[int, deque[float]]] = field(default_factory=dict)
    # The latest measured choice: (time.monotonic() when taken, threads)
    _last: tuple[float, int] | None = None

    @property
    def automatic(self) -> bool:
        return self.fixed is None and self.cores > 1

    def describe(self) -> str:
        if self.fixed is not None:
            return str(self.fixed)
        if self.cores == 1:
            return "1"
        return f"auto ({self.cores} if the other work uses under {IDLE_BELOW} cores, else " \
               f"{self.cores - 1})"

    def initial(self) -> int:
        """Threads to load the model with."""
        return self.fixed if self.fixed is not None else default_threads()

    def for_request(self, reuse_s: float = 0.0) -> int:
        """Threads for the next request: the machine is looked at for `SAMPLE_S`, unless a
        choice measured less than ``reuse_s`` seconds ago can stand (inline completion: a
        request per pause in typing, each waiting for the last, and 150 ms is a good share
        of what the user waits for)."""
        if not self.automatic:
            return self.initial()
        now = time.monotonic()
        if self._last is not None and now - self._last[0] < reuse_s:
            return self._last[1]
        other = (self.measure or (lambda: busy_cores(cores=self.cores)))()
        if other is None:
            return default_threads()
        threads = self.cores if other < IDLE_BELOW else self.cores - 1
        self._last = (time.monotonic(), threads)
        log.debug("Other work %.2f cores: decoding with %d threads", other, threads)
        return threads

    def watch(self, threads: int) -> StepWatch | None:
        """A watch for a request decoding with ``threads``, if it can still give one up."""
        if self.automatic and threads > self.cores - 1:
            return StepWatch(self._history.setdefault(threads, {}), fewer_threads=threads - 1)
        return None
