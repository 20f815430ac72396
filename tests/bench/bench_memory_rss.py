"""Benchmark of the language server's resident memory (not run by `make test`).

Starts `hearth serve` over stdio on a copy of the demo project and reads the resident memory
of the server process (VmRSS in /proc/PID/status) and of its child processes, if any, at four
moments: idle after `initialized` (once the warm-up and the first index have settled); after
one Generate (the 1.5B model loaded); after an Explain as well (the 0.5B model loaded too:
both models); and after `model.unloadAfter` is set to a few seconds through
`workspace/didChangeConfiguration` and both models have been unused longer than that. Each
run is a new server; the figures are the medians over the runs, with the 1-minute load
average at the start of each run. Prints JSON and writes .bench/memory_rss.json.

    .venv/bin/python tests/bench/bench_memory_rss.py [--runs 3] [--unload-after 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import statistics
import sys
import time
from pathlib import Path

from bench_lsp import capabilities  # the same client as the LSP benchmark: resolves edits
from lsprotocol import types
from pygls.lsp.client import LanguageClient

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "examples" / "demo_project"
STOCK = Path("inventory") / "stock.py"
MIB = 1024 * 1024
PHASES = ("idle", "after_generate", "both_models", "after_unload")


# -- reading /proc ------------------------------------------------------------------------------
def status_kib(pid: int, field: str) -> int:
    """A ``kB`` field of /proc/PID/status (VmRSS, VmHWM); 0 once the process is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def children(pid: int) -> list[int]:
    """Every descendant of ``pid`` (the sandbox's runs, for instance) now running."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        parents.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def memory(pid: int) -> dict[str, float]:
    """Resident memory of the server and of its descendants, in MiB; the server's peak."""
    kids = children(pid)
    server = status_kib(pid, "VmRSS") / 1024
    others = sum(status_kib(kid, "VmRSS") for kid in kids) / 1024
    return {"server_mib": round(server, 1), "children_mib": round(others, 1),
            "children": len(kids), "total_mib": round(server + others, 1),
            "server_peak_mib": round(status_kib(pid, "VmHWM") / 1024, 1)}


async def settled(pid: int, quiet_s: float = 4.0, limit_s: float = 90.0) -> dict[str, float]:
    """The memory once the server's RSS has moved less than 2 MiB for ``quiet_s`` seconds (the
    warm-up, the indexer and any sandbox run are over), or after ``limit_s`` regardless."""
    readings: list[tuple[float, float]] = []
    start = time.monotonic()
    while True:
        now = time.monotonic()
        readings.append((now, status_kib(pid, "VmRSS") / 1024))
        recent = [rss for at, rss in readings if at >= now - quiet_s]
        if now - start >= quiet_s and max(recent) - min(recent) < 2:
            return memory(pid)
        if now - start >= limit_s:
            result = memory(pid)
            result["unsettled"] = True
            return result
        await asyncio.sleep(0.5)


# -- one server ---------------------------------------------------------------------------------
async def one_run(workspace: Path, unload_after: int) -> dict[str, object]:
    client = LanguageClient("hearth-bench-memory", "1")
    for method in ("hearth/status", "hearth/explainProgress", types.WINDOW_LOG_MESSAGE,
                   types.WINDOW_SHOW_MESSAGE, types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS):
        client.feature(method)(lambda params: None)
    load = os.getloadavg()[0]
    await client.start_io(sys.executable, "-m", "hearth", "serve", "--stdio",
                          env={**os.environ, "PYTHONPATH": str(ROOT / "server")})
    pid = client._server.pid  # pygls keeps the process it started there
    figures: dict[str, object] = {"load_average_1min": round(load, 2)}
    try:
        # A long unloadAfter until the last phase: nothing may be freed between the actions.
        await client.initialize_async(types.InitializeParams(
            capabilities=capabilities(), root_uri=workspace.as_uri(),
            initialization_options={"model": {"unloadAfter": 3600}}))
        client.initialized(types.InitializedParams())
        path = workspace / STOCK
        text = path.read_text(encoding="utf-8")
        uri = path.as_uri()
        client.text_document_did_open(types.DidOpenTextDocumentParams(
            types.TextDocumentItem(uri=uri, language_id="python", version=1, text=text)))
        figures["idle"] = await settled(pid)

        lines = text.splitlines()
        stub = types.Position(lines.index("    pass"), 4)
        offered = await client.text_document_code_action_async(types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri), range=types.Range(stub, stub),
            context=types.CodeActionContext(diagnostics=[]))) or []
        generate = [a for a in offered if isinstance(a, types.CodeAction)
                    and isinstance(a.data, dict) and a.data.get("action") == "generate"]
        started = time.perf_counter()
        resolved = await client.code_action_resolve_async(generate[0])
        figures["generate_s"] = round(time.perf_counter() - started, 2)
        if resolved.edit is None:
            raise RuntimeError("Generate returned no edit")
        figures["after_generate"] = await settled(pid)

        function = types.Position(next(i for i, line in enumerate(lines)
                                       if line.startswith("def total_value")), 4)
        started = time.perf_counter()
        await client.workspace_execute_command_async(types.ExecuteCommandParams(
            command="hearth.explain", arguments=[{"uri": uri, "position": {
                "line": function.line, "character": function.character}}]))
        figures["explain_s"] = round(time.perf_counter() - started, 2)
        figures["both_models"] = await settled(pid)

        client.workspace_did_change_configuration(types.DidChangeConfigurationParams(
            settings={"hearth": {"model": {"unloadAfter": unload_after}}}))
        await asyncio.sleep(unload_after + 2)  # past unloadAfter, and the check has run
        figures["after_unload"] = await settled(pid)
    finally:
        await client.shutdown_async(None)
        client.exit(None)
        await client.stop()
    return figures


def median_of(runs: list[dict[str, object]], phase: str, key: str) -> float:
    return round(statistics.median(run[phase][key] for run in runs), 1)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--unload-after", type=int, default=3,
                        help="model.unloadAfter (seconds) set for the last phase")
    args = parser.parse_args()
    workspace = ROOT / ".bench" / "memory-workspace"
    if workspace.exists():
        shutil.rmtree(workspace)
    shutil.copytree(DEMO, workspace)
    runs = []
    for index in range(args.runs):
        runs.append(await one_run(workspace, args.unload_after))
        print(f"run {index + 1}/{args.runs}: " + json.dumps(
            {phase: runs[-1][phase]["total_mib"] for phase in PHASES}), file=sys.stderr)
    results = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python "
                   f"{platform.python_version()}",
        "load_average_1min": [run["load_average_1min"] for run in runs],
        "unload_after_s": args.unload_after,
        "runs": len(runs),
        "median_mib": {phase: {key: median_of(runs, phase, key)
                               for key in ("server_mib", "children_mib", "total_mib")}
                       for phase in PHASES},
        "median_generate_s": statistics.median(run["generate_s"] for run in runs),
        "median_explain_s": statistics.median(run["explain_s"] for run in runs),
        "all": runs,
    }
    (ROOT / ".bench").mkdir(exist_ok=True)
    (ROOT / ".bench" / "memory_rss.json").write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
