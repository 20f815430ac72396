"""Judge benchmark answers with a problem's hidden tests: every answer of one problem in one
sandboxed process, each in a forked child with a time limit (helper of bench_quality.py)."""

from __future__ import annotations

import json
import secrets
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "server"))

from hearth.core.sandbox import run_python  # noqa: E402

TIMEOUT_S = 6  # per answer; HumanEval's own harness allows 3 s on an idle machine
RUNNER = "hearth_judge.py"
SPEC = "hearth_judge.json"
RUNNER_SOURCE = textwrap.dedent('''\
    import json, os, signal, sys

    with open("hearth_judge.json", encoding="utf-8") as handle:
        SPEC = json.load(handle)
    verdicts = []
    for source in SPEC["sources"]:
        # Success is a byte written after check() returns, not the exit status: an answer
        # that calls os._exit(0) must not pass.
        reader, writer = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(reader)
            try:
                signal.alarm(SPEC["timeout_s"])
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, 1)
                os.dup2(devnull, 2)
                program = source + "\\n\\n" + SPEC["test"] + "\\n\\ncheck(" + SPEC["entry"] + ")\\n"
                exec(compile(program, "solution.py", "exec"), {"__name__": "solution"})
                os.write(writer, b"1")
            except BaseException:
                pass
            os._exit(0)
        os.close(writer)
        passed = os.read(reader, 1) == b"1"
        os.close(reader)
        os.waitpid(pid, 0)
        verdicts.append(passed)
    print(SPEC["mark"] + json.dumps(verdicts), flush=True)
''')


def judge_all(sources: list[str | None], test: str, entry_point: str) -> list[bool]:
    """Whether each source passes ``test`` (``check(entry_point)``); None never passes."""
    unique = list(dict.fromkeys(s for s in sources if s))
    verdict: dict[str, bool] = {}
    if unique:
        mark = f"@@judge-{secrets.token_hex(6)}@@"
        spec = {"sources": unique, "test": test, "entry": entry_point,
                "timeout_s": TIMEOUT_S, "mark": mark}
        result = run_python({RUNNER: RUNNER_SOURCE, SPEC: json.dumps(spec)}, [RUNNER],
                            timeout_s=10 + TIMEOUT_S * len(unique), memory_mb=1024)
        lines = [line for line in result.stdout.splitlines() if line.startswith(mark)]
        if not lines:
            raise RuntimeError(f"the judge failed: {result.stderr[-2000:]}")
        verdict = dict(zip(unique, json.loads(lines[-1][len(mark):])))
    return [bool(s) and verdict.get(s, False) for s in sources]
