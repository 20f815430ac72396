"""What an editor waits for when it starts Hearth (issue 16; not run by `make test`).

Starts `python -m hearth serve --stdio` again and again, as an editor does, and times from
the process's start:
- the answer to `initialize`;
- the first diagnostics of a file opened right after `initialized` (the server loaded and
  working).

Two conditions, interleaved run by run so that they share the machine's load:
- "first start": an empty cache folder, so `initialize` is answered by the loaded server;
- "repeated start": the cache folder of an earlier start, so `initialize` is answered from
  the cache while the server loads (hearth.lsp.early).

Hearth's bytecode is compiled first (a user's Python keeps it; this environment may set
PYTHONDONTWRITEBYTECODE). The same run times `python -c pass` and `import lsprotocol.types`
for scale. Prints a Markdown table and writes .bench/start.json.

    .venv/bin/python tests/bench/bench_start.py [--runs 9]
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
CAPABILITIES = {"window": {"workDoneProgress": True},
                "workspace": {"configuration": False},
                "textDocument": {"publishDiagnostics": {}, "codeAction": {}}}


def frame(message: dict[str, Any]) -> bytes:
    body = json.dumps(message).encode()
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


def read(stream: Any) -> dict[str, Any]:
    length = None
    while True:
        line = stream.readline()
        if not line:
            raise RuntimeError("the server closed its stdout")
        if line in (b"\r\n", b"\n"):
            break
        if line.lower().startswith(b"content-length"):
            length = int(line.split(b":")[1])
    return json.loads(stream.read(length))


def one_start(cache: Path, logs: Path, workspace: Path) -> dict[str, float]:
    env = {**os.environ, "HEARTH_CACHE_DIR": str(cache), "HEARTH_LOG_DIR": str(logs),
           "PYTHONPATH": str(ROOT / "server")}
    module = workspace / "mod.py"
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "hearth", "serve", "--stdio"],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, env=env, cwd=workspace)
    try:
        process.stdin.write(frame({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "processId": os.getpid(), "rootUri": workspace.as_uri(),
            "capabilities": CAPABILITIES, "initializationOptions": {"index": {"enabled": False}},
            "workspaceFolders": [{"uri": workspace.as_uri(), "name": workspace.name}]}}))
        process.stdin.flush()
        while read(process.stdout).get("id") != 1:
            pass
        initialize = time.perf_counter() - started
        process.stdin.write(frame({"jsonrpc": "2.0", "method": "initialized", "params": {}}))
        process.stdin.write(frame({"jsonrpc": "2.0", "method": "textDocument/didOpen",
                                   "params": {"textDocument": {
                                       "uri": module.as_uri(), "languageId": "python",
                                       "version": 1, "text": module.read_text()}}}))
        process.stdin.flush()
        while True:
            message = read(process.stdout)
            if message.get("method") == "textDocument/publishDiagnostics" \
                    and message["params"]["uri"] == module.as_uri():
                break
        diagnostics = time.perf_counter() - started
        process.stdin.write(frame({"jsonrpc": "2.0", "id": 2, "method": "shutdown"}))
        process.stdin.write(frame({"jsonrpc": "2.0", "method": "exit"}))
        process.stdin.flush()
        process.wait(30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return {"initialize_s": initialize, "diagnostics_s": diagnostics}


def bare(code: str) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    compileall.compile_dir(str(ROOT / "server" / "hearth"), quiet=1)
    load_before = os.getloadavg()[0]
    work = Path(tempfile.mkdtemp(prefix="hearth-bench-start-"))
    try:
        workspace = work / "ws"
        workspace.mkdir()
        (workspace / "mod.py").write_text("import os\n\n\ndef f(x):\n    return x\n")
        warm_cache = work / "warm-cache"
        one_start(warm_cache, work / "logs", workspace)  # fills the cache once
        runs: dict[str, list[dict[str, float]]] = {"first start": [], "repeated start": []}
        scale: dict[str, list[float]] = {"python -c pass": [], "import lsprotocol.types": []}
        for run in range(args.runs):
            cold_cache = work / f"cold-cache-{run}"
            runs["first start"].append(one_start(cold_cache, work / "logs", workspace))
            runs["repeated start"].append(one_start(warm_cache, work / "logs", workspace))
            scale["python -c pass"].append(bare("pass"))
            scale["import lsprotocol.types"].append(bare("import lsprotocol.types"))
        log = (work / "logs" / "hearth.log").read_text()
        early = log.count("Answered initialize from the cache")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    load_after = os.getloadavg()[0]
    results = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python "
                   f"{platform.python_version()}",
        "load_average_1min": [round(load_before, 2), round(load_after, 2)],
        "runs": args.runs, "answered_from_the_cache": early,
        "conditions": {name: {key: statistics.median(r[key] for r in values)
                              for key in ("initialize_s", "diagnostics_s")}
                       for name, values in runs.items()},
        "scale_s": {name: statistics.median(values) for name, values in scale.items()},
    }
    out = ROOT / ".bench" / "start.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(f"Start-up, {args.runs} runs each (medians); {results['machine']}; load "
          f"{load_before:.2f} before, {load_after:.2f} after; {results['date']}")
    print("Command: `.venv/bin/python tests/bench/bench_start.py "
          f"--runs {args.runs}`\n")
    print("| start | to the `initialize` answer | to the first diagnostics |")
    print("|---|---|---|")
    for name, figures in results["conditions"].items():
        print(f"| {name} | {figures['initialize_s'] * 1000:.0f} ms | "
              f"{figures['diagnostics_s'] * 1000:.0f} ms |")
    print(f"\nAnswered from the cache: {early} of {args.runs} repeated starts.")
    for name, value in results["scale_s"].items():
        print(f"`{name}`: {value * 1000:.0f} ms")


if __name__ == "__main__":
    main()
