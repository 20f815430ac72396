"""Prompt lookup (speculative decoding with the prompt as the draft) against plain decoding, on
the prompts Hearth's actions build for real code nobody here wrote.

    .venv/bin/python tests/bench/bench_lookup.py [--split dev] [--limit 16] [--draft 4,8]
        [--generate-model NAME] [--explain-model NAME]

For each task of the quality corpus (tests/quality_corpus) two prompts are built as the
actions build them, without retrieved context: Generate on the stubbed function (its model,
one greedy sample) and Explain of the original function (its model, one greedy sample). Each
prompt is evaluated once, untimed; then the same greedy request is decoded with every draft
size, in an order that rotates per task, and only the decoding is timed (the prompt's cells are
reused, so each run evaluates just the last prompt chunk). Reported per action and draft size:
decoded tokens per second, the speed-up over plain decoding measured on the same prompts in
the same run, drafted and accepted tokens, and how many texts differ from plain decoding (they
should not: a drafted token is kept only where it is the model's own choice).

Results: .bench/bench_lookup.json and a Markdown table on stdout (docs/BENCHMARKS.md).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO / "server"), str(REPO)]

from hearth.core.actions.explain import ExplainAction  # noqa: E402
from hearth.core.actions.generate import GenerateAction  # noqa: E402
from hearth.core.models.backend import GenerationRequest  # noqa: E402
from hearth.core.models.llama_cpp import LlamaCppBackend  # noqa: E402
from hearth.core.models.manifest import load_manifest, model_file  # noqa: E402
from hearth.core.pipeline.engine import sampling_ladder  # noqa: E402
from hearth.core.pipeline.types import ActionRequest  # noqa: E402
from tests.bench.bench_corpus import cursor_in, select  # noqa: E402
from tests.bench.bench_quality import machine  # noqa: E402
from tests.bench.corpus_tasks import (  # noqa: E402
    load_projects,
    load_tasks,
    package_sources,
    stub_source,
    unpacked,
)

MAX_TOKENS = 384


def prompts_for(task: dict, sources: dict[str, str]) -> dict[str, GenerationRequest]:
    original = sources[task["path"]]
    stubbed = stub_source(original, task["qualname"])
    requests = {}
    for name, action, source in (("generate", GenerateAction(), stubbed),
                                 ("explain", ExplainAction(), original)):
        request = ActionRequest(source, cursor_in(stubbed, task["qualname"]),
                                path=Path(task["path"]))
        prompt = action.prompt(request, action.resolve(request), [], MAX_TOKENS)
        requests[name] = GenerationRequest(
            messages=prompt.messages, params=sampling_ladder(1, MAX_TOKENS),
            prefill=prompt.prefill, stop_when=prompt.stop_when)
    return requests


def decode_all(backend: LlamaCppBackend, request: GenerationRequest, drafts: list[int],
               rotation: int) -> dict[int, dict]:
    text, stops = backend.render_prompt(request)
    tokens = backend._llm.tokenize(text.encode("utf-8"), add_bos=False, special=True)
    decoder = backend._decoder
    decoder.set_threads(backend.threads.for_request())  # as generate() chooses them
    decoder.decode(tokens, request.params, [0], stops=stops, stop_when=request.stop_when,
                   draft=0)  # evaluates the prompt once; the timed runs reuse its cells
    order = drafts[rotation % len(drafts):] + drafts[:rotation % len(drafts)]
    runs = {}
    for draft in order:
        start = time.perf_counter()
        sample = decoder.decode(tokens, request.params, [0], stops=stops,
                                stop_when=request.stop_when, draft=draft)[0]
        runs[draft] = {"seconds": time.perf_counter() - start, "tokens": sample.tokens,
                       "drafted": sample.drafted, "accepted": sample.accepted,
                       "text": sample.text}
    return runs


def summarise(records: list[dict], drafts: list[int]) -> tuple[dict, str]:
    rows, lines = {}, []
    lines.append("| action | draft | tasks | tokens | tok/s | speed-up (median per task) | "
                 "drafted | accepted | texts differing from plain |")
    lines.append("|---|---|---|---|---|---|---|---|---|")
    for action in ("generate", "explain"):
        mine = [r for r in records if r["action"] == action]
        if not mine:
            continue
        for draft in drafts:
            runs = [r["runs"][str(draft)] for r in mine]
            plain = [r["runs"]["0"] for r in mine]
            tokens = sum(run["tokens"] for run in runs)
            seconds = sum(run["seconds"] for run in runs)
            speedups = [p["seconds"] / run["seconds"] for p, run in zip(plain, runs)
                        if run["seconds"] > 0]
            row = {"tasks": len(mine), "tokens": tokens, "tok_per_s": tokens / seconds,
                   "speedup_median": statistics.median(speedups),
                   "drafted": sum(run["drafted"] for run in runs),
                   "accepted": sum(run["accepted"] for run in runs),
                   "differ": sum(run["text"] != p["text"] for p, run in zip(plain, runs))}
            rows[f"{action} draft={draft}"] = row
            lines.append(f"| {action} | {draft} | {row['tasks']} | {tokens} | "
                         f"{row['tok_per_s']:.1f} | {row['speedup_median']:.2f}x | "
                         f"{row['drafted']} | {row['accepted']} | {row['differ']} |")
    return rows, "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--split", choices=("dev", "heldout", "all"), default="dev")
    parser.add_argument("--limit", type=int, default=16)
    parser.add_argument("--draft", default="4,8", help="comma-separated draft sizes (>0)")
    parser.add_argument("--generate-model", default=GenerateAction.default_model)
    parser.add_argument("--explain-model", default=load_manifest().default)
    parser.add_argument("--out", type=Path, default=REPO / ".bench" / "bench_lookup.json")
    args = parser.parse_args()
    try:
        drafts = [0] + [int(n) for n in args.draft.split(",")]
    except ValueError:
        parser.error(f"--draft takes comma-separated whole numbers, not {args.draft!r}")
    if min(drafts[1:], default=0) < 1:
        parser.error("--draft: every size must be at least 1")
    projects = load_projects()
    tasks = select(load_tasks(), args.split, None, args.limit)
    sources: dict[str, dict[str, str]] = {}
    requests = []
    for task in tasks:
        project = projects[task["project"]]
        if project.name not in sources:
            sources[project.name] = package_sources(project, unpacked(project))
        requests.append((task, prompts_for(task, sources[project.name])))
    records = []
    for action, model in (("generate", args.generate_model), ("explain", args.explain_model)):
        backend = LlamaCppBackend(model_file(load_manifest().get(model)), name=model)
        backend.load()
        try:
            for rotation, (task, prompts) in enumerate(requests):
                runs = decode_all(backend, prompts[action], drafts, rotation)
                records.append({"task_id": task["id"], "action": action, "model": model,
                                "runs": {str(d): run for d, run in runs.items()}})
                print(f"{action} {task['id']}: " + ", ".join(
                    f"draft {d} {run['tokens']} tok {run['seconds']:.2f} s "
                    f"({run['accepted']}/{run['drafted']})" for d, run in runs.items()),
                    file=sys.stderr, flush=True)
        finally:
            backend.close()
    rows, markdown = summarise(records, drafts[1:])
    report = {"command": " ".join([".venv/bin/python", "tests/bench/bench_lookup.py",
                                   *sys.argv[1:]]),
              "machine": machine(),
              "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "models": {"generate": args.generate_model, "explain": args.explain_model},
              "rows": rows, "records": records}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    print(markdown)


if __name__ == "__main__":
    main()
