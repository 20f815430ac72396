"""How precise and how complete the security rules (HS1xx) are, and how bandit compares.

Scans real code nobody here wrote (by default this Python's standard library and its
site-packages; pass sdists with --roots to include their tests), counts findings inside and
outside test code, scores the hand-judged findings in tests/security_corpus/judged.toml, runs
the vulnerable snippets in tests/security_corpus/snippets/ for recall, and, when bandit is
installed, runs it over the same files and compares rule by rule.

    python tests/bench/bench_security.py --roots /path/to/python3.11 sdists/requests-2.34.2 ...
    python tests/bench/bench_security.py --list-unjudged   # findings outside tests to judge

Prints its figures and writes them to .bench/security.json. Not part of `make test`.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import sysconfig
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "server"))
sys.path.insert(0, str(ROOT))

from hearth.core.analysis.findings import Severity  # noqa: E402
from hearth.core.analysis.security import scan  # noqa: E402
from hearth.core.analysis.security_testcode import is_test_path  # noqa: E402
from tests.security_corpus import corpus  # noqa: E402

# bandit's checks that look for what each Hearth rule looks for.
BANDIT_RULES = {
    "HS101": ("B102", "B307"),
    "HS102": ("B605",),
    "HS103": ("B602", "B604"),
    "HS104": ("B301", "B302"),
    "HS105": ("B506",),
    "HS106": ("B608",),
    "HS107": ("B103",),
    "HS108": ("B306",),
    "HS109": (),  # bandit has no check for key and token formats
    "HS110": ("B105", "B106", "B107"),
    "HS111": ("B501",),
}
HEARTH_OF_BANDIT = defaultdict(set)
for _rule, _tests in BANDIT_RULES.items():
    for _test in _tests:
        HEARTH_OF_BANDIT[_test].add(_rule)


def default_roots() -> list[Path]:
    paths = sysconfig.get_paths()
    return [Path(paths["stdlib"]), Path(paths["purelib"])]


def python_files(roots: list[Path]) -> list[tuple[str, Path]]:
    """(key, path): the key is the root's folder name and the path below it, so that judged
    findings keep their names on another machine."""
    files = []
    for root in roots:
        for path in sorted(root.rglob("*.py")):
            relative = path.relative_to(root)
            # The stdlib root contains site-packages; it is scanned as its own root if asked.
            if "site-packages" in relative.parts or "__pycache__" in relative.parts:
                continue
            files.append((f"{root.name}/{relative.as_posix()}", path))
    return files


def hearth_findings(files: list[tuple[str, Path]]) -> tuple[list[dict], int]:
    results, lines = [], 0
    for key, path in files:
        try:
            source = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        lines += source.count("\n")
        text_lines = source.splitlines()
        relative = key.split("/", 1)[1]
        for finding in scan(source, path=relative):
            code = text_lines[finding.line].strip() if finding.line < len(text_lines) else ""
            results.append({
                "file": key, "line": finding.line + 1, "rule": finding.code, "code": code,
                "message": finding.message, "test": finding.severity is Severity.HINT
                or is_test_path(relative),
            })
    return results, lines


def bandit_findings(files: list[tuple[str, Path]]) -> list[dict] | None:
    try:
        import bandit  # noqa: F401
    except ImportError:
        return None
    tests = ",".join(sorted(HEARTH_OF_BANDIT))
    by_path = {str(path): key for key, path in files}
    results = []
    chunk = 400  # bandit's command line, not its speed, is the limit here
    paths = list(by_path)
    for start in range(0, len(paths), chunk):
        completed = subprocess.run(
            [sys.executable, "-m", "bandit", "-q", "-f", "json", "-t", tests,
             *paths[start:start + chunk]],
            capture_output=True, text=True, check=False)
        report = json.loads(completed.stdout or "{}")
        for item in report.get("results", []):
            key = by_path.get(item["filename"])
            if key is None:
                continue
            relative = key.split("/", 1)[1]
            results.append({
                "file": key, "line": item["line_number"], "test_id": item["test_id"],
                "code": corpus.line_text(Path(item["filename"]), item["line_number"]),
                "test": is_test_path(relative),
            })
    return results


def precision(found: list[dict], judged: dict) -> dict:
    scored = [judged[corpus.finding_key(item)] for item in found
              if corpus.finding_key(item) in judged]
    real = sum(1 for verdict in scored if verdict["verdict"] == "real")
    return {"judged": len(scored), "real": real,
            "precision": round(real / len(scored), 3) if scored else None}


def bandit_comparison(ours: list[dict], theirs: list[dict], judged: dict) -> dict:
    our_lines = defaultdict(set)
    for item in ours:
        our_lines[item["rule"]].add((item["file"], item["line"]))
    rows = {}
    for rule, tests in BANDIT_RULES.items():
        mine = [item for item in ours if item["rule"] == rule]
        bandit = [item for item in theirs if item["test_id"] in tests]
        bandit_lines = {(item["file"], item["line"]) for item in bandit}
        mine_lines = our_lines[rule]
        outside = [item for item in bandit if not item["test"]]
        rows[rule] = {
            "hearth": len(mine), "hearth_outside_tests": sum(not i["test"] for i in mine),
            "bandit": len(bandit), "bandit_outside_tests": len(outside),
            "both": len(mine_lines & bandit_lines),
            "only_hearth": len(mine_lines - bandit_lines),
            "only_bandit": len(bandit_lines - mine_lines),
        }
    judged_bandit = [corpus.bandit_verdict(item, judged, HEARTH_OF_BANDIT[item["test_id"]])
                     for item in theirs if not item["test"]]
    judged_bandit = [verdict for verdict in judged_bandit if verdict is not None]
    real = sum(1 for verdict in judged_bandit if verdict["verdict"] == "real")
    rows["bandit precision outside tests"] = {
        "judged": len(judged_bandit), "real": real,
        "precision": round(real / len(judged_bandit), 3) if judged_bandit else None,
    }
    return rows


def recall() -> dict:
    snippets = corpus.snippets()
    missed = []
    for snippet in snippets:
        codes = {f.code for f in scan(snippet.source, path=snippet.path.name)}
        if not set(snippet.expected) <= codes or (not snippet.expected and codes):
            missed.append(snippet.path.name)
    vulnerable = [s for s in snippets if s.expected]
    caught = len(vulnerable) - sum(1 for s in vulnerable if s.path.name in missed)
    safe = [s for s in snippets if not s.expected]
    quiet = len(safe) - sum(1 for s in safe if s.path.name in missed)
    return {"vulnerable": len(vulnerable), "caught": caught,
            "recall": round(caught / len(vulnerable), 3) if vulnerable else None,
            "safe": len(safe), "quiet": quiet, "wrong": missed}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--roots", nargs="+", type=Path, default=None,
                        help="folders of Python code to scan (default: stdlib, site-packages)")
    parser.add_argument("--no-bandit", action="store_true", help="skip the bandit comparison")
    parser.add_argument("--list-unjudged", action="store_true",
                        help="print the findings outside tests that judged.toml lacks")
    args = parser.parse_args()
    roots = args.roots or default_roots()
    missing = [str(root) for root in roots if not root.is_dir()]
    if missing:
        parser.error(f"not a folder: {', '.join(missing)}")
    files = python_files(roots)
    judged = corpus.judged()
    started = time.perf_counter()
    ours, lines = hearth_findings(files)
    seconds = time.perf_counter() - started
    outside = [item for item in ours if not item["test"]]
    if args.list_unjudged:
        for item in outside:
            if corpus.finding_key(item) not in judged:
                print(f"{item['file']}:{item['line']} {item['rule']} {item['code']}\n"
                      f"    {item['message']}")
        return 0
    figures = {
        "roots": [str(root) for root in roots], "files": len(files), "lines": lines,
        "scan_seconds": round(seconds, 1),
        "findings": len(ours), "in_tests": len(ours) - len(outside), "outside_tests": len(outside),
        "by_rule_outside_tests": dict(sorted(Counter(i["rule"] for i in outside).items())),
        "precision_outside_tests": precision(outside, judged),
        "recall": recall(),
    }
    theirs = None if args.no_bandit else bandit_findings(files)
    if theirs is not None:
        figures["bandit"] = bandit_comparison(ours, theirs, judged)
    out = ROOT / ".bench" / "security.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
