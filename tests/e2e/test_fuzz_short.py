"""A short seeded run of the LSP fuzzer (tests/fuzz) in the normal test run: no crash, hang,
unanswered request or stale edit. The long run is `python -m tests.fuzz.run` (docs/fuzzing.md).
"""

from __future__ import annotations

from tests.fuzz.fuzzer import run

SEQUENCES = 8
# Generous bounds on a shared machine: a hang is a request never answered, not a slow one.
ANSWER_BOUND_S = 60.0
EXIT_BOUND_S = 5.0


def test_a_short_seeded_fuzz_run_finds_nothing():
    report = run(seed=1, sequences=SEQUENCES, answer_bound_s=ANSWER_BOUND_S,
                 exit_bound_s=EXIT_BOUND_S)
    found = [(o.sequence, o.crashed, o.hung, o.unanswered, o.stale_edits, o.tracebacks)
             for o in report.failures]
    assert report.sequences == SEQUENCES
    assert report.requests > 0
    assert (report.crashes, report.hangs, report.unanswered, report.stale_edits,
            report.unhandled_exceptions) == (0, 0, 0, 0, 0), found
