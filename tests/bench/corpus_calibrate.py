"""Fit the confidence on the quality corpus's dev runs and report it on other runs (held out).

    .venv/bin/python tests/bench/corpus_calibrate.py --fit .bench/c_05_dev.json [...]
        --report .bench/c_05_heldout.json [...]

The weights of the non-fatal rules are fitted by ``scoring.calibrate`` (coordinate ascent on
AUROC, threshold by Youden's J) on every candidate of the ``--fit`` runs only. Each
``--report`` run is then scored twice, with the weights it ran with and with the fitted ones:
the AUROC over its candidates, and the share of all its answers that fail the hidden tests
yet are shown as confident (the chosen candidate at or above the threshold).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "server"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from quality_report import _magnitudes, observations  # noqa: E402

from hearth.core.pipeline.scoring import auroc, calibrate, confidence_of, Observation  # noqa: E402


def chosen_observation(run: dict, weights: dict[str, float]) -> Observation | None:
    """The chosen answer's candidate record, as calibration data (None: no answer)."""
    for candidate in run["candidates"]:
        if candidate["source"] == run["chosen"] and run["chosen"] is not None:
            return Observation(_magnitudes(candidate, weights), not candidate["usable"],
                               bool(run["passed"]), group=run["task_id"])
    return None


def figures(report: dict, weights: dict[str, float], threshold: float) -> dict[str, dict]:
    out = {}
    for samples in sorted({run["samples"] for run in report["runs"]}):
        runs = [run for run in report["runs"] if run["samples"] == samples]
        cands = observations({**report, "runs": runs})
        labels = [o.passed for o in cands]
        chosen = [chosen_observation(run, report["weights"]) for run in runs]
        confident_wrong = sum(1 for o in chosen if o is not None and not o.passed
                              and confidence_of(o, weights) >= threshold)
        confident = sum(1 for o in chosen if o is not None
                        and confidence_of(o, weights) >= threshold)
        out[f"N={samples}"] = {
            "tasks": len(runs),
            "pass_at_1": round(sum(bool(r["passed"]) for r in runs) / len(runs), 4),
            "auroc": round(auroc([confidence_of(o, weights) for o in cands], labels), 4),
            "confident_share": round(confident / len(runs), 4),
            "wrong_but_confident": round(confident_wrong / len(runs), 4),
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fit", nargs="+", type=Path, required=True)
    parser.add_argument("--report", nargs="*", type=Path, default=[])
    args = parser.parse_args()
    try:
        fits = [json.loads(path.read_text(encoding="utf-8")) for path in args.fit]
        reports = [(path, json.loads(path.read_text(encoding="utf-8")))
                   for path in args.report]
    except (OSError, ValueError) as error:
        parser.error(f"cannot read a report: {error}")
    if any(run["split"] != "dev" for report in fits for run in report["runs"]):
        parser.error("--fit takes dev runs only: the held-out part is never tuned on")
    observed = [o for report in fits for o in observations(report)]
    fitted = calibrate(observed)
    print(f"Fitted on {len(observed)} dev candidates ({sum(o.passed for o in observed)} pass):"
          f" AUROC {fitted.auroc:.4f} in sample, threshold {fitted.threshold}")
    print("weights: " + ", ".join(f"{name} {weight}" for name, weight in fitted.weights.items()
                                  if fitted.support.get(name)))
    print()
    print("| run | config | tasks | pass@1 | AUROC recorded -> fitted | confident | wrong but "
          "confident, recorded -> fitted |")
    print("|---|---|---|---|---|---|---|")
    for path, report in [(p, r) for p, r in zip(args.fit, fits)] + reports:
        before = figures(report, report["weights"], report["threshold"])
        after = figures(report, fitted.weights, fitted.threshold)
        for config, row in before.items():
            new = after[config]
            print(f"| {path.name} | {config} | {row['tasks']} | {row['pass_at_1']:.1%} | "
                  f"{row['auroc']} -> {new['auroc']} | {row['confident_share']:.1%} -> "
                  f"{new['confident_share']:.1%} | {row['wrong_but_confident']:.1%} -> "
                  f"{new['wrong_but_confident']:.1%} |")


if __name__ == "__main__":
    main()
