"""What N samples cost in the in-process backend (not run by `make test`).

Sections (all on the default model, each configuration repeated, medians reported):
  ratios   one naive unconstrained answer (no prefill, no stop_when, 200-token cap, greedy)
           against a Generate request with N = 1, 5 (batched), 5 (one after another on one
           prompt evaluation), 8 and 9 samples, per thread count;
  steps    the time of one decode step (and of sampling its rows) against the batch size;
  threads  1, 2 and automatic threads, with the other core idle, kept busy, and turning
           busy 5 s into each request;
  tokens   tokens per sample with and without the prefill and stop_when, on HumanEval stubs,
           and how candidate token caps derived from the stub would have cut them.
Prints Markdown and writes .bench/sampling.json.

    .venv/bin/python tests/bench/bench_sampling.py [--sections ratios,steps,threads,tokens]
        [--repeats 3] [--threads 1,2] [--limit 20]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "server"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from hearth.core.pipeline.types import ActionRequest  # noqa: E402
from hearth.core.actions.generate import GenerateAction  # noqa: E402
from hearth.core.models.backend import GenerationRequest, SamplingParams  # noqa: E402
from hearth.core.models import llama_batch  # noqa: E402
from hearth.core.models.llama_batch import TextTail, _Sequence  # noqa: E402
from hearth.core.models.llama_cpp import LlamaCppBackend  # noqa: E402
from hearth.core.models.manifest import load_manifest, model_file  # noqa: E402
from hearth.core.pipeline.engine import sampling_ladder  # noqa: E402
from hearth.core.pipeline.prompt import Prompt  # noqa: E402
from hearth.core.text import Pos  # noqa: E402

OUT = REPO / ".bench" / "sampling.json"
NAIVE_TOKENS = 200
GENERATE_TOKENS = 384  # generation.maxTokens' default
STEP_SIZES = (1, 4, 5, 8, 16)
STEPS_PER_SIZE = 12

# A stub of typical size: a signature, a docstring with examples, a module around it.
STUB = '''"""Text utilities for a small blog engine."""

import re
import unicodedata


def strip_accents(text: str) -> str:
    """Return text with accents removed (é -> e)."""
    normalized = unicodedata.normalize("NFKD", text)
    return "".join(c for c in normalized if not unicodedata.combining(c))


def slugify(title: str, max_length: int = 60) -> str:
    """Turn a post title into a URL slug.

    Lower-case the title, drop accents, replace every run of characters that are not
    letters or digits by a single hyphen, strip hyphens at both ends, and cut the result
    to at most max_length characters without leaving a trailing hyphen.

    >>> slugify("Hello, World!")
    'hello-world'
    >>> slugify("  Crème brûlée: a recipe  ")
    'creme-brulee-a-recipe'
    """
    pass
'''


def load_average() -> float:
    return round(os.getloadavg()[0], 2)


def median(values: list[float]) -> float:
    return round(statistics.median(values), 3)


def generate_prompt(source: str, position: Pos, max_tokens: int) -> Prompt:
    action, request = GenerateAction(), ActionRequest(source, position)
    return action.prompt(request, action.resolve(request), [], max_tokens)


def stub_position(source: str) -> Pos:
    return Pos(source.splitlines().index("    pass"), 4)


def timed(backend: LlamaCppBackend, request: GenerationRequest, *,
          max_parallel: int | None = None) -> tuple[float, list[int]]:
    """Seconds for one request with its whole prompt evaluated, and tokens per sample."""
    backend._decoder.forget_prompt()
    backend.max_parallel = max_parallel
    start = time.perf_counter()
    completions = backend.generate(request)
    elapsed = time.perf_counter() - start
    backend.max_parallel = None
    return elapsed, [c.tokens for c in completions]


# -- ratios -----------------------------------------------------------------------------------

def ratio_configs(prompt: Prompt) -> dict[str, tuple[GenerationRequest, int | None]]:
    def generate(samples: int) -> GenerationRequest:
        return GenerationRequest(messages=prompt.messages,
                                 params=sampling_ladder(samples, GENERATE_TOKENS),
                                 prefill=prompt.prefill, stop_when=prompt.stop_when)

    naive = GenerationRequest(messages=prompt.messages, params=[
        SamplingParams(temperature=0.0, max_tokens=NAIVE_TOKENS)])
    return {"naive answer": (naive, None), "Generate N=1": (generate(1), None),
            "Generate N=5 batched": (generate(5), None),
            "Generate N=5 sequential": (generate(5), 1),
            "Generate N=8 batched": (generate(8), None),
            "Generate N=9 batched": (generate(9), None)}


def bench_ratios(path: Path, threads: int, repeats: int) -> dict:
    backend = LlamaCppBackend(path, n_threads=threads)
    backend.load()
    prompt = generate_prompt(STUB, stub_position(STUB), GENERATE_TOKENS)
    configs = ratio_configs(prompt)
    timed(backend, configs["Generate N=1"][0])  # warm-up: weights paged in, context made
    runs: dict[str, list[float]] = {name: [] for name in configs}
    tokens: dict[str, list[int]] = {}
    loads = [load_average()]
    for _ in range(repeats):
        for name, (request, max_parallel) in configs.items():
            elapsed, tokens[name] = timed(backend, request, max_parallel=max_parallel)
            runs[name].append(elapsed)
        loads.append(load_average())
    prompt_tokens = backend.count_tokens(backend.render_prompt(configs["naive answer"][0])[0])
    backend.close()
    naive = median(runs["naive answer"])
    rows = {name: {"median_s": median(values), "runs_s": [round(v, 2) for v in values],
                   "ratio": round(median(values) / naive, 2), "tokens": tokens[name]}
            for name, values in runs.items()}
    return {"threads": threads, "prompt_tokens": prompt_tokens, "load_average": loads,
            "rows": rows}


# -- steps ------------------------------------------------------------------------------------

def bench_steps(path: Path, threads: int) -> dict:
    """Decode-step and sampling time per batch size, on a prompt of the Generate request."""
    backend = LlamaCppBackend(path, n_threads=threads)
    backend.load()
    decoder = backend._decoder
    prompt = generate_prompt(STUB, stub_position(STUB), GENERATE_TOKENS)
    text, _ = backend.render_prompt(GenerationRequest(prompt.messages, prefill=prompt.prefill))
    tokens = backend._llm.tokenize(text.encode("utf-8"), add_bos=False, special=True)
    token = backend._llm.tokenize(b"    ", add_bos=False, special=False)[0]
    loads = [load_average()]
    prefill = {}
    chosen = llama_batch.PREFILL_CHUNK
    for chunk in (512, chosen, 512, chosen):  # alternated, so that load changes hit both
        llama_batch.PREFILL_CHUNK = chunk
        decoder.close()
        decoder._ensure_context(2, len(tokens) + 1)
        start = time.perf_counter()
        decoder._evaluate_prompt(tokens, None)
        prefill.setdefault(chunk, []).append(len(tokens) / (time.perf_counter() - start))
    llama_batch.PREFILL_CHUNK = chosen
    decoder.close()
    rows = {}
    for size in STEP_SIZES:
        decoder._ensure_context(size + 1, len(tokens) + size * (STEPS_PER_SIZE + 1))
        decoder.forget_prompt()
        decoder._evaluate_prompt(tokens, None)
        params = sampling_ladder(size, GENERATE_TOKENS)
        sequences = [_Sequence(1 + i, decoder._sampler(p, i),
                               TextTail(stops=(), stop_when=None, max_tokens=10 ** 6),
                               token=token) for i, p in enumerate(params)]
        memory = decoder._memory
        for sequence in sequences:
            decoder._llama_cpp.llama_memory_seq_cp(memory, 0, sequence.seq_id, -1, -1)
        steps, samples = [], []
        for step in range(STEPS_PER_SIZE):
            start = time.perf_counter()
            decoder._decode_step(sequences, len(tokens) + step)
            middle = time.perf_counter()
            for row, sequence in enumerate(sequences):
                sequence.sampler.sample(decoder._ctx, row)
            steps.append(middle - start)
            samples.append(time.perf_counter() - middle)
        for sequence in sequences:
            decoder._llama_cpp.llama_memory_seq_rm(memory, sequence.seq_id, -1, -1)
            sequence.sampler.close()
        step_ms = statistics.median(steps) * 1000
        rows[size] = {"step_ms": round(step_ms, 1),
                      "step_ms_per_sequence": round(step_ms / size, 1),
                      "sampling_ms": round(statistics.median(samples) * 1000, 1)}
        loads.append(load_average())
    backend.close()
    return {"threads": threads, "prompt_tokens": len(tokens), "load_average": loads,
            "rows": rows, "prefill_tokens_per_s": {
                chunk: round(statistics.median(rates)) for chunk, rates in prefill.items()}}


# -- threads ----------------------------------------------------------------------------------

def busy_core() -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", "while True: pass"])


THREAD_CONDITIONS = ("other core idle", "other core busy", "other core busy from 5 s in")
BUSY_FROM_S = 5.0  # after the prompt (about 2-4 s), while the samples decode


def bench_threads(path: Path, repeats: int) -> dict:
    """A naive answer and a 5-sample Generate with 1, 2 and automatic threads, with the other
    core idle, busy throughout, and turning busy in the middle of each request."""
    prompt = generate_prompt(STUB, stub_position(STUB), GENERATE_TOKENS)
    naive = ratio_configs(prompt)["naive answer"][0]
    five = ratio_configs(prompt)["Generate N=5 batched"][0]
    results = {}
    for threads in (1, 2, None):
        backend = LlamaCppBackend(path, n_threads=threads)
        backend.load()
        timed(backend, naive)
        label = f"{threads} thread(s)" if threads else "auto"
        for condition in THREAD_CONDITIONS:
            loads = [load_average()]
            naive_runs, five_runs, rates, used = [], [], [], []
            for _ in range(repeats):
                for request, runs in ((naive, naive_runs), (five, five_runs)):
                    spinner = busy_core() if condition == "other core busy" else None
                    timer = None
                    if condition.endswith("from 5 s in"):
                        spinners: list[subprocess.Popen] = []
                        timer = threading.Timer(BUSY_FROM_S, lambda: spinners.append(busy_core()))
                        timer.start()
                    try:
                        if spinner is not None:
                            time.sleep(0.5)
                        elapsed, tokens = timed(backend, request)
                    finally:
                        if timer is not None:
                            timer.cancel()
                            timer.join()
                        for process in ([spinner] if spinner else []) + (
                                spinners if timer is not None else []):
                            process.kill()
                            process.wait()
                    runs.append(elapsed)
                    used.append(backend.n_threads)
                    if request is naive:
                        rates.append(tokens[0] / elapsed)
                time.sleep(1.0)  # let the load settle before the next pair
            loads.append(load_average())
            results[f"{label}, {condition}"] = {
                "naive_answer_s": median(naive_runs), "answer_tokens_per_s": median(rates),
                "generate_n5_s": median(five_runs), "generate_n5_runs_s": five_runs,
                "threads_at_end": used, "load_average": loads}
        backend.close()
    return results


# -- tokens -----------------------------------------------------------------------------------

CAP_RULES: dict[str, Callable[[int], int]] = {
    "64 + header": lambda header: 64 + header,
    "96 + header": lambda header: 96 + header,
    "64 + 2 x header": lambda header: 64 + 2 * header,
    "128 + header": lambda header: 128 + header,
}


def header_tokens(backend: LlamaCppBackend, prompt: Prompt) -> int:
    """Tokens of the signature and docstring (the prefill without its opening fence)."""
    return backend.count_tokens(prompt.prefill.split("\n", 1)[1])


def bench_tokens(path: Path, limit: int, samples: int) -> dict:
    from bench_quality import problems, stub_of

    backend = LlamaCppBackend(path)
    backend.load()
    records = []
    loads = [load_average()]
    for problem in problems()[:limit]:
        source, position = stub_of(problem)
        prompt = generate_prompt(source, position, GENERATE_TOKENS)
        naive_request = GenerationRequest(messages=prompt.messages, params=[
            SamplingParams(temperature=0.0, max_tokens=GENERATE_TOKENS)])
        ladder = GenerationRequest(messages=prompt.messages,
                                   params=sampling_ladder(samples, GENERATE_TOKENS),
                                   prefill=prompt.prefill, stop_when=prompt.stop_when)
        naive_s, naive_tokens = timed(backend, naive_request)
        ladder_s = time.perf_counter()
        completions = backend.generate(ladder)
        ladder_s = time.perf_counter() - ladder_s
        records.append({
            "task_id": problem["task_id"], "header_tokens": header_tokens(backend, prompt),
            "naive_tokens": naive_tokens[0], "naive_s": round(naive_s, 2),
            "sample_tokens": [c.tokens for c in completions],
            "finish": [c.finish_reason for c in completions], "ladder_s": round(ladder_s, 2)})
        print(f"  {problem['task_id']}: naive {naive_tokens[0]} tokens, samples "
              f"{records[-1]['sample_tokens']} {records[-1]['finish']}", file=sys.stderr)
    loads.append(load_average())
    backend.close()
    natural = [(r["header_tokens"], t) for r in records
               for t, f in zip(r["sample_tokens"], r["finish"]) if f != "length"]
    runaway = sum(f == "length" for r in records for f in r["finish"])
    caps = {}
    for name, rule in CAP_RULES.items():
        cut_natural = sum(t > rule(h) for h, t in natural)
        spent = sum(min(t, rule(r["header_tokens"]), GENERATE_TOKENS) for r in records
                    for t in r["sample_tokens"])
        caps[name] = {"naturally_ended_samples_cut": cut_natural, "tokens_spent": spent,
                      "median_cap": statistics.median(
                          min(GENERATE_TOKENS, rule(r["header_tokens"])) for r in records)}
    all_samples = [t for r in records for t in r["sample_tokens"]]
    return {
        "problems": len(records), "samples_per_problem": samples, "load_average": loads,
        "naive_tokens_median": statistics.median(r["naive_tokens"] for r in records),
        "greedy_prefilled_tokens_median": statistics.median(
            r["sample_tokens"][0] for r in records),
        "sample_tokens_median": statistics.median(all_samples),
        "sample_tokens_total": sum(all_samples),
        "samples_hitting_the_cap": runaway, "samples": len(all_samples),
        "header_tokens_median": statistics.median(r["header_tokens"] for r in records),
        "caps": caps, "records": records}


# -- report -----------------------------------------------------------------------------------

def machine() -> dict:
    import llama_cpp

    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                if line.startswith("model name")), platform.processor())
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "llama_cpp_python": llama_cpp.__version__,
            "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}


def markdown(results: dict) -> str:
    out = [f"Machine: {results['machine']}", ""]
    for run in results.get("ratios", []):
        out += [f"### Ratios, {run['threads']} thread(s) (load {run['load_average']})", "",
                "| request | median s | runs s | / naive | tokens per sample |",
                "|---|---|---|---|---|"]
        out += [f"| {name} | {row['median_s']} | {row['runs_s']} | {row['ratio']} | "
                f"{row['tokens']} |" for name, row in run["rows"].items()]
        out.append("")
    for run in results.get("steps", []):
        out += [f"### Decode step vs batch size, {run['threads']} thread(s) "
                f"(load {run['load_average']})", "",
                "| sequences | step ms | ms per sequence | sampling ms (all rows) |",
                "|---|---|---|---|"]
        out += [f"| {size} | {row['step_ms']} | {row['step_ms_per_sequence']} | "
                f"{row['sampling_ms']} |" for size, row in run["rows"].items()]
        out += ["", f"Prompt evaluation ({run['prompt_tokens']} tokens), tokens/s by chunk "
                f"size: {run.get('prefill_tokens_per_s')}", ""]
    if "threads" in results:
        out += ["### Threads", "", "| configuration | naive answer s | its tokens/s (prompt "
                "included) | Generate N=5 s | threads at the end of each request | load |",
                "|---|---|---|---|---|---|"]
        out += [f"| {name} | {row['naive_answer_s']} | "
                f"{row.get('answer_tokens_per_s', row.get('tokens_per_s', 0)):.1f} | "
                f"{row['generate_n5_s']} | {row.get('threads_at_end', '')} | "
                f"{row['load_average']} |" for name, row in results["threads"].items()]
        out.append("")
    if "tokens" in results:
        tokens = results["tokens"]
        out += [f"### Tokens ({tokens['problems']} HumanEval stubs, {tokens['samples_per_problem']}"
                f" samples each, load {tokens['load_average']})", "",
                f"- naive answer (no prefill, no stop_when, cap {GENERATE_TOKENS}): median "
                f"{tokens['naive_tokens_median']} tokens",
                f"- greedy with prefill + stop_when: median "
                f"{tokens['greedy_prefilled_tokens_median']} tokens",
                f"- every sample of the ladder: median {tokens['sample_tokens_median']}, "
                f"{tokens['samples_hitting_the_cap']} of {tokens['samples']} hit the "
                f"{GENERATE_TOKENS}-token cap; header (signature + docstring) median "
                f"{tokens['header_tokens_median']} tokens", "",
                "| cap rule | naturally ended samples it would cut | tokens spent | median cap |",
                "|---|---|---|---|"]
        out += [f"| {name} | {row['naturally_ended_samples_cut']} | {row['tokens_spent']} | "
                f"{row['median_cap']} |" for name, row in tokens["caps"].items()]
        out += [f"| none ({GENERATE_TOKENS}) | 0 | {tokens['sample_tokens_total']} | "
                f"{GENERATE_TOKENS} |", ""]
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sections", default="ratios,steps,threads,tokens")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--limit", type=int, default=20, help="HumanEval stubs for `tokens`")
    parser.add_argument("--samples", type=int, default=5, help="samples per stub for `tokens`")
    args = parser.parse_args()
    path = model_file(load_manifest().get(None))
    sections = args.sections.split(",")
    thread_counts = [int(t) for t in args.threads.split(",")]
    results: dict = {"machine": machine(), "command": " ".join(sys.argv)}
    if OUT.is_file():  # keep sections measured by earlier partial runs
        results = {**json.loads(OUT.read_text()), **results}
    runs: dict[str, Callable[[], object]] = {
        "ratios": lambda: [bench_ratios(path, t, args.repeats) for t in thread_counts],
        "steps": lambda: [bench_steps(path, t) for t in thread_counts],
        "threads": lambda: bench_threads(path, args.repeats),
        "tokens": lambda: bench_tokens(path, args.limit, args.samples)}
    OUT.parent.mkdir(exist_ok=True)
    for section in sections:
        results[section] = runs[section]()
        OUT.write_text(json.dumps(results, indent=1))  # a long run keeps what it measured
        print(f"{section}: done", file=sys.stderr)
    print(markdown(results))


if __name__ == "__main__":
    main()
