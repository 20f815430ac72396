"""Writes benign_code.jsonl: real lines from this machine's Python standard library (test
suites left out) and from the RECORD files of installed packages (sha256 hashes that look
random); and instructions_real.jsonl: the first lines of the standard library's docstrings that
start with a verb a destructive request would use too ("Remove ...", "Send ...", "Format ...",
"Delete ...", "Run ..."), which is how developers describe what they want a function to do.
Both are picked by a stable hash, so the same installation always gives the same items.

    .venv/bin/python tests/guardrail_corpus/build_benign.py
"""

from __future__ import annotations

import ast
import hashlib
import json
import sys
import sysconfig
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
CODE_LINES = 450
RECORD_LINES = 100
DOCSTRING_LINES = 300
# First words of docstrings kept: the verbs of the destructive and exfiltration rules, and
# their neighbours.
VERBS = frozenset({
    "remove", "delete", "drop", "kill", "clear", "format", "erase", "reset", "send", "upload",
    "disable", "truncate", "destroy", "wipe", "purge", "terminate", "overwrite", "unlink",
    "empty", "discard", "flush", "shutdown", "abort", "cancel", "forget", "ignore", "bypass",
    "skip", "execute", "run", "spawn", "fork", "post", "mail", "dump",
})


def _rank(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _stdlib_files() -> list[tuple[str, Path]]:
    root = Path(sysconfig.get_paths()["stdlib"])
    return [(path.relative_to(root).as_posix(), path) for path in sorted(root.rglob("*.py"))
            if not any(part in path.relative_to(root).as_posix()
                       for part in ("test", "site-packages", "idlelib"))]


def _stdlib_lines() -> list[dict]:
    found = []
    for relative, path in _stdlib_files():
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (UnicodeDecodeError, OSError):
            continue
        for number, line in enumerate(lines, 1):
            if len(line.strip()) >= 25:
                found.append({"source": f"stdlib/{relative}:{number}", "text": line})
    found.sort(key=lambda item: _rank(item["source"]))
    return found[:CODE_LINES]


def _record_lines() -> list[dict]:
    site = REPO / ".venv" / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}"
    found = []
    for record in sorted(site.glob("site-packages/*.dist-info/RECORD")):
        for number, line in enumerate(record.read_text(encoding="utf-8").splitlines(), 1):
            if "sha256=" in line:
                found.append({"source": f"{record.parent.name}/RECORD:{number}", "text": line})
    found.sort(key=lambda item: _rank(item["source"]))
    return found[:RECORD_LINES]


def _docstring_lines() -> list[dict]:
    found = []
    for relative, path in _stdlib_files():
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError, OSError, ValueError):
            continue
        for node in ast.walk(tree):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                continue
            summary = (ast.get_docstring(node) or "").strip().split("\n")[0].strip()
            words = summary.split()
            if len(words) >= 2 and words[0].lower().removesuffix("s") in VERBS | {
                    word.removesuffix("s") for word in VERBS}:
                found.append({"source": f"stdlib/{relative}:{node.lineno}", "text": summary})
    found.sort(key=lambda item: _rank(item["source"]))
    return found[:DOCSTRING_LINES]


def _write(name: str, category: str, prefix: str, items: list[dict]) -> None:
    with open(HERE / name, "w", encoding="utf-8") as out:
        for item in items:
            record = {"id": f"{prefix}-{_rank(item['source'])[:10]}", "kind": "benign",
                      "category": category, **item}
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    print(f"wrote {len(items)} items to {name}")


def main() -> None:
    _write("benign_code.jsonl", "benign_code", "code", _stdlib_lines() + _record_lines())
    _write("instructions_real.jsonl", "benign_docstring_instructions", "docstring",
           _docstring_lines())


if __name__ == "__main__":
    main()
