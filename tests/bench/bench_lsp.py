"""Benchmark of the language server as an editor sees it (not run by `make test`).

Measures: server start to the `initialize` answer; code action latency (p50/p95 over 200
requests on a 2,000-line file, from its first diagnostics on); diagnostics latency after
typing stops (p50/p95 on a 1,000-line file, the 300 ms debounce included); model load time;
Generate latency for the demo stub through codeAction/resolve (the response cache off).
Prints a Markdown table and writes .bench/lsp.json.

    .venv/bin/python tests/bench/bench_lsp.py [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

from lsprotocol import types
from pygls.lsp.client import LanguageClient

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "examples" / "demo_project" / "inventory" / "stock.py"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def synthetic_module(lines: int) -> str:
    """A plausible module: functions with docstrings and bodies, one stub near the end."""
    out = ['"""A generated module for benchmarks."""', "", "import math", ""]
    index = 0
    while len(out) < lines - 8:
        out += [f"def helper_{index}(x: float, y: float) -> float:",
                f'    """Combine x and y, variant {index}."""',
                "    total = x * y + math.sqrt(abs(x))",
                "    if total > 10:",
                "        return total / 2",
                "    return total", "", ""]
        index += 1
    out += ["def mean(values: list[float]) -> float:",
            '    """Return the arithmetic mean of values."""', "    pass", ""]
    return "\n".join(out) + "\n"


def capabilities() -> types.ClientCapabilities:
    return types.ClientCapabilities(
        window=types.WindowClientCapabilities(work_done_progress=False),
        workspace=types.WorkspaceClientCapabilities(
            workspace_edit=types.WorkspaceEditClientCapabilities(document_changes=True)),
        text_document=types.TextDocumentClientCapabilities(
            code_action=types.CodeActionClientCapabilities(
                resolve_support=types.ClientCodeActionResolveOptions(properties=["edit"]))))


class Session:
    def __init__(self) -> None:
        self.client = LanguageClient("hearth-bench", "1")
        self.published: dict[str, list[tuple[int | None, float]]] = {}

        @self.client.feature(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        def diagnostics(params: types.PublishDiagnosticsParams) -> None:
            self.published.setdefault(params.uri, []).append(
                (params.version, time.perf_counter()))

        for method in ("hearth/status", types.WINDOW_LOG_MESSAGE, types.WINDOW_SHOW_MESSAGE):
            self.client.feature(method)(lambda params: None)

    async def start(self, root: Path, options: dict | None = None) -> float:
        started = time.perf_counter()
        await self.client.start_io(sys.executable, "-m", "hearth", "serve", "--stdio")
        await self.client.initialize_async(types.InitializeParams(
            capabilities=capabilities(), root_uri=root.as_uri(),
            initialization_options=options))
        elapsed = time.perf_counter() - started
        self.client.initialized(types.InitializedParams())
        return elapsed

    def open(self, path: Path, text: str) -> str:
        uri = path.as_uri()
        self.client.text_document_did_open(types.DidOpenTextDocumentParams(
            types.TextDocumentItem(uri=uri, language_id="python", version=1, text=text)))
        return uri

    async def actions(self, uri: str, line: int) -> list:
        position = types.Position(line, 4)
        return await self.client.text_document_code_action_async(types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri), range=types.Range(position, position),
            context=types.CodeActionContext(diagnostics=[]))) or []

    async def stop(self) -> None:
        await self.client.shutdown_async(None)
        self.client.exit(None)
        await self.client.stop()


async def measure_start(runs: int, root: Path) -> list[float]:
    times = []
    for _ in range(runs):
        session = Session()
        times.append(await session.start(root))
        await session.stop()
    return times


async def measure_code_actions(root: Path, requests: int = 200) -> list[float]:
    session = Session()
    await session.start(root)
    text = synthetic_module(2000)
    uri = session.open(root / "big_module.py", text)
    # The list is timed once the server works on the file (its first diagnostics): since
    # `initialize` is answered from a cache while the server loads, the first request would
    # otherwise time the load, which tests/bench/bench_start.py measures.
    while uri not in session.published:
        await asyncio.sleep(0.005)
    lines = text.count("\n")
    stub_line = text.splitlines().index("    pass")
    latencies = []
    for index in range(requests):
        line = stub_line if index % 4 == 0 else (index * 37) % lines
        t0 = time.perf_counter()
        result = await session.actions(uri, line)
        latencies.append(time.perf_counter() - t0)
        if line == stub_line:
            assert any("Generate" in a.title for a in result), "no Generate at the stub"
    await session.stop()
    return latencies


async def measure_diagnostics(root: Path, edits: int = 30) -> list[float]:
    session = Session()
    await session.start(root)
    text = synthetic_module(1000)
    path = root / "diag_module.py"
    uri = session.open(path, text)
    latencies = []
    for version in range(2, edits + 2):
        text = text.replace("import math\n", f"import math\nimport os  # edit {version}\n", 1)
        sent = time.perf_counter()
        session.client.text_document_did_change(types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)]))
        while not any(v == version for v, _ in session.published.get(uri, [])):
            await asyncio.sleep(0.005)
        published = next(t for v, t in session.published[uri] if v == version)
        latencies.append(published - sent)
    await session.stop()
    return latencies


async def measure_generate(runs: int) -> list[float]:
    times = []
    text = DEMO.read_text(encoding="utf-8")
    stub_line = text.splitlines().index("    pass")
    for _ in range(runs):
        session = Session()
        # The model's time, not the history's answer to a request it has seen.
        await session.start(DEMO.parents[1], {"history": {"cache": False}})
        uri = session.open(DEMO, text)
        actions = [a for a in await session.actions(uri, stub_line) if "Generate" in a.title]
        t0 = time.perf_counter()
        resolved = await session.client.code_action_resolve_async(actions[0])
        times.append(time.perf_counter() - t0)
        assert resolved.edit is not None
        await session.stop()
    return times


def measure_model_load(runs: int) -> list[float]:
    from hearth.core.models.llama_cpp import LlamaCppBackend
    from hearth.core.models.manifest import load_manifest, model_file

    path = model_file(load_manifest().get(None))
    times = []
    for _ in range(runs):
        backend = LlamaCppBackend(path)
        backend.load()
        times.append(backend.load_s or 0.0)
        backend.close()
    return times


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    workdir = ROOT / ".bench" / "lsp-workspace"
    workdir.mkdir(parents=True, exist_ok=True)
    load_before = os.getloadavg()[0]
    start = await measure_start(max(args.runs, 5), workdir)
    actions = await measure_code_actions(workdir)
    diagnostics = await measure_diagnostics(workdir)
    load = measure_model_load(args.runs)
    generate = await measure_generate(args.runs)
    results = {
        "date": time.strftime("%Y-%m-%d"), "machine": f"{platform.machine()}, {os.cpu_count()} "
        f"cores, Python {platform.python_version()}", "load_average_1min": round(load_before, 2),
        "start_to_initialize_s": {"median": statistics.median(start), "runs": len(start)},
        "code_action_ms": {"p50": percentile(actions, 0.5) * 1000,
                           "p95": percentile(actions, 0.95) * 1000, "requests": len(actions)},
        "diagnostics_after_typing_ms": {"p50": percentile(diagnostics, 0.5) * 1000,
                                        "p95": percentile(diagnostics, 0.95) * 1000,
                                        "edits": len(diagnostics), "debounce_ms": 300},
        "model_load_s": {"median": statistics.median(load), "runs": len(load)},
        "generate_demo_s": {"median": statistics.median(generate), "runs": len(generate),
                            "all": generate},
    }
    (ROOT / ".bench").mkdir(exist_ok=True)
    (ROOT / ".bench" / "lsp.json").write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "server"))
    asyncio.run(main())
