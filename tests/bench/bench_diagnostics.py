"""Benchmark of diagnostics while the user types (issue 16, item 3; not run by `make test`).

Two measures on a 1,000-line module of real code (CPython's ftplib.py) and on bench_lsp's
synthetic 1,000-line module:

1. The analysis itself, in process, on the code path the server runs (the workspace's
   `AnalysisContext`): each keystroke of a replayed typing session inside a function body,
   p50/p95, with flake8's per-block replay and without it (the same run, so a ratio).
2. Through the real server over stdio: bursts of keystrokes at human pace (150-300 ms apart,
   seeded), then a pause; the time from the last keystroke to the diagnostics of that text
   (the adaptive wait included), and how many runs were published during the bursts.

    .venv/bin/python tests/bench/bench_diagnostics.py [--bursts 8]

Prints JSON and writes .bench/diagnostics.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import sys
import sysconfig
import time
from pathlib import Path

from lsprotocol import types

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "server"), str(ROOT)]

from hearth.core.analysis.context import AnalysisContext  # noqa: E402
from tests.bench.bench_lsp import Session, percentile, synthetic_module  # noqa: E402

REAL = Path(sysconfig.get_paths()["stdlib"]) / "ftplib.py"
TYPED = "        total = sum(value * 2 for value in values if value)  # typed\n"


def typing_versions(source: str, anchor: str) -> list[str]:
    """The texts a user produces typing ``TYPED`` as a new line after ``anchor``'s line, one
    keystroke at a time."""
    at = source.index(anchor)
    at = source.index("\n", at) + 1
    indent = " " * (len(anchor) - len(anchor.lstrip()))
    line = indent + TYPED.lstrip()
    return [source[:at] + line[:n] + "\n" + source[at:] for n in range(1, len(line))]


def measure_in_process(source: str, anchor: str, path: Path) -> dict:
    versions = typing_versions(source, anchor)
    figures = {}
    for label, replay in (("block replay", True), ("whole file", False)):
        context = AnalysisContext(path.parent)
        context.diagnostics(source, path)  # the file as opened
        times = []
        for text in versions:
            if not replay:
                context.flake8_blocks.clear()
            started = time.perf_counter()
            context.diagnostics(text, path)
            times.append(time.perf_counter() - started)
        figures[label] = {"p50_ms": round(percentile(times, 0.5) * 1000, 1),
                          "p95_ms": round(percentile(times, 0.95) * 1000, 1),
                          "keystrokes": len(times)}
    return figures


async def measure_through_server(root: Path, source: str, anchor: str, bursts: int,
                                 seed: int) -> dict:
    rng = random.Random(seed)
    session = Session()
    await session.start(root)
    path = root / "typed_module.py"
    uri = session.open(path, source)
    while not session.published.get(uri):
        await asyncio.sleep(0.01)
    versions = typing_versions(source, anchor)
    version, after_last, during = 1, [], 0
    for _ in range(bursts):
        start = rng.randrange(0, len(versions) - 12)
        burst = versions[start:start + 12]
        published_before = len(session.published[uri])
        for text in burst:
            version += 1
            session.client.text_document_did_change(types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
                content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)]))
            sent = time.perf_counter()
            if text is not burst[-1]:
                await asyncio.sleep(rng.uniform(0.15, 0.3))
        during += len(session.published[uri]) - published_before
        while not any(v == version for v, _ in session.published[uri]):
            await asyncio.sleep(0.002)
        after_last.append(next(t for v, t in session.published[uri] if v == version) - sent)
        await asyncio.sleep(1.5)  # the user pauses, reads
        # back to the file as opened, analysed, before the next burst
        version += 1
        session.client.text_document_did_change(types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text=source)]))
        while not any(v == version for v, _ in session.published[uri]):
            await asyncio.sleep(0.01)
        await asyncio.sleep(1.2)
    await session.stop()
    return {"last_keystroke_to_diagnostics_ms": {
                "p50": round(percentile(after_last, 0.5) * 1000), "p95":
                round(percentile(after_last, 0.95) * 1000), "bursts": len(after_last)},
            "published_during_bursts": during, "keystrokes": bursts * 12}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bursts", type=int, default=8)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    workdir = ROOT / ".bench" / "diagnostics-workspace"
    workdir.mkdir(parents=True, exist_ok=True)
    load_before = os.getloadavg()[0]
    modules = {"ftplib.py (981 lines)": (REAL.read_text(encoding="utf-8"),
                                         "        resp = self.getresp()"),
               "synthetic (1,000 lines)": (synthetic_module(1000),
                                           "    total = x * y + math.sqrt(abs(x))")}
    results: dict = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                     "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python "
                                f"{platform.python_version()}",
                     "load_average_1min_before": round(load_before, 2), "modules": {}}
    for name, (source, anchor) in modules.items():
        results["modules"][name] = {
            "analysis_per_keystroke": measure_in_process(source, anchor,
                                                         workdir / "typed_module.py"),
            "server": await measure_through_server(workdir, source, anchor, args.bursts,
                                                   args.seed)}
    results["load_average_1min_after"] = round(os.getloadavg()[0], 2)
    (ROOT / ".bench").mkdir(exist_ok=True)
    (ROOT / ".bench" / "diagnostics.json").write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
