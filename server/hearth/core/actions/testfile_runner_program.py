"""The program Generate tests runs in the sandbox: pytest on the new test file, each test's outcome
sent through the sandbox's private channel as it happens (a run cut short by the timeout still
tells what finished; what a test prints cannot pass for a record). Standard library only, besides
the pytest it runs; copied into the sandbox as a file.

Usage: python <this file> TEST_FILE SOURCE_ROOT (paths relative to this file's folder).
"""

import os
import sys

import _hearth_sandbox


def reason(report):
    crash = getattr(report.longrepr, "reprcrash", None)
    if crash is not None:
        return crash.message.splitlines()[0] if crash.message else "failed"
    if isinstance(report.longrepr, tuple):
        return "skipped: " + str(report.longrepr[2])
    text = str(report.longrepr)
    errors = [line[1:].strip() for line in text.splitlines() if line.startswith("E ")]
    return errors[-1] if errors else (text.strip().splitlines() or ["failed"])[-1]


class Reporter:
    def __init__(self, send):
        self.send = send

    def emit(self, **record):
        self.send(record)

    def pytest_runtest_logreport(self, report):
        if report.passed and report.when != "call":
            return
        why = "" if report.passed else reason(report)
        if hasattr(report, "wasxfail"):
            why = "marked as an expected failure"
        self.emit(test=report.nodeid, outcome=report.outcome, reason=why)

    def pytest_collectreport(self, report):
        if report.failed:
            self.emit(test=report.nodeid, outcome="error", reason=reason(report))


def main(test_rel, source_rel):
    send = _hearth_sandbox.open_channel()  # before any test code is imported
    os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), source_rel))
    import pytest  # only now: the environment and sys.path above must be in place first

    reporter = Reporter(send)
    return pytest.main(["-q", "-p", "no:cacheprovider", test_rel], plugins=[reporter])


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
