"""A pytest plugin copied into the corpus judge's sandbox (helper of corpus_tasks.py): a time
limit per test, and every test's outcome printed as one marked JSON line at the end.

The verdict is read from that line, not from pytest's exit status or its summary: an answer
that ends the process early (``os._exit(0)``) or prints a fake summary never reaches it.
Standard library and pytest only.
"""

from __future__ import annotations

import json
import re
import signal

import pytest

PARAMETERS = re.compile(r"\[.*\]$")
_outcomes: dict[str, str] = {}
_collect_errors: list[str] = []


class TimeLimitExceeded(Exception):
    """A test ran past its time limit (an answer looping forever, say)."""


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--hearth-mark", default="", help="the prefix of the result line")
    parser.addoption("--hearth-test-timeout", type=int, default=10,
                     help="seconds per test, setup and teardown included")


def _on_alarm(signum, frame):  # noqa: ANN001 - a signal handler's fixed signature
    raise TimeLimitExceeded("the test ran past its time limit")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):  # noqa: ANN001 - pytest's hook signature
    seconds = item.config.getoption("--hearth-test-timeout")
    previous = signal.signal(signal.SIGALRM, _on_alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    # A node id as the corpus records it: parametrised cases count under their function, and
    # the function passes only if every case passes in every phase.
    node = PARAMETERS.sub("", report.nodeid)
    if report.failed:
        _outcomes[node] = "failed"
    elif report.when == "call" and report.passed:
        _outcomes.setdefault(node, "passed")
    elif report.skipped:
        _outcomes.setdefault(node, "skipped")


def pytest_collectreport(report: pytest.CollectReport) -> None:
    if report.failed:
        _collect_errors.append(report.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    mark = session.config.getoption("--hearth-mark")
    if mark:
        print("\n" + mark + json.dumps({"outcomes": _outcomes, "collect_errors": _collect_errors,
                                        "exitstatus": int(exitstatus)}), flush=True)
