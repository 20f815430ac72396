"""The long fuzz run: ``python -m tests.fuzz.run --sequences 10000 --seed 1`` (`make fuzz`).

Prints one line per sequence that found something, then the counts as JSON; exits 1 when any
count is not 0. ``--minutes`` stops starting new sequences once that much time has passed.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from tests.fuzz.fuzzer import ANSWER_BOUND_S, EXIT_BOUND_S, Outcome, run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fuzz.run", description=__doc__)
    parser.add_argument("--sequences", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--jobs", type=int, default=1, help="server processes at once")
    parser.add_argument("--minutes", type=float, default=None, help="time budget")
    parser.add_argument("--answer-bound", type=float, default=ANSWER_BOUND_S,
                        help="seconds a request may go unanswered before it is a hang")
    parser.add_argument("--exit-bound", type=float, default=EXIT_BOUND_S,
                        help="seconds the process may live on after exit before it is a hang")
    parser.add_argument("--verbose", action="store_true", help="a line for every sequence")
    args = parser.parse_args(argv)
    if args.sequences < 1 or args.jobs < 1:
        parser.error("--sequences and --jobs must be at least 1")

    started = time.monotonic()

    def show(outcome: Outcome) -> None:
        if outcome.clean and not args.verbose:
            return
        found = {key: value for key, value in (
            ("crashed", outcome.crashed), ("hung", outcome.hung),
            ("unanswered", outcome.unanswered), ("stale_edits", outcome.stale_edits),
            ("tracebacks", outcome.tracebacks)) if value}
        print(f"[{time.monotonic() - started:7.1f} s] sequence {outcome.sequence} "
              f"(seed {outcome.seed}): {found or 'clean'}; steps {' '.join(outcome.steps)}",
              flush=True)
        if outcome.first_traceback:  # the run's stderr files are gone when it ends
            print("    " + outcome.first_traceback.replace("\n", "\n    "), flush=True)

    report = run(args.seed, args.sequences, jobs=args.jobs,
                 budget_s=args.minutes * 60 if args.minutes else None,
                 answer_bound_s=args.answer_bound, exit_bound_s=args.exit_bound,
                 on_outcome=show)
    summary = report.summary()
    print(json.dumps(summary, indent=2))
    bad = ("crashes", "hangs", "unanswered_requests", "stale_edits", "unhandled_exceptions")
    return 1 if any(summary[key] for key in bad) else 0


if __name__ == "__main__":
    sys.exit(main())
