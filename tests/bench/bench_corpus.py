"""Generate on real code nobody here wrote: the tasks of tests/quality_corpus (functions of
pinned PyPI projects, judged by the projects' own tests), through the Session a user gets.

    .venv/bin/python tests/bench/bench_corpus.py [--split dev|heldout|all] [--samples 1,5]
        [--model NAME] [--limit K] [--tasks ID,ID] [--out FILE]

For each project the workspace is its package source tree (tests left out), indexed once and
kept current file by file. For each task the target function's body is removed (signature and
docstring kept: a stub to Hearth), that file is written, re-indexed and laid over the index,
and Generate runs at the cursor inside the function with the workspace context, the default
settings' validators and ranker, and only the sample count changed. The ranker is wrapped to
see every candidate. After Hearth has chosen, the chosen answer and every candidate are spliced
into a copy of the whole project and judged by the task's pytest node ids in the sandbox.
A prompt that holds a distinctive line of the hidden body counts as a leak.

Results: .bench/bench_corpus_<model>_<split>.json (rewritten after every task) and a Markdown
summary on stdout. Tune only on the dev split; report both (tests/quality_corpus/README.md).
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import logging
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "server"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_quality import Recorder, machine  # noqa: E402
from corpus_tasks import (  # noqa: E402
    CorpusError,
    Project,
    answer_module,
    body_text,
    load_projects,
    load_tasks,
    package_sources,
    run_tests,
    stub_source,
    unpacked,
)
from quality_report import summarise  # noqa: E402

from hearth.core.cancel import CancelToken  # noqa: E402
from hearth.core.errors import HearthError  # noqa: E402
from hearth.core.memory import WorkspaceIndex  # noqa: E402
from hearth.core.models.backend import (  # noqa: E402
    ChatMessage,
    Completion,
    GenerationRequest,
    ModelBackend,
    SamplingParams,
)
from hearth.core.models.llama_cpp import LlamaCppBackend  # noqa: E402
from hearth.core.models.manifest import load_manifest, model_file  # noqa: E402
from hearth.core.pipeline.scoring import RULES, THRESHOLD  # noqa: E402
from hearth.core.session import Session  # noqa: E402
from hearth.core.text import Pos  # noqa: E402
from hearth.settings import GenerationSettings, HistorySettings, Settings  # noqa: E402

log = logging.getLogger("bench_corpus")
WORKSPACES = REPO / ".bench" / "corpus_workspaces"
DISTINCTIVE_CHARS = 16  # shorter body lines (`return result`, `else:`) prove nothing


@dataclass
class PromptRecorder:
    """The benchmark's backend, passing everything through and keeping each prompt's text,
    so that what reached the model can be searched for the hidden body."""

    inner: ModelBackend
    prompts: list[str] = field(default_factory=list)
    review_s: float = 0.0  # spent on the self-check's questions since the last reset

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def loaded(self) -> bool:
        return self.inner.loaded

    def load(self, cancel: CancelToken | None = None) -> None:
        self.inner.load(cancel)

    def generate(self, request: GenerationRequest, cancel: CancelToken | None = None,
                 on_token=None) -> list[Completion]:
        self.prompts.append("\n".join(m.content for m in request.messages)
                            + "\n" + request.prefill)
        return self.inner.generate(request, cancel=cancel, on_token=on_token)

    def choice_probabilities(self, request: GenerationRequest, choices, cancel=None):
        # Not kept for the leak check: the question repeats the prompt kept already, then the
        # model's own answer, which is no leak of the hidden body even when it matches it.
        start = time.perf_counter()
        try:
            return self.inner.choice_probabilities(request, choices, cancel)
        finally:
            self.review_s += time.perf_counter() - start

    def info(self) -> dict[str, object]:
        return self.inner.info()

    def close(self) -> None:
        """The benchmark closes the real backend once, after every project."""


class ProjectWorkspace:
    """One project's package source tree as a user's workspace, with its Session and index.

    The files on disk and in the index are the originals, except the one file of the task
    being run, which holds the stub while it runs (``stubbed``)."""

    def __init__(self, project: Project, backend: PromptRecorder, settings: Settings) -> None:
        self.project = project
        self.source_root = unpacked(project)
        self.sources = package_sources(project, self.source_root)
        self.root = WORKSPACES / project.root
        self._sync()
        self.session = Session(settings, self.root, backend=backend)
        self.index: WorkspaceIndex = self.session.open_index(self.root)
        started = time.perf_counter()
        stats = self.index.build()
        log.info("%s: indexed %d files, %d chunks (%d embedded) in %.1f s", project.name,
                 stats.files, stats.chunks, stats.embedded, time.perf_counter() - started)

    def _sync(self) -> None:
        """Lay the package's sources down as they are in the sdist (a run cut short may have
        left a stub behind), without touching unchanged files, and nothing else."""
        wanted = {self.root / relative: text for relative, text in self.sources.items()}
        for path in self.root.rglob("*") if self.root.is_dir() else []:
            if path.is_file() and path not in wanted:
                path.unlink()
        for path, text in wanted.items():
            if not path.is_file() or path.read_text(encoding="utf-8") != text:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text, encoding="utf-8")

    def write(self, relative: str, text: str) -> Path:
        path = self.root / relative
        path.write_text(text, encoding="utf-8")
        self.index.update_file(path)
        return path

    def known_lines(self, relative: str, stubbed: str) -> set[str]:
        """Every stripped line of the workspace as the task shows it (the stub in place)."""
        lines = set()
        for name, text in self.sources.items():
            lines.update(line.strip() for line in (stubbed if name == relative else text)
                         .splitlines())
        return lines

    def close(self) -> None:
        self.session.close()


def distinctive_lines(hidden: str, known: set[str]) -> list[str]:
    """The hidden body's lines that nothing the workspace shows contains."""
    return [line for line in dict.fromkeys(s.strip() for s in hidden.splitlines())
            if len(line) >= DISTINCTIVE_CHARS and line not in known]


def cursor_in(stubbed: str, qualname: str) -> Pos:
    """The docstring's last line, at the body's indentation: inside the function."""
    tree = ast.parse(stubbed)
    node: ast.AST = tree
    for part in qualname.split("."):
        node = next(n for n in ast.iter_child_nodes(node)
                    if getattr(n, "name", None) == part)
    doc = node.body[0]
    return Pos(doc.end_lineno - 1, doc.col_offset)


def evict_prompt_cache(backend: PromptRecorder) -> None:
    """A one-token request with another beginning, so that each configuration of a task
    starts with none of the task's prompt cached (the one before would have left it)."""
    backend.inner.generate(GenerationRequest(
        messages=[ChatMessage("system", "-"), ChatMessage("user", "-")],
        params=[SamplingParams(temperature=0.0, max_tokens=1)]))


def run_task(task: dict, workspace: ProjectWorkspace, recorder_backend: PromptRecorder,
             configs: Sequence[tuple[int, int]]) -> list[dict]:
    """Each configuration (samples, repairs) on ``task``, one after the other."""
    relative = task["path"]
    original = workspace.sources[relative]
    stubbed = stub_source(original, task["qualname"])
    secret = distinctive_lines(body_text(original, task["qualname"]),
                               workspace.known_lines(relative, stubbed))
    session = workspace.session
    records = []
    path = workspace.write(relative, stubbed)
    try:
        for samples, repairs in configs:
            evict_prompt_cache(recorder_backend)
            request = session.request(stubbed, cursor_in(stubbed, task["qualname"]), path=path)
            base = session.engine_options()
            recorder = Recorder(base.ranker)
            options = replace(base, samples=samples, ranker=recorder, repairs=repairs)
            recorder_backend.prompts.clear()
            recorder_backend.review_s = 0.0
            start = time.perf_counter()
            try:
                result = session.run("generate", request, options=options, use_context=True,
                                     overlay=lambda: {path: stubbed})
                chosen, tokens, confidence = result.new_source, result.tokens, result.confidence
                error, method, evidence = None, result.method, result.evidence
            except HearthError as failure:
                chosen, tokens, confidence, error = None, 0, 0.0, failure.message
                method, evidence = None, []
            elapsed = time.perf_counter() - start
            prompt = "\n".join(recorder_backend.prompts)
            record = {
                "task_id": task["id"], "project": task["project"], "split": task["split"],
                "doctest": task["doctest"], "cross_file": task["cross_file"],
                "samples": samples, "repairs": repairs,
                "elapsed_s": round(elapsed, 3), "tokens": tokens,
                "self_check_s": round(recorder_backend.review_s, 3),
                "confidence": confidence, "error": error, "chosen": chosen,
                "method": method, "evidence": evidence,
                "prompt_chars": len(prompt),
                "leaked_lines": [line for line in secret if line in prompt],
                "candidates": []}
            for index, candidate in enumerate(recorder.candidates):
                record["candidates"].append({
                    "index": index, "confidence": round(candidate.confidence, 4),
                    "usable": candidate.usable, "source": candidate.new_source,
                    "self_check": candidate.self_check,
                    "tokens": candidate.completion.tokens if candidate.completion else 0,
                    "behaviour": (repr(recorder.keys[index]) if index in recorder.keys
                                  else None),
                    "findings": [{"rule": f.rule, "penalty": f.penalty, "fatal": f.fatal,
                                  "reason": f.reason} for f in candidate.findings]})
            if tokens == 0:
                record["tokens"] = sum(c["tokens"] for c in record["candidates"])
            records.append(record)
    finally:
        workspace.write(relative, original)
    return records


def judge(task: dict, workspace: ProjectWorkspace, record: dict) -> None:
    """Pass or fail for the chosen answer and each candidate, by the task's own tests on the
    whole unpacked project, each distinct module run once."""
    project, root = workspace.project, workspace.source_root
    original = workspace.sources[task["path"]]
    stubbed = stub_source(original, task["qualname"])
    verdicts: dict[str, bool] = {}

    def verdict(answer: str | None) -> bool:
        module = answer_module(original, stubbed, task["qualname"], answer)
        if module is None:
            return False
        if module not in verdicts:
            run = run_tests(project, root, task["tests"], {task["path"]: module})
            verdicts[module] = run.passed(task["tests"])
        return verdicts[module]

    started = time.perf_counter()
    record["passed"] = verdict(record["chosen"])
    for candidate in record["candidates"]:
        candidate["passed"] = verdict(candidate["source"])
    record["judge_s"] = round(time.perf_counter() - started, 2)


def share(values: list[bool]) -> float | None:
    return round(sum(values) / len(values), 4) if values else None


def figures(report: dict, runs: list[dict]) -> dict:
    """One configuration's figures; quality_report computes the shared ones."""
    shared = summarise({**report, "runs": runs})
    row = next(iter(shared["configs"].values()))
    cross = [bool(r["passed"]) for r in runs if r["cross_file"]]
    prose = [bool(r["passed"]) for r in runs if not r["doctest"]]
    return {
        "tasks": len(runs), "pass_at_1": row["pass_at_1"],
        "any_candidate_passes": row["any_candidate_passes"],
        "median_latency_s": row["median_latency_s"], "p95_latency_s": row["p95_latency_s"],
        "tokens": row["tokens"], "no_usable_answer": row["no_usable_answer"],
        "auroc": shared["auroc_recorded_weights"], "candidates": shared["candidates"],
        "wrong_but_confident": share([not r["passed"] and r["confidence"] >= THRESHOLD
                                      for r in runs]),
        "cross_file_tasks": len(cross), "pass_at_1_cross_file": share(cross),
        "prose_tasks": len(prose), "pass_at_1_prose": share(prose),
        "leaks": sum(1 for r in runs if r["leaked_lines"]),
    }


def summary(report: dict) -> dict:
    groups: dict[tuple[str, int, int], list[dict]] = {}
    for run in report["runs"]:
        config = (run["samples"], run.get("repairs", 0))
        groups.setdefault(("all", *config), []).append(run)
        groups.setdefault((run["split"], *config), []).append(run)
    splits = {run["split"] for run in report["runs"]}
    rows = {f"{split} N={samples}" + (f" repairs={repairs}" if repairs else ""):
            figures(report, runs)
            for (split, samples, repairs), runs in sorted(groups.items())
            if split != "all" or len(splits) > 1}
    return {"rows": rows, "markdown": markdown(report, rows)}


def markdown(report: dict, rows: dict[str, dict]) -> str:
    def percent(value: float | None) -> str:
        return "-" if value is None else f"{value:.1%}"

    done = len({run["task_id"] for run in report["runs"]})
    lines = [f"Quality corpus ({report['split']}), {done} of {report['tasks']} tasks run, model "
             f"{report['model']}; {report['machine']}; {report['date']}",
             f"Command: `{report['command']}`", "",
             "| split, samples | tasks | pass@1 | any candidate passes | median latency | "
             "p95 latency | tokens | AUROC (candidates) | wrong but confident | pass@1 "
             "cross-file | pass@1 prose-only | leaks |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, row in rows.items():
        lines.append(
            f"| {name} | {row['tasks']} | {percent(row['pass_at_1'])} | "
            f"{percent(row['any_candidate_passes'])} | {row['median_latency_s']} s | "
            f"{row['p95_latency_s']} s | {row['tokens']} | {row['auroc']} "
            f"({row['candidates']}) | {percent(row['wrong_but_confident'])} | "
            f"{percent(row['pass_at_1_cross_file'])} ({row['cross_file_tasks']}) | "
            f"{percent(row['pass_at_1_prose'])} ({row['prose_tasks']}) | {row['leaks']} |")
    lines += ["", f"Wrong but confident: the share of chosen answers that fail the tests at "
                  f"confidence >= {report['threshold']}. Leaks: tasks whose prompt held a "
                  "line of the hidden body found nowhere else in the workspace."]
    return "\n".join(lines)


def select(tasks: list[dict], split: str, names: str | None, limit: int | None) -> list[dict]:
    if names:
        wanted = [name.strip() for name in names.split(",") if name.strip()]
        by_id = {task["id"]: task for task in tasks}
        unknown = [name for name in wanted if name not in by_id]
        if unknown:
            raise CorpusError(f"unknown task ids {unknown}; see tests/quality_corpus/tasks.json")
        chosen = [by_id[name] for name in wanted]
    else:
        chosen = [task for task in tasks if split == "all" or task["split"] == split]
        # --limit takes a spread over the projects (an order fixed by the ids), not the
        # first project's tasks.
        chosen.sort(key=lambda task: hashlib.sha256(task["id"].encode()).hexdigest())
        chosen = chosen[:limit]
    return sorted(chosen, key=lambda task: (task["project"], task["id"]))  # one index at a time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--split", choices=("dev", "heldout", "all"), default="dev")
    parser.add_argument("--model", default="qwen2.5-coder-0.5b")
    parser.add_argument("--samples", default="1,5", help="comma-separated sample counts")
    parser.add_argument("--repairs", default="0",
                        help="comma-separated generation.repairs values, each run with each "
                             "sample count")
    parser.add_argument("--limit", type=int, default=None,
                        help="K tasks only, spread over the projects")
    parser.add_argument("--tasks", default=None, help="comma-separated task ids (any split)")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--generated-tests", action="store_true",
                        help="generation.generatedTests: rank with tests from the docstring")
    parser.add_argument("--escalate-to", default=None,
                        help="generation.escalateTo: a larger model asked when not trusted")
    parser.add_argument("--escalate-when", default="unverified",
                        choices=("low-confidence", "unverified"))
    parser.add_argument("--self-check", action="store_true",
                        help="generation.selfCheck: the model reviews its own answers")
    args = parser.parse_args()
    # No history: its response cache would answer a task a run before this one answered
    # (the workspaces are fixed folders), and its examples would carry answers across tasks.
    settings = Settings(generation=GenerationSettings(
        generated_tests=args.generated_tests, escalate_to=args.escalate_to,
        escalate_when=args.escalate_when, self_check=args.self_check),
        history=HistorySettings(enabled=False))
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("hearth").setLevel(logging.WARNING)
    try:
        sample_counts = [int(n) for n in args.samples.split(",")]
    except ValueError:
        parser.error(f"--samples takes comma-separated whole numbers, not {args.samples!r}")
    if not sample_counts or min(sample_counts) < 1:
        parser.error("--samples: every count must be at least 1")
    try:
        repair_counts = [int(n) for n in args.repairs.split(",")]
    except ValueError:
        parser.error(f"--repairs takes comma-separated whole numbers, not {args.repairs!r}")
    if not repair_counts or not all(0 <= n <= 3 for n in repair_counts):
        parser.error("--repairs: every value must be from 0 to 3")
    configs = [(samples, repairs) for samples in sample_counts for repairs in repair_counts]
    if args.limit is not None and args.limit < 1:
        parser.error("--limit must be at least 1")
    try:
        projects = load_projects()
        tasks = select(load_tasks(), args.split, args.tasks, args.limit)
    except CorpusError as error:
        parser.error(str(error))
    if not tasks:
        parser.error("no tasks chosen")
    backend = PromptRecorder(LlamaCppBackend(model_file(load_manifest().get(args.model))))
    backend.inner.load()
    split = "tasks" if args.tasks else args.split
    out = args.out or REPO / ".bench" / f"bench_corpus_{args.model}_{split}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    report = {"command": " ".join([".venv/bin/python", "tests/bench/bench_corpus.py",
                                   *sys.argv[1:]]),
              "model": args.model, "split": split, "machine": machine(),
              "threads": backend.inner.n_threads,
              "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "weights": {name: rule.weight for name, rule in RULES.items()},
              "threshold": THRESHOLD, "problems": len(tasks), "tasks": len(tasks),
              "samples": sample_counts, "repairs": repair_counts,
              "config": {"generated_tests": args.generated_tests,
                         "escalate_to": args.escalate_to, "escalate_when": args.escalate_when,
                         "self_check": args.self_check},
              "runs": []}
    workspace: ProjectWorkspace | None = None
    try:
        for number, task in enumerate(tasks, 1):
            project = projects[task["project"]]
            if workspace is None or workspace.project != project:
                if workspace is not None:
                    workspace.close()
                workspace = ProjectWorkspace(project, backend, settings)
            for record in run_task(task, workspace, backend, configs):
                judge(task, workspace, record)
                report["runs"].append(record)
                log.info("%d/%d %s N=%d R=%d passed=%s conf=%.3f %.1fs %d tokens, %d of %d "
                         "candidates pass%s", number, len(tasks), task["id"],
                         record["samples"], record["repairs"], record["passed"],
                         record["confidence"],
                         record["elapsed_s"], record["tokens"],
                         sum(bool(c["passed"]) for c in record["candidates"]),
                         len(record["candidates"]),
                         ", LEAK" if record["leaked_lines"] else "")
            out.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    finally:
        if workspace is not None:
            workspace.close()
        backend.inner.close()
    report["summary"] = summary(report)
    out.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    print(report["summary"]["markdown"])


if __name__ == "__main__":
    main()
