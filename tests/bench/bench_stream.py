"""Benchmark of Explain as it streams through the language server (not run by `make test`).

Measures, on the real server and default model, as the VS Code extension sees them: the time
from `workspace/executeCommand` to the first `hearth/explainProgress` text and to the answer,
with the model already loaded; and the prompt tokens each request evaluated, as the answer
reports them from the batch decoder's count: a first request on a fresh server, then the same
request again (its prompt shares everything with the last one). Writes .bench/stream.json.

    .venv/bin/python tests/bench/bench_stream.py [--runs 3]
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
from typing import Any

from lsprotocol import types
from pygls.lsp.client import LanguageClient

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "examples" / "demo_project" / "inventory" / "stock.py"


def capabilities() -> types.ClientCapabilities:
    return types.ClientCapabilities(
        window=types.WindowClientCapabilities(work_done_progress=False),
        experimental={"hearth": {"showsMarkdown": True, "streamsMarkdown": True}})


class StreamingClient:
    def __init__(self) -> None:
        self.client = LanguageClient("hearth-bench-stream", "1")
        self.first_text: float | None = None
        self.updates = 0

        @self.client.feature("hearth/explainProgress")
        def partial(params: Any) -> None:
            self.updates += 1
            if self.first_text is None:
                self.first_text = time.perf_counter()

        for method in ("hearth/status", types.WINDOW_LOG_MESSAGE, types.WINDOW_SHOW_MESSAGE,
                       types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS):
            self.client.feature(method)(lambda params: None)

    async def start(self, root: Path) -> None:
        await self.client.start_io(sys.executable, "-m", "hearth", "serve", "--stdio")
        await self.client.initialize_async(types.InitializeParams(
            capabilities=capabilities(), root_uri=root.as_uri(),
            initialization_options={"index": {"enabled": False}}))
        self.client.initialized(types.InitializedParams())

    async def explain(self, uri: str, line: int) -> dict[str, Any]:
        """One Explain at ``line``: the answer's report with its times."""
        self.first_text, self.updates = None, 0
        started = time.perf_counter()
        answer = await self.client.workspace_execute_command_async(types.ExecuteCommandParams(
            command="hearth.explain",
            arguments=[{"uri": uri, "position": {"line": line, "character": 4}}]))
        done = time.perf_counter()
        return {"first_text_s": None if self.first_text is None else self.first_text - started,
                "answer_s": done - started, "updates": self.updates,
                "prompt_tokens": answer.get("prompt_tokens"),
                "prompt_tokens_evaluated": answer.get("prompt_tokens_evaluated")}

    async def stop(self) -> None:
        await self.client.shutdown_async(None)
        self.client.exit(None)
        await self.client.stop()


def first_function_line(text: str) -> int:
    return next(index for index, line in enumerate(text.splitlines())
                if line.startswith("def ")) + 1


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    text = DEMO.read_text(encoding="utf-8")
    line = first_function_line(text)
    session = StreamingClient()
    await session.start(DEMO.parent)
    uri = DEMO.as_uri()
    session.client.text_document_did_open(types.DidOpenTextDocumentParams(
        types.TextDocumentItem(uri=uri, language_id="python", version=1, text=text)))
    try:
        cold = await session.explain(uri, line)  # loads the model; a fresh KV cache
        repeated = [await session.explain(uri, line) for _ in range(args.runs)]
    finally:
        await session.stop()
    firsts = [run["first_text_s"] for run in repeated if run["first_text_s"] is not None]
    results = {
        "date": time.strftime("%Y-%m-%d"), "machine": f"{platform.machine()}, {os.cpu_count()} "
        f"cores, Python {platform.python_version()}", "load_average_1min": round(load_before, 2),
        "file": str(DEMO.relative_to(ROOT)), "line": line + 1,
        "first_request": cold,
        "time_to_first_text_s": {"median": statistics.median(firsts) if firsts else None,
                                 "runs": len(firsts), "all": firsts},
        "answer_s": {"median": statistics.median(run["answer_s"] for run in repeated),
                     "runs": len(repeated)},
        "prompt_tokens": cold["prompt_tokens"],
        "prompt_tokens_evaluated": {"first": cold["prompt_tokens_evaluated"],
                                    "repeated": [run["prompt_tokens_evaluated"]
                                                 for run in repeated]},
    }
    (ROOT / ".bench").mkdir(exist_ok=True)
    (ROOT / ".bench" / "stream.json").write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "server"))
    asyncio.run(main())
