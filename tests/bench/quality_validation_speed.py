"""How long the shared validators take on one candidate in a 1,000-line file: the first call
(jedi and flake8 cold) and the median of later ones (a long-running server's case), as wall
time and as this process's CPU time (the robust figure on a shared machine).

    .venv/bin/python tests/bench/quality_validation_speed.py [--repeat 7]

The file is the first 1,000 lines (cut at a top-level statement) of the standard library's
``shutil.py`` with a stub appended; the candidate implements the stub with calls into the
file, the standard library and one hallucinated attribute. Figures go to stdout and to
.bench/quality_validation_speed.json.
"""

from __future__ import annotations

import argparse
import ast
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "server"))

from hearth.core.pipeline.types import ActionRequest, Candidate  # noqa: E402
from hearth.core.pipeline.defaults import default_validators  # noqa: E402
from hearth.core.text import Pos  # noqa: E402

STUB = '''

def copy_tree_listing(src: str, names: list[str]) -> list[str]:
    """The full paths of ``names`` under ``src`` that are regular files, sorted."""
    pass
'''
BODY = '''    found = []
    for name in names:
        path = os.path.join(src, name)
        if os.path.isfile(path) and not _samefile(path, path + ".bak"):
            found.append(os.path.normpath(path))
        elif os.path.existz(path):
            copyfile(path)
    # keep the order stable for callers
    return sorted(found, key=str.lower)
'''


def thousand_lines() -> str:
    source = Path(shutil.__file__).read_text(encoding="utf-8")
    lines = source.splitlines(keepends=True)
    tree = ast.parse(source)
    cut = max(node.end_lineno for node in tree.body if node.end_lineno <= 1000)
    return "".join(lines[:cut])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        workspace = Path(folder)
        original = thousand_lines() + STUB
        path = workspace / "tree_tools.py"
        path.write_text(original, encoding="utf-8")
        stub_line = len(original.splitlines()) - 1
        request = ActionRequest(original, Pos(stub_line, 4), path=path, workspace=workspace)
        validators = default_validators(workspace)
        per_check: dict[str, list[float]] = {}
        totals, cpu_totals = [], []
        findings = []
        for run in range(args.repeat):
            # A different candidate each time, as the engine sees: nothing cached per text.
            new = original.removesuffix("    pass\n") + BODY.replace("found", f"found{run}")
            candidate = Candidate(None, new_source=new)
            start, cpu_start = time.perf_counter(), time.process_time()
            findings = []
            for validate in validators:
                began = time.perf_counter()
                findings += validate(request, candidate)
                per_check.setdefault(type(validate).__name__, []).append(
                    time.perf_counter() - began)
            totals.append(time.perf_counter() - start)
            cpu_totals.append(time.process_time() - cpu_start)
    result = {
        "lines": len(original.splitlines()),
        "first_s": round(totals[0], 3),
        "warm_median_s": round(statistics.median(totals[1:]), 3),
        "warm_max_s": round(max(totals[1:]), 3),
        # CPU time of this process: what the checks cost without the other jobs' contention.
        "first_cpu_s": round(cpu_totals[0], 3),
        "warm_median_cpu_s": round(statistics.median(cpu_totals[1:]), 3),
        "per_check_warm_median_s": {name: round(statistics.median(times[1:]), 4)
                                    for name, times in per_check.items()},
        "per_check_first_s": {name: round(times[0], 3) for name, times in per_check.items()},
        "findings": [f"{f.rule}: {f.reason}" for f in findings],
    }
    out = REPO / ".bench" / "quality_validation_speed.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
