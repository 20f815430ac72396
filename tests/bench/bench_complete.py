"""Inline completion on real code nobody here wrote (issue 17, item 5; not run by `make test`).

    .venv/bin/python tests/bench/bench_complete.py [--split dev|heldout|all] [--limit N]
        [--configs hearth,plain] [--model NAME] [--positions ID,ID] [--projects NAME,NAME]
        [--no-tests] [--warm]
    .venv/bin/python tests/bench/bench_complete.py --typing [--typing-lines 4] [--configs ...]
        [--model NAME] [--projects NAME,NAME]

Quality (the default): the positions of tests/completion_corpus/positions.json (line starts,
mid-line cuts, block holes in the five pinned sdists). Per configuration and project, a
Session rooted at the project's package tree (bench_corpus's workspace: the package sources,
tests left out), its index built once. At each position the file is the real one with the
reference removed (the rest of the cursor's line; for a block the rest of the body) and
nothing else; it is written and re-indexed, so that retrieval cannot show the hidden text
unless the workspace has a copy of it elsewhere, then ``session.complete`` is asked
(``trigger="invoked"``, ``mode="auto"``: what the editor sends). Configurations:

- ``hearth``: the settings' defaults, with workspace context.
- ``plain``: no workspace context, 256 lines before the cursor and 64 after (llama.vscode's
  defaults): the file alone.

Scores (tests/bench/completion_tasks.py): first-line exact match and difflib similarity, for
blocks the similarity of the whole block (and of the reference's first ``maxLines`` lines,
which is all a suggestion may hold), and, for a block that is a quality corpus task, whether
the task's hidden tests pass with the suggestion accepted. Per kind, cross-file or not; the
prompt tokens evaluated and the latency of the core call (p50/p95; the model is loaded first
by a request of no file, ``warm_up_s``, and answers from the suggestion cache are left out).
With ``--warm`` the keystroke before each position (the Enter that made its line, or the
character before the cursor) is answered first, and the position is timed after it: the
latency while typing, with the model's cache holding the file, answers from the suggestion
cache included.

Typing (``--typing``): per configuration (the same settings, as initializationOptions) and per
project, a real `hearth serve --stdio` on that workspace, driven as VS Code drives it: after one
invoked request (the model loads), a dev line start's reference typed character by character
150-300 ms apart (seeded, the same rhythm for every configuration), each key a didChange and an
automatic textDocument/inlineCompletion, the previous request cancelled with $/cancelRequest
if still unanswered, and a textDocument/codeAction at the cursor after each key (its latency
idle, before the typing, and during it). Keystroke to answer for the requests answered, p50/p95;
an answer that comes after the next key is stale (VS Code shows none of it); suggestions shown
per keystroke. Cache hits and prompt tokens evaluated come from the server's
``hearth/completionStats`` (its latest answers' figures), read before and after each line.

Results: .bench/bench_complete_<model>_<split>.json (rewritten after every project) or
.bench/bench_complete_typing.json, and a Markdown table on stdout. Tune on dev only.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import logging
import os
import random
import sys
import time
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "server"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_corpus import WORKSPACES, ProjectWorkspace  # noqa: E402
from bench_lsp import Session as LspSession  # noqa: E402
from bench_lsp import capabilities, percentile  # noqa: E402
from bench_quality import machine  # noqa: E402
from completion_tasks import (  # noqa: E402
    KINDS,
    PositionError,
    document_at,
    key_before,
    load_positions,
    score,
    with_suggestion,
)
from corpus_tasks import (  # noqa: E402
    CorpusError,
    load_projects,
    load_tasks,
    package_sources,
    run_tests,
    unpacked,
)
from lsprotocol import types  # noqa: E402
from pygls.exceptions import JsonRpcException  # noqa: E402

from hearth.core.text import Pos  # noqa: E402
from hearth.settings import Settings, structure_settings  # noqa: E402

log = logging.getLogger("bench_complete")
BENCH = REPO / ".bench"
CONFIGS = ("hearth", "plain")
PLAIN_PREFIX_LINES, PLAIN_SUFFIX_LINES = 256, 64  # llama.vscode's n_prefix, n_suffix
TYPING_GAP_S = (0.15, 0.3)
TYPING_REFERENCE_CHARS = (20, 50)  # the length of a line the typing replay types
IDLE_CODE_ACTIONS = 30
STATS_METHOD = "hearth/completionStats"  # the server's figures of its latest answers


def configured(settings: Settings, config: str) -> tuple[Settings, bool]:
    """The settings and the use of workspace context of one configuration."""
    if config == "hearth":
        return settings, True
    if config == "plain":
        return replace(settings, completion=replace(
            settings.completion, prefix_lines=PLAIN_PREFIX_LINES,
            suffix_lines=PLAIN_SUFFIX_LINES)), False
    raise ValueError(f"unknown configuration {config!r}; known: {', '.join(CONFIGS)}")


def spread(positions: list[dict], limit: int | None) -> list[dict]:
    """The first ``limit`` positions in an order fixed by their ids (a spread over projects
    and kinds, not the first project's), then in file order: one workspace at a time."""
    chosen = sorted(positions, key=lambda p: hashlib.sha256(p["id"].encode()).hexdigest())
    return sorted(chosen[:limit], key=lambda p: (p["project"], p["path"], p["line"], p["col"],
                                                 p["kind"]))


def select(positions: list[dict], split: str, ids: str | None, limit: int | None) -> list[dict]:
    if ids:
        wanted = [name.strip() for name in ids.split(",") if name.strip()]
        by_id = {position["id"]: position for position in positions}
        unknown = [name for name in wanted if name not in by_id]
        if unknown:
            raise PositionError(f"unknown position ids {unknown}")
        return spread([by_id[name] for name in wanted], None)
    return spread([p for p in positions if split == "all" or p["split"] == split], limit)


# -- quality ------------------------------------------------------------------------------------
def complete_at(workspace: ProjectWorkspace, position: dict, use_context: bool,
                tests: dict[str, list[str]], judge: bool, warm: bool = False) -> dict:
    from hearth.core.completion import CompletionRequest

    original = workspace.sources[position["path"]]
    document = document_at(original, position)
    path = workspace.write(position["path"], document)
    warm_s = None
    if warm:
        # The keystroke before, answered first: the model's cache then holds what the user
        # was looking at, as it does while they type (the position's request is timed alone).
        earlier, line, col = key_before(document, position)
        started = time.perf_counter()
        workspace.session.complete(CompletionRequest(
            source=earlier, position=Pos(line, col), path=path, language="python",
            mode="auto", trigger="automatic"), use_context=use_context)
        warm_s = round(time.perf_counter() - started, 4)
    request = CompletionRequest(source=document, position=Pos(position["line"], position["col"]),
                                path=path, language="python", mode="auto", trigger="invoked")
    keys = ("id", "project", "kind", "split", "cross_file", "helpers", "task")
    record = {key: position[key] for key in keys}
    if warm:
        record.update(warm=True, key_before_s=warm_s)
    started = time.perf_counter()
    try:
        result = workspace.session.complete(request, use_context=use_context)
    except Exception as error:  # noqa: BLE001 - a failed position is a figure, not the end
        log.exception("%s failed", position["id"])
        record.update(error=f"{type(error).__name__}: {error}", suggestion="",
                      elapsed_s=round(time.perf_counter() - started, 4))
        record.update(score(position, "", workspace.session.settings.completion.max_lines))
        return record
    record.update(
        error=None, suggestion=result.text, elapsed_s=round(time.perf_counter() - started, 4),
        engine_elapsed_s=round(result.elapsed_s, 4), cached=result.cached,
        multiline=result.multiline, tokens=result.tokens, prompt_tokens=result.prompt.tokens,
        prompt_reused=result.prompt.reused, prompt_evaluated=result.prompt.evaluated,
        context=list(result.context), model=getattr(result, "model", ""),
        why_empty=getattr(result, "why_empty", ""))
    record.update(score(position, result.text, workspace.session.settings.completion.max_lines))
    if judge and position["kind"] == "block" and position["task"] in tests:
        node_ids = tests[position["task"]]
        if not result.text.strip():
            record["tests_passed"] = False
        else:
            module = with_suggestion(document, position, result.text)
            run = run_tests(workspace.project, workspace.source_root, node_ids,
                            {position["path"]: module})
            record["tests_passed"] = run.passed(node_ids)
    return record


def warm_up(workspace: ProjectWorkspace) -> float:
    """Load the model with a request of no file, so that no position's latency holds it."""
    from hearth.core.completion import CompletionRequest

    started = time.perf_counter()
    workspace.session.complete(CompletionRequest(
        source="def warm_up():\n    ", position=Pos(1, 4), path=None, language="python",
        trigger="invoked"), use_context=False)
    return round(time.perf_counter() - started, 3)


def run_quality(positions: list[dict], configs: list[str], settings: Settings, judge: bool,
                report: dict, out: Path, warm: bool = False) -> None:
    projects = load_projects()
    tests = {task["id"]: task["tests"] for task in load_tasks()} if judge else {}
    for config in configs:
        config_settings, use_context = configured(settings, config)
        by_project: dict[str, list[dict]] = {}
        for position in positions:
            by_project.setdefault(position["project"], []).append(position)
        for name, group in by_project.items():
            # A Session per configuration: the suggestion cache of one must not answer the
            # other's requests.
            workspace = ProjectWorkspace(projects[name], None, config_settings)
            try:
                report["warm_up_s"].append(warm_up(workspace))
                for index, position in enumerate(group):
                    record = {"config": config, **complete_at(workspace, position, use_context,
                                                              tests, judge, warm)}
                    report["runs"].append(record)
                    log.info("%s %s exact=%s sim=%.2f %.2fs %s", config, position["id"],
                             record["exact"], record["similarity"], record["elapsed_s"],
                             json.dumps(record["suggestion"][:60]))
                    following = group[index + 1]["path"] if index + 1 < len(group) else None
                    if following != position["path"]:  # the file as it was, once it is done
                        workspace.write(position["path"], workspace.sources[position["path"]])
            finally:
                workspace.close()
            out.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")


def mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 4) if values else None


def figures(runs: list[dict]) -> dict:
    ok = [r for r in runs if r.get("error") is None]
    # Cold runs leave the suggestion cache's answers out; after the keystroke before
    # (``--warm``), an answer the cache gives is what the user gets, so it counts.
    latencies = [r["elapsed_s"] for r in ok if not r.get("cached") or r.get("warm")]
    asked = [r for r in ok if not r.get("cached")]
    blocks = [r for r in runs if r["kind"] == "block"]
    judged = [r for r in runs if r.get("tests_passed") is not None]
    return {
        "positions": len(runs), "errors": len(runs) - len(ok),
        "exact": mean([float(r["exact"]) for r in runs]),
        "similarity": mean([r["similarity"] for r in runs]),
        "empty": mean([float(r["empty"]) for r in runs]),
        "block_similarity": mean([r["block_similarity"] for r in blocks]),
        "block_similarity_max_lines": mean([r["block_similarity_max_lines"] for r in blocks]),
        "tests_run": len(judged), "tests_passed": sum(bool(r["tests_passed"]) for r in judged),
        "cached": sum(bool(r.get("cached")) for r in ok),
        # of the model's answers: one from the suggestion cache evaluated no prompt
        "prompt_tokens": mean([r["prompt_tokens"] for r in asked]),
        "prompt_evaluated": mean([r["prompt_evaluated"] for r in asked]),
        "p50_s": round(percentile(latencies, 0.5), 3) if latencies else None,
        "p95_s": round(percentile(latencies, 0.95), 3) if latencies else None,
    }


def summary(runs: list[dict]) -> dict[str, dict]:
    """Figures per configuration, split and group (all, each kind, cross-file or not)."""
    rows: dict[str, dict] = {}
    for config in dict.fromkeys(r["config"] for r in runs):
        for split in ("dev", "heldout", "all"):
            part = [r for r in runs if r["config"] == config and split in ("all", r["split"])]
            if not part or (split == "all" and len({r["split"] for r in part}) < 2):
                continue
            groups = {"all": part}
            groups.update({kind: [r for r in part if r["kind"] == kind] for kind in KINDS})
            groups["cross-file"] = [r for r in part if r["cross_file"]]
            groups["not cross-file"] = [r for r in part if not r["cross_file"]]
            for group, members in groups.items():
                if members:
                    rows[f"{config} | {split} | {group}"] = figures(members)
    return rows


def markdown(report: dict) -> str:
    def share(value: float | None) -> str:
        return "-" if value is None else f"{value:.1%}"

    def number(value: float | None, digits: int = 2) -> str:
        return "-" if value is None else f"{value:.{digits}f}"

    lines = [f"Inline completion, {report['split']} ({len(report['runs'])} runs), model "
             f"{report['model']}; {report['machine']}; load {report['load_average_1min']} "
             f"before, {report.get('load_average_1min_after', '-')} after; {report['date']}",
             f"Command: `{report['command']}`", "",
             "| config | split | group | n | exact 1st line | similarity 1st line | block sim. "
             "(first maxLines) | tests passed | empty | prompt tokens (evaluated) | p50 | p95 |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, row in report["summary"].items():
        block = ("-" if row["block_similarity"] is None else
                 f"{row['block_similarity']:.2f} ({row['block_similarity_max_lines']:.2f})")
        tests = f"{row['tests_passed']}/{row['tests_run']}" if row["tests_run"] else "-"
        lines.append(
            f"| {name} | {row['positions']} | {share(row['exact'])} | "
            f"{number(row['similarity'])} | {block} | {tests} | {share(row['empty'])} | "
            f"{number(row['prompt_tokens'], 0)} ({number(row['prompt_evaluated'], 0)}) | "
            f"{number(row['p50_s'])} s | {number(row['p95_s'])} s |")
    latency = ("Latency: the core call (session.complete) just after the keystroke before "
               "had been answered (--warm), answers from the suggestion cache included."
               if report.get("warm") else "Latency: the core call (session.complete), "
               "answers from the suggestion cache left out.")
    lines += ["", latency + " Exact and similarity: the first line, trimmed, its trailing "
              "comment left out; similarity is difflib's ratio."]
    return "\n".join(lines)


# -- typing through the language server -----------------------------------------------------------
def typing_positions(positions: list[dict], count: int) -> list[dict]:
    """One line start per project (dev), its code 20-50 characters long, the first by a hash
    of the id; projects in name order, the first ``count`` of them."""
    low, high = TYPING_REFERENCE_CHARS
    chosen = []
    for project in sorted({p["project"] for p in positions}):
        fitting = [p for p in positions if p["project"] == project and p["kind"] == "line"
                   and p["split"] == "dev" and low <= len(p["reference"]) <= high]
        if fitting:
            chosen.append(min(fitting, key=lambda p: hashlib.sha256(p["id"].encode())
                              .hexdigest()))
    return chosen[:count]


def inline_capabilities() -> types.ClientCapabilities:
    caps = capabilities()
    caps.text_document.inline_completion = types.InlineCompletionClientCapabilities()
    return caps


class TypingClient(LspSession):
    """bench_lsp's client, declaring inline completion, with the server's environment and
    initialization options given."""

    async def start(self, root: Path, options: dict | None = None,  # type: ignore[override]
                    env: dict[str, str] | None = None) -> float:
        started = time.perf_counter()
        await self.client.start_io(sys.executable, "-m", "hearth", "serve", "--stdio", env=env)
        await self.client.initialize_async(types.InitializeParams(
            capabilities=inline_capabilities(), root_uri=root.as_uri(),
            initialization_options=options))
        self.client.initialized(types.InitializedParams())
        return time.perf_counter() - started

    def change(self, uri: str, version: int, text: str) -> None:
        self.client.text_document_did_change(types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)]))

    async def indexed(self, timeout_s: float = 600.0) -> None:
        """Wait for the workspace index: the command builds it (up to date at once after
        the first build), once the server has opened the folder's index."""
        deadline = time.perf_counter() + timeout_s
        while True:
            try:
                await self.client.workspace_execute_command_async(types.ExecuteCommandParams(
                    command="hearth.indexWorkspace", arguments=[]))
                return
            except JsonRpcException:
                if time.perf_counter() > deadline:
                    raise
                await asyncio.sleep(0.2)  # the folder is not open yet

    async def code_action_ms(self, uri: str, position: types.Position) -> float:
        started = time.perf_counter()
        await self.client.text_document_code_action_async(types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri), range=types.Range(position, position),
            context=types.CodeActionContext(diagnostics=[])))
        return (time.perf_counter() - started) * 1000


def answer_text(result: object) -> str:
    """The first item's text of an inlineCompletion answer (a list of items or an
    InlineCompletionList)."""
    items = getattr(result, "items", result) or []
    if not items:
        return ""
    text = items[0].insert_text
    return text if isinstance(text, str) else text.value


def plain(value: object) -> object:
    """A custom request's answer as JSON values (pygls may give objects for objects)."""
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)) and not hasattr(value, "_asdict"):
        return [plain(item) for item in value]
    if hasattr(value, "_asdict"):
        return plain(value._asdict())
    if hasattr(value, "__dict__"):
        return plain(vars(value))
    return value


async def server_stats(client: TypingClient) -> list[dict] | None:
    """The figures of the server's latest answers (``hearth/completionStats``: cached, prompt
    tokens evaluated, ...), or None when the server has no such request."""
    try:
        answer = await client.client.protocol.send_request_async(STATS_METHOD, None)
    except Exception as error:  # noqa: BLE001 - an older server: the figures are not there
        log.warning("%s: %s", STATS_METHOD, error)
        return None
    recent = plain(answer).get("recent") if isinstance(plain(answer), dict) else None
    return recent if isinstance(recent, list) else None


async def type_line(client: TypingClient, uri: str, document: str, position: dict,
                    rng: random.Random) -> dict:
    """Type the position's reference at its cursor, key by key, as VS Code asks."""
    lines = document.splitlines(keepends=True)
    cursor = sum(len(line) for line in lines[:position["line"]]) + position["col"]
    reference, version = position["reference"], 1
    requests: list[dict] = []
    during_ms: list[float] = []
    pending: tuple[str, object] | None = None
    for typed in range(1, len(reference) + 1):
        text = document[:cursor] + reference[:typed] + document[cursor:]
        version += 1
        client.change(uri, version, text)
        sent = time.perf_counter()
        if pending is not None and not pending[1].done():
            client.client.protocol.notify(types.CANCEL_REQUEST,
                                          types.CancelParams(id=pending[0]))
        at = types.Position(position["line"], position["col"] + typed)
        msg_id = f"inline-{position['id']}-{typed}"
        record: dict = {"key": typed, "sent": sent}
        future = client.client.protocol.send_request(
            types.TEXT_DOCUMENT_INLINE_COMPLETION, types.InlineCompletionParams(
                context=types.InlineCompletionContext(
                    trigger_kind=types.InlineCompletionTriggerKind.Automatic),
                text_document=types.TextDocumentIdentifier(uri), position=at), msg_id=msg_id)

        def answered(done, record=record) -> None:
            record["answered"] = time.perf_counter()
            error = done.exception() if not done.cancelled() else None
            if error is not None or done.cancelled():
                record["error"] = str(error or "cancelled")
            else:
                record["text"] = answer_text(done.result())

        future.add_done_callback(answered)
        requests.append(record)
        pending = (msg_id, future)
        during_ms.append(await client.code_action_ms(uri, at))
        gap = rng.uniform(*TYPING_GAP_S)
        await asyncio.sleep(max(0.0, gap - (time.perf_counter() - sent)))
    deadline = time.perf_counter() + 60
    while "answered" not in requests[-1] and time.perf_counter() < deadline:
        await asyncio.sleep(0.01)
    # An answer that comes after the next key is stale: VS Code shows none of it.
    for record, following in zip(requests, requests[1:] + [None]):
        if "answered" in record:
            record["latency_ms"] = round((record["answered"] - record["sent"]) * 1000, 1)
            record["stale"] = following is not None and following["sent"] < record["answered"]
    for record in requests:
        record.pop("answered", None)
        del record["sent"]
    return {"id": position["id"], "reference": reference, "keystrokes": len(reference),
            "requests": requests, "code_action_during_ms": during_ms}


def server_options(config: str, model: str | None) -> dict:
    """The initializationOptions of a configuration (see ``configured``)."""
    completion: dict[str, object] = {"model": model} if model else {}
    if config == "plain":
        completion.update(contextTokens=0, prefixLines=PLAIN_PREFIX_LINES,
                          suffixLines=PLAIN_SUFFIX_LINES)
    elif config != "hearth":
        raise ValueError(f"unknown configuration {config!r}; known: {', '.join(CONFIGS)}")
    return {"index": {"tuneInBackground": False}, "completion": completion}


async def run_typing(positions: list[dict], config: str, model: str | None, seed: int) -> dict:
    """The typing replay of one configuration: a server per line (per project)."""
    projects = load_projects()
    logs = BENCH / "complete-typing-logs"
    env = {**os.environ, "HEARTH_TUNE_IN_BACKGROUND": "0", "HEARTH_LOG_DIR": str(logs)}
    options = server_options(config, model)
    rng = random.Random(seed)  # the same rhythm for every configuration
    lines, idle_ms = [], []
    for position in positions:
        project = projects[position["project"]]
        sources = package_sources(project, unpacked(project))
        root = WORKSPACES / project.root
        # bench_corpus's workspace, laid down as the sdist has it (its own method, on the
        # two attributes it reads), then the typed file as the user saved it: without the line.
        ProjectWorkspace._sync(SimpleNamespace(root=root, sources=sources))
        original = sources[position["path"]]
        document = document_at(original, position)
        path = root / position["path"]
        path.write_text(document, encoding="utf-8")
        client = TypingClient()
        try:
            await client.start(root, options, env)
            await client.indexed()
            uri = client.open(path, document)
            at = types.Position(position["line"], position["col"])
            for _ in range(IDLE_CODE_ACTIONS):
                idle_ms.append(await client.code_action_ms(uri, at))
                await asyncio.sleep(0.05)
            # One request before the typing: the model loads now, not at the first key.
            await client.client.text_document_inline_completion_async(
                types.InlineCompletionParams(
                    context=types.InlineCompletionContext(
                        trigger_kind=types.InlineCompletionTriggerKind.Invoked),
                    text_document=types.TextDocumentIdentifier(uri), position=at))
            before = await server_stats(client)
            line = await type_line(client, uri, document, position, rng)
            after = await server_stats(client)
            # The answers the server gave while this line was typed (not the warm-up).
            line["server_answers"] = (None if after is None or before is None
                                      else after[len(before):])
            lines.append(line)
            log.info("typed %s: %d keys, %d answered", position["id"], line["keystrokes"],
                     sum("latency_ms" in r for r in line["requests"]))
        finally:
            await client.stop()
            path.write_text(original, encoding="utf-8")
    return {"lines": lines, "code_action_idle_ms": idle_ms, "server_logs": str(logs)}


def typing_figures(result: dict) -> dict:
    requests = [r for line in result["lines"] for r in line["requests"]]
    keys = len(requests)
    answered = [r for r in requests if "latency_ms" in r and "error" not in r]
    shown = [r for r in answered if r.get("text", "").strip() and not r["stale"]]
    reported = [line["server_answers"] for line in result["lines"]]
    server = ([answer for answers in reported for answer in answers]
              if all(answers is not None for answers in reported) else None)
    during = [ms for line in result["lines"] for ms in line["code_action_during_ms"]]
    idle = result["code_action_idle_ms"]

    def pair(values: list[float]) -> dict:
        return ({"p50_ms": round(percentile(values, 0.5), 1),
                 "p95_ms": round(percentile(values, 0.95), 1), "n": len(values)}
                if values else {"n": 0})

    return {
        "keystrokes": keys, "answered": len(answered),
        "cancelled_or_failed": sum("error" in r for r in requests),
        "unanswered": sum("latency_ms" not in r for r in requests),
        "keystroke_to_answer": pair([r["latency_ms"] for r in answered]),
        "keystroke_to_suggestion": pair([r["latency_ms"] for r in shown]),
        "stale_answers": sum(bool(r["stale"]) for r in answered),
        "suggestions_shown_per_keystroke": round(len(shown) / keys, 3) if keys else None,
        "server_answers": None if server is None else len(server),
        "cache_hits": None if server is None else sum(bool(a.get("cached")) for a in server),
        # Of the cache hits: the rest of an answer that was still being written when the key
        # came, and that the key's request waited for (core.completion.follow).
        "followed": None if server is None else sum(bool(a.get("followed")) for a in server),
        "prompt_evaluated_mean": None if server is None else mean(
            [a["promptEvaluated"] for a in server if not a.get("cached")
             and isinstance(a.get("promptEvaluated"), (int, float))]),
        "prompt_tokens_mean": None if server is None else mean(
            [a["promptTokens"] for a in server if not a.get("cached")
             and isinstance(a.get("promptTokens"), (int, float))]),
        "code_action_idle": pair(idle), "code_action_while_typing": pair(during),
    }


def typing_markdown(report: dict) -> str:
    configs = list(report["configs"])

    def pair(values: dict) -> str:
        return f"p50 {values['p50_ms']} ms, p95 {values['p95_ms']} ms (n={values['n']})" \
            if values.get("n") else "-"

    def reported(value: object) -> str:
        return "not reported" if value is None else str(value)

    def row(what: str, figure) -> str:
        cells = [figure(report["configs"][config]["figures"], report["configs"][config])
                 for config in configs]
        return f"| {what} | " + " | ".join(cells) + " |"

    rows = [
        row("keystrokes typed (lines)", lambda f, r: f"{f['keystrokes']} ({len(r['lines'])})"),
        row("answered / cancelled or failed / unanswered", lambda f, r:
            f"{f['answered']} / {f['cancelled_or_failed']} / {f['unanswered']}"),
        row("keystroke to answer (answered requests)",
            lambda f, r: pair(f["keystroke_to_answer"])),
        row("keystroke to a shown suggestion", lambda f, r: pair(f["keystroke_to_suggestion"])),
        row("answers after the next key (not shown)", lambda f, r: str(f["stale_answers"])),
        row("suggestions shown per keystroke",
            lambda f, r: str(f["suggestions_shown_per_keystroke"])),
        row("answers the server reports (hearth/completionStats)",
            lambda f, r: reported(f["server_answers"])),
        row("of which from the cache (typed through a suggestion)",
            lambda f, r: reported(f["cache_hits"])),
        row("of those, typed along an answer still being written",
            lambda f, r: reported(f.get("followed"))),
        row("prompt tokens per model answer: evaluated (of the prompt's)", lambda f, r:
            reported(f["prompt_evaluated_mean"]) if f["prompt_evaluated_mean"] is None
            else f"{f['prompt_evaluated_mean']} ({f['prompt_tokens_mean']})"),
        row("code action list, idle", lambda f, r: pair(f["code_action_idle"])),
        row("code action list, while typing", lambda f, r: pair(f["code_action_while_typing"])),
    ]
    return "\n".join([f"Typing replay through `hearth serve --stdio`, model {report['model']}; "
                      f"{report['machine']}; load {report['load_average_1min']} before, "
                      f"{report['load_average_1min_after']} after; {report['date']}",
                      f"Command: `{report['command']}`", "",
                      "| what | " + " | ".join(configs) + " |",
                      "|---|" + "---|" * len(configs), *rows])


# -- main ---------------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--split", choices=("dev", "heldout", "all"), default="dev")
    parser.add_argument("--limit", type=int, default=None,
                        help="N positions only, spread over projects and kinds")
    parser.add_argument("--positions", default=None, help="comma-separated ids (any split)")
    parser.add_argument("--projects", default=None,
                        help="comma-separated project names (default: all five)")
    parser.add_argument("--configs", default=",".join(CONFIGS),
                        help=f"comma-separated, of {', '.join(CONFIGS)}")
    parser.add_argument("--model", default=None,
                        help="completion.model (default: the settings' default)")
    parser.add_argument("--no-tests", action="store_true",
                        help="do not run the hidden tests of the blocks that have them")
    parser.add_argument("--warm", action="store_true",
                        help="answer the keystroke before each position first (the Enter "
                             "that made a line, or the last character), then time the "
                             "position: the latency while typing, not cold")
    parser.add_argument("--typing", action="store_true",
                        help="the typing replay through the language server instead")
    parser.add_argument("--typing-lines", type=int, default=4,
                        help="lines typed, one per project")
    parser.add_argument("--seed", type=int, default=1, help="of the typing rhythm")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--completion", action="append", default=[], metavar="KEY=VALUE",
                        help="a completion setting for the hearth configuration (tuning on "
                             "dev), e.g. prefixLines=32; repeat for more")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("hearth").setLevel(logging.WARNING)
    logging.getLogger("pygls").setLevel(logging.WARNING)
    logging.getLogger("bench_corpus").setLevel(logging.INFO)
    if args.limit is not None and args.limit < 1:
        parser.error("--limit must be at least 1")
    configs = [c.strip() for c in args.configs.split(",") if c.strip()]
    if not configs or any(c not in CONFIGS for c in configs):
        parser.error(f"--configs takes some of {', '.join(CONFIGS)}, not {args.configs!r}")
    try:
        corpus = load_positions()
        if args.projects:
            wanted = {name.strip() for name in args.projects.split(",")}
            unknown = wanted - {p["project"] for p in corpus["positions"]}
            if unknown:
                parser.error(f"--projects: no positions in {sorted(unknown)}")
            corpus["positions"] = [p for p in corpus["positions"] if p["project"] in wanted]
        positions = select(corpus["positions"], args.split, args.positions, args.limit)
    except (PositionError, CorpusError) as error:
        parser.error(str(error))
    if not positions:
        parser.error("no positions chosen")
    overrides = {}
    for item in args.completion:
        key, _, value = item.partition("=")
        try:
            overrides[key.strip()] = json.loads(value)  # numbers, booleans, lists
        except ValueError:
            overrides[key.strip()] = value  # a plain string, e.g. a model name
    settings, problems = structure_settings({"completion": overrides})
    if problems:
        parser.error("; ".join(problems))
    if args.model:
        settings = replace(settings, completion=replace(settings.completion, model=args.model))
    common = {"command": " ".join([".venv/bin/python", "tests/bench/bench_complete.py",
                                   *sys.argv[1:]]),
              "machine": machine(), "load_average_1min": round(os.getloadavg()[0], 2),
              "date": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    BENCH.mkdir(exist_ok=True)
    if args.typing:
        if args.typing_lines < 1:
            parser.error("--typing-lines must be at least 1")
        chosen = typing_positions(corpus["positions"], args.typing_lines)
        report = {**common, "model": args.model or "default", "configs": {}}
        out = args.out or BENCH / "bench_complete_typing.json"
        for config in configs:
            result = asyncio.run(run_typing(chosen, config, args.model, args.seed))
            report["configs"][config] = {**result, "figures": typing_figures(result)}
            out.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
        report["load_average_1min_after"] = round(os.getloadavg()[0], 2)
        out.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
        print(typing_markdown(report))
        return
    split = "positions" if args.positions else args.split
    model = args.model or "default"
    out = args.out or BENCH / f"bench_complete_{model}_{split}.json"
    report = {**common, "model": model, "split": split, "configs": configs,
              "completion_settings": {c: vars(configured(settings, c)[0].completion)
                                      for c in configs},
              "positions": len(positions), "warm_up_s": [], "runs": []}
    report["warm"] = args.warm
    run_quality(positions, configs, settings, not args.no_tests, report, out, args.warm)
    report["load_average_1min_after"] = round(os.getloadavg()[0], 2)
    models = {r.get("model") for r in report["runs"] if r.get("model")}
    report["models_used"] = sorted(models)
    report["summary"] = summary(report["runs"])
    out.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    print(markdown(report))


if __name__ == "__main__":
    main()
