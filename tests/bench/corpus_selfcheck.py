"""What the self-check (``generation.selfCheck``, pipeline/review.py) tells apart, on quality
corpus runs made with ``bench_corpus.py --self-check`` (each candidate's P(yes) recorded).

    .venv/bin/python tests/bench/corpus_selfcheck.py .bench/RUN.json [--cutoff C --weight W]

For the chosen answers (one per task) it prints the AUROC of the confidence without the
self-check, of P(yes) alone, and of the confidence with a ``self-doubt`` of weight W for
P(yes) below C, for a grid of (C, W) or the one given; with each, the share of all answers that
fail the hidden tests yet are shown as confident, and of right answers shown as not confident.
Fit the cutoff and weight on dev runs; report the chosen pair once on held-out runs.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from statistics import median

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "server"))

from hearth.core.pipeline.scoring import THRESHOLD, auroc  # noqa: E402


def chosen(run: dict) -> dict | None:
    for candidate in run["candidates"]:
        if run["chosen"] is not None and candidate["source"] == run["chosen"]:
            return candidate
    return None


def base_confidence(candidate: dict) -> float:
    """The candidate's confidence without any self-doubt finding."""
    if not candidate["usable"]:
        return 0.0
    penalties = sum(f["penalty"] for f in candidate["findings"] if f["rule"] != "self-doubt")
    return max(0.0, 1.0 - penalties)


def rows(runs: list[dict]) -> list[tuple[float, float | None, bool]]:
    """(confidence without the self-check, P(yes), passed) per task; a task without an answer
    counts as a wrong answer shown at confidence 0."""
    out = []
    for run in runs:
        candidate = chosen(run)
        if candidate is None:
            out.append((0.0, None, bool(run["passed"])))
        else:
            out.append((base_confidence(candidate), candidate.get("self_check"),
                        bool(run["passed"])))
    return out


def judged(scores: list[float], labels: list[bool], threshold: float) -> dict:
    n = len(labels)
    return {"auroc": round(auroc(scores, labels), 3),
            "wrong_confident": round(sum(1 for s, y in zip(scores, labels)
                                         if not y and s >= threshold) / n, 3),
            "right_doubted": round(sum(1 for s, y in zip(scores, labels)
                                       if y and s < threshold) / n, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", type=Path, nargs="+")
    parser.add_argument("--cutoff", type=float, default=None)
    parser.add_argument("--weight", type=float, default=None)
    args = parser.parse_args()
    runs = [run for path in args.runs for run in json.loads(path.read_text())["runs"]]
    data = rows(runs)
    labels = [passed for _, _, passed in data]
    base = [conf for conf, _, _ in data]
    yes = [p if p is not None else 0.0 for _, p, _ in data]
    seconds = [run.get("self_check_s", 0.0) for run in runs]
    print(f"{len(runs)} tasks, {sum(labels)} pass; self-check time per task median "
          f"{median(seconds):.2f} s, max {max(seconds):.2f} s; elapsed median "
          f"{median(run['elapsed_s'] for run in runs):.1f} s")
    print("P(yes) of passing answers:",
          sorted(round(p, 2) for p, y in zip(yes, labels) if y))
    print("P(yes) of failing answers:",
          sorted(round(p, 2) for p, y in zip(yes, labels) if not y))
    print("without the self-check:", judged(base, labels, THRESHOLD))
    print("P(yes) alone (AUROC):", round(auroc(yes, labels), 3))
    grid = ([(args.cutoff, args.weight)] if args.cutoff is not None and args.weight is not None
            else [(c / 20, w) for c in range(4, 20) for w in (0.15, 0.3, 0.5)])
    for cutoff, weight in grid:
        scores = [max(0.0, conf - weight) if p is not None and p < cutoff else conf
                  for conf, p, _ in data]
        print(f"self-doubt below {cutoff:.2f}, weight {weight}:",
              judged(scores, labels, THRESHOLD))


if __name__ == "__main__":
    main()
