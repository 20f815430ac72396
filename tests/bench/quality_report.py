"""Turn a bench_quality run into figures: pass@1, latency, tokens, AUROC, and the calibration
of scoring's weights on it (helper of bench_quality.py; also runs on a saved JSON file).

    .venv/bin/python tests/bench/quality_report.py .bench/bench_quality_qwen2.5-coder-0.5b.json \
        [.bench/bench_quality_qwen2.5-coder-1.5b.json]  # several: also a pooled calibration
"""

from __future__ import annotations

import ast
import json
import statistics
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "server"))

from hearth.core.pipeline.types import Candidate, Finding  # noqa: E402
from hearth.core.pipeline.rank import order  # noqa: E402
from hearth.core.pipeline.scoring import (  # noqa: E402
    RULES,
    Observation,
    auroc,
    calibrate,
    confidence_of,
    cross_validated_auroc,
)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    position = share * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _magnitudes(record: dict, weights: dict[str, float]) -> dict[str, float]:
    """How much of each non-fatal rule a recorded candidate triggered (penalty / weight)."""
    magnitudes: dict[str, float] = {}
    for f in record["findings"]:
        if f["fatal"] or f["rule"] not in RULES:
            continue
        weight = weights.get(f["rule"], 0.0)
        magnitudes[f["rule"]] = magnitudes.get(f["rule"], 0.0) + (
            f["penalty"] / weight if weight else 1.0)
    return magnitudes


def observations(report: dict) -> list[Observation]:
    """Every candidate of the multi-sample runs, as calibration data."""
    return [Observation(_magnitudes(candidate, report["weights"]), not candidate["usable"],
                        bool(candidate.get("passed")), group=run["task_id"])
            for run in report["runs"] for candidate in run["candidates"]]


def reselect(run: dict, recorded: dict[str, float], weights: dict[str, float],
             threshold: float) -> bool:
    """Whether the pipeline would have passed with other weights: the recorded candidates,
    rescored, ranked again by the same rule (rank.order) over the recorded behaviours."""
    candidates, keys = [], {}
    for record in run["candidates"]:
        candidate = Candidate(None, findings=[Finding(f["rule"], f["reason"], f["penalty"],
                                                      f["fatal"]) for f in record["findings"]])
        observation = Observation(_magnitudes(record, recorded), not record["usable"], False)
        candidate.confidence = confidence_of(observation, weights)
        candidates.append(candidate)
        if record["behaviour"] is not None:
            keys[record["index"]] = record["behaviour"]
    if not candidates:
        return bool(run["passed"])
    best = order(candidates, keys, threshold)[0]
    return bool(run["candidates"][candidates.index(best)].get("passed"))


def _doctests_only(behaviour: str) -> str:
    """A recorded behaviour key reduced to the docstring examples' outputs."""
    load_error, doctests, *_ = ast.literal_eval(behaviour)
    return repr((load_error, doctests))


def ablations(group: list[dict], threshold: float) -> dict[str, float]:
    """pass@1 of other choosing rules over the same recorded candidates: the confidence alone
    (no agreement), agreement on the docstring examples only, and the first (greedy) sample."""
    def passes(run: dict, keys_of) -> bool:  # noqa: ANN001 - a function of a record
        if not run["candidates"]:
            return bool(run["passed"])
        candidates, keys = [], {}
        for record in run["candidates"]:
            candidate = Candidate(None, findings=[Finding(f["rule"], f["reason"], f["penalty"],
                                                          f["fatal"]) for f in record["findings"]])
            candidate.confidence = record["confidence"]
            candidates.append(candidate)
            key = keys_of(record)
            if key is not None:
                keys[record["index"]] = key
        best = order(candidates, keys, threshold)[0]
        return bool(run["candidates"][candidates.index(best)].get("passed"))

    rules = {
        "confidence_only": lambda record: None,
        "agreement_on_doctests_only": lambda record: (
            _doctests_only(record["behaviour"]) if record["behaviour"] else None),
        "agreement_on_everything": lambda record: record["behaviour"],
    }
    result = {name: round(sum(passes(run, rule) for run in group) / len(group), 4)
              for name, rule in rules.items()}
    result["first_sample"] = round(sum(bool(run["candidates"][0].get("passed"))
                                       for run in group if run["candidates"]) / len(group), 4)
    return result


def summarise(report: dict) -> dict:
    runs = report["runs"]
    by_samples: dict[int, list[dict]] = {}
    for run in runs:
        by_samples.setdefault(run["samples"], []).append(run)
    greedy = by_samples.get(1, [])
    greedy_latency = statistics.median([r["elapsed_s"] for r in greedy]) if greedy else None
    rows = {}
    for samples, group in sorted(by_samples.items()):
        latencies = [r["elapsed_s"] for r in group]
        rows[samples] = {
            "problems": len(group),
            "pass_at_1": round(sum(bool(r["passed"]) for r in group) / len(group), 4),
            "any_candidate_passes": round(sum(
                any(c.get("passed") for c in r["candidates"]) or bool(r["passed"])
                for r in group) / len(group), 4),
            "median_latency_s": round(statistics.median(latencies), 2),
            "p95_latency_s": round(percentile(latencies, 0.95), 2),
            "latency_vs_greedy": (round(statistics.median(latencies) / greedy_latency, 2)
                                  if greedy_latency else None),
            "tokens": sum(r["tokens"] for r in group),
            "no_usable_answer": sum(1 for r in group if r["error"]),
        }
        if samples > 1:
            rows[samples]["ablations"] = ablations(group, report["threshold"])
    observed = observations(report)
    labels = [o.passed for o in observed]
    current = auroc([confidence_of(o, report["weights"]) for o in observed], labels)
    fitted = calibrate(observed) if observed else None
    held_out = cross_validated_auroc(observed) if observed else float("nan")
    recalibrated = {}
    if fitted is not None:
        for samples, group in sorted(by_samples.items()):
            if samples == 1:
                continue
            verdicts = [reselect(r, report["weights"], fitted.weights, fitted.threshold)
                        for r in group]
            recalibrated[samples] = round(sum(bool(v) for v in verdicts) / len(group), 4)
    summary = {
        "configs": rows,
        "candidates": len(observed),
        "candidates_passing": sum(labels),
        "auroc_recorded_weights": round(current, 4),
        "calibration": None if fitted is None else {
            "weights": {k: v for k, v in fitted.weights.items()},
            "threshold": fitted.threshold,
            "auroc_in_sample": round(fitted.auroc, 4),
            "auroc_cross_validated": round(held_out, 4),
            "support": fitted.support,
            "pass_at_1_with_calibrated_weights": recalibrated,
        },
    }
    summary["markdown"] = markdown(report, summary)
    return summary


def markdown(report: dict, summary: dict) -> str:
    done = len({run["task_id"] for run in report["runs"]})
    lines = [f"HumanEval, {done} of {report['problems']} problems run, model {report['model']}, "
             f"{report['threads']} threads; {report['machine']}; {report['date']}",
             f"Command: `{report['command']}`", "",
             "| config | pass@1 | any candidate passes | median latency | p95 latency | "
             "latency vs greedy | tokens decoded | no usable answer |",
             "|---|---|---|---|---|---|---|---|"]
    for samples, row in summary["configs"].items():
        name = "greedy, 1 sample (naive)" if int(samples) == 1 else f"pipeline, N={samples}"
        lines.append(f"| {name} | {row['pass_at_1']:.1%} | {row['any_candidate_passes']:.1%} | "
                     f"{row['median_latency_s']} s | {row['p95_latency_s']} s | "
                     f"{row['latency_vs_greedy']}x | {row['tokens']} | "
                     f"{row['no_usable_answer']} |")
    ablated = {samples: row["ablations"] for samples, row in summary["configs"].items()
               if "ablations" in row}
    for samples, row in ablated.items():
        shown = ", ".join(f"{name} {value:.1%}" for name, value in row.items())
        lines.append(f"\nOther choosing rules over the same N={samples} candidates (pass@1): "
                     f"{shown}.")
    lines += ["", f"Confidence vs passing the hidden tests, over all {summary['candidates']} "
                  f"candidates of the pipeline runs ({summary['candidates_passing']} pass): "
                  f"AUROC {summary['auroc_recorded_weights']} with the weights used in the run."]
    calibration = summary["calibration"]
    if calibration:
        lines += [f"Calibrated: AUROC {calibration['auroc_in_sample']} in sample, "
                  f"{calibration['auroc_cross_validated']} cross-validated (2 folds by "
                  f"problem); threshold {calibration['threshold']}; pass@1 with the calibrated "
                  f"weights {calibration['pass_at_1_with_calibrated_weights']}.",
                  "", "| rule | weight | candidates |", "|---|---|---|"]
        for rule, weight in calibration["weights"].items():
            lines.append(f"| {rule} | {weight} | {calibration['support'][rule]} |")
    return "\n".join(lines)


def pooled(reports: list[dict]) -> str:
    """The calibration fitted on the candidates of several runs together (other models)."""
    observed = [o for report in reports for o in observations(report)]
    fitted = calibrate(observed)
    held_out = cross_validated_auroc(observed)
    weights = ", ".join(f"{rule} {weight}" for rule, weight in fitted.weights.items()
                        if fitted.support[rule])
    return (f"Pooled over {len(reports)} runs, {len(observed)} candidates "
            f"({sum(o.passed for o in observed)} pass): AUROC {fitted.auroc:.4f} in sample, "
            f"{held_out:.4f} cross-validated; threshold {fitted.threshold}; weights of the "
            f"rules that fired: {weights}; support {fitted.support}")


def main() -> None:
    reports = []
    for name in sys.argv[1:]:
        path = Path(name)
        report = json.loads(path.read_text(encoding="utf-8"))
        report["summary"] = summarise(report)
        path.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
        print(report["summary"]["markdown"] + "\n")
        reports.append(report)
    if len(reports) > 1:
        print(pooled(reports))


if __name__ == "__main__":
    main()
