"""The decoding thread policy: a fixed count, or one chosen per request from the machine's load."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from hearth.core.models import threads
from hearth.core.models.threads import (
    IDLE_BELOW,
    MIN_HISTORY,
    RECENT_STEPS,
    StepWatch,
    ThreadPolicy,
    busy_cores,
)


def test_a_fixed_count_is_used_for_every_request_and_never_watched():
    policy = ThreadPolicy(fixed=3, cores=2, measure=lambda: pytest.fail("measured"))
    assert not policy.automatic
    assert policy.initial() == policy.for_request() == 3
    assert policy.watch(3) is None
    assert policy.describe() == "3"


def test_automatic_uses_every_core_only_while_the_rest_of_the_machine_is_idle():
    readings = iter([0.0, IDLE_BELOW - 0.01, IDLE_BELOW, 1.0, None])
    policy = ThreadPolicy(cores=2, measure=lambda: next(readings))
    assert policy.automatic and policy.initial() == 1
    # idle, nearly idle, at the threshold, one core busy, unknown (no /proc/stat)
    assert [policy.for_request() for _ in range(5)] == [2, 2, 1, 1, 1]
    assert policy.describe().startswith("auto (2 ")


def test_one_core_means_one_thread_without_measuring():
    policy = ThreadPolicy(cores=1, measure=lambda: pytest.fail("measured"))
    assert not policy.automatic
    assert policy.for_request() == 1 and policy.watch(1) is None


def test_only_a_request_that_can_give_up_a_thread_is_watched():
    policy = ThreadPolicy(cores=4, measure=lambda: 0.0)
    assert isinstance(policy.watch(4), StepWatch)
    assert policy.watch(3) is None


def test_the_watch_ignores_jitter_but_sees_a_sustained_slowdown():
    watch = StepWatch()
    # no judgement before there is a history to judge against
    assert not any(watch.slowed(5, 0.300) for _ in range(MIN_HISTORY))
    watch = StepWatch()
    assert not any(watch.slowed(5, 0.100) for _ in range(MIN_HISTORY))
    # spikes between normal steps are jitter, even several close together
    assert not any(watch.slowed(5, seconds)
                   for seconds in (0.100, 0.300, 0.105, 0.250, 0.100, 0.120, 0.300, 0.110))
    # fewer rows are faster, not a slowdown: each row count has its own baseline
    assert not any(watch.slowed(3, 0.060) for _ in range(2 * MIN_HISTORY))
    # three times slower, step after step: another process took a core
    flags = [watch.slowed(5, 0.300) for _ in range(RECENT_STEPS)]
    assert flags[-1] and not flags[0]


def test_a_core_taken_before_the_request_is_seen_against_earlier_requests():
    policy = ThreadPolicy(cores=2, measure=lambda: 0.0)
    calm = policy.watch(2)
    assert not any(calm.slowed(5, 0.100) for _ in range(20))
    # the next request is slow from its first step: on its own it would look normal
    alone = StepWatch()
    assert not any(alone.slowed(5, 0.300) for _ in range(20))
    busy = policy.watch(2)
    assert [busy.slowed(5, 0.300) for _ in range(RECENT_STEPS)][-1]
    # the 1-thread baseline is a separate record
    assert policy.watch(1) is None


def test_cpu_times_count_steal_as_busy_and_keep_to_the_affinity_set(tmp_path, monkeypatch):
    stat = tmp_path / "stat"
    stat.write_text(
        "cpu  300 0 0 300 0 0 0 0 0 0\n"
        "cpu0 100 0 0 100 0 0 0 0 0 0\n"
        # user nice system idle iowait irq softirq steal
        "cpu1 10 0 10 50 30 0 0 100 0 0\n"
        "cpu7 999 0 0 1 0 0 0 0 0 0\n"
        "intr 12345\n")
    monkeypatch.setattr(threads.os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    busy, total = threads._cpu_times(stat)
    assert (busy, total) == (100 + 10 + 10 + 100, 200 + 200)


def test_cpu_times_count_niced_work_as_idle(tmp_path, monkeypatch):
    """A background tuning at nice 19 (and SCHED_IDLE) yields its core to the decoder."""
    stat = tmp_path / "stat"
    # user nice system idle iowait irq softirq steal
    stat.write_text("cpu0 10 90 0 0 0 0 0 0 0 0\ncpu1 0 0 0 100 0 0 0 0 0 0\n")
    monkeypatch.setattr(threads.os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    assert threads._cpu_times(stat) == (10, 200)


def test_an_unreadable_proc_stat_means_unknown(tmp_path, monkeypatch):
    monkeypatch.setattr(threads, "PROC_STAT", tmp_path / "missing")
    assert threads._cpu_times(tmp_path / "missing") is None
    monkeypatch.setattr(threads, "_cpu_times", lambda: None)
    assert busy_cores(0.01) is None
    assert ThreadPolicy(cores=2).for_request() == 1


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/stat")
def test_a_process_spinning_on_a_core_reads_as_busy():
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.3)
        reading = busy_cores(0.5)
    finally:
        spinner.kill()
        spinner.wait()
    assert reading is not None and reading >= 0.8


@pytest.mark.parametrize("flags, expected", [([], "auto ("), (["--threads", "3"], "3")])
def test_doctor_reports_the_thread_policy(flags, expected):
    done = subprocess.run([sys.executable, "-m", "hearth", "doctor", "--no-load", "--json", *flags],
                          capture_output=True, text=True, timeout=120)
    report = json.loads(done.stdout)
    if expected == "auto (" and report["cpu"]["usable_cores"] == 1:
        expected = "1"
    assert report["cpu"]["threads"].startswith(expected)


def test_a_recent_choice_is_reused_only_when_the_request_allows_it(monkeypatch):
    readings = iter([0.0, 1.0, 1.0])
    policy = ThreadPolicy(cores=2, measure=lambda: next(readings))
    now = [100.0]
    monkeypatch.setattr(threads.time, "monotonic", lambda: now[0])
    assert policy.for_request() == 2  # measured: idle
    now[0] += 1.0
    assert policy.for_request(reuse_s=2.0) == 2  # not measured: the reading of 1 s ago stands
    assert policy.for_request() == 1  # no reuse asked: measured, busy
    now[0] += 2.5
    assert policy.for_request(reuse_s=2.0) == 1  # too old: measured again (busy)
    with pytest.raises(StopIteration):
        policy.for_request()  # every reading was taken: three measurements, not four
