"""What the history buys (issue "Learning from the user"; not run by `make test`).

A scripted session on tests/bench/memory_project: its 26 requests in order (tasks.json),
Generate for 20 stubs and Fix for 6 findings in legacy.py (an undefined name where the
project has its own, SQL formatted from a parameter), each answer judged by hidden checks of
the project's conventions (its own exception class, its money() formatter, its query() helper
with :name placeholders). An accepted answer is kept in the file (and rated good with the
history on); a rejected one is rated bad and the stub (or the finding) stays. Run twice on
fresh copies: history off, then on. Then the response cache: five requests asked of the
model, asked again (core call), and once more through a language server on the same
workspace. Last, the database is scanned for secrets.

    .venv/bin/python tests/bench/bench_memory.py [--project dev|heldout] [--limit N]
        [--skip-lsp] [--only sessions|cache] [--notes convention|failure]
        [--retry | --retries N] [--rate-refusals]

``--notes convention``: a rejected answer is rated bad with a note in the user's words naming
its convention (the project's notes.json, written before the first run with it); ``--notes
failure``: with the first hidden check it failed, in words ("parse_email(' A@B.com ') should
be 'a@b.com'"), as a user who tried it reports it, or the convention's note when the check is
not a plain call (a stand-in database); ``--retry``: a rejected request is asked once more
after its rating (``--retries N``: up to N times, each after the rating of the last
answer); ``--rate-refusals``: a request that no answer passed (nothing to try) is rated bad
with its convention's note, as a user tells Hearth what they want.

"dev" (tests/bench/memory_project) is the project the history's choices were looked at on;
"heldout" (tests/bench/memory_heldout) was written before they were checked on it. Writes
.bench/memory_<project>.json and prints a Markdown summary.
"""

from __future__ import annotations

import argparse
import ast
import asyncio
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

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "server"))
PROJECTS = {"dev": ROOT / "tests" / "bench" / "memory_project",
            "heldout": ROOT / "tests" / "bench" / "memory_heldout"}

from hearth.core.errors import HearthError, NoAnswer  # noqa: E402
from hearth.core.history import history_path  # noqa: E402
from hearth.core.session import Session  # noqa: E402
from hearth.core.text import Pos  # noqa: E402
from hearth.settings import HistorySettings, Settings  # noqa: E402

HARNESS = r'''
import importlib, re, sys
sys.path.insert(0, sys.argv[1])
package = sys.argv[5]
module = importlib.import_module(f"{package}.{sys.argv[2]}")
exec(f"from {package}.errors import *")


class Cursor:
    def __init__(self, names, rows):
        self.description = [(n, None, None, None, None, None, None) for n in names]
        self.rows = rows
    def fetchall(self):
        return list(self.rows)
    def fetchone(self):
        return self.rows[0] if self.rows else None
    def __iter__(self):
        return iter(self.rows)


class FakeDb:
    def __init__(self, names, rows):
        self.names, self.rows, self.calls = names, rows, []
    def execute(self, sql, params=()):
        self.calls.append((sql, params))
        return Cursor(self.names, self.rows)
    def cursor(self):
        return self
    def named(self, value):
        sql, params = self.calls[-1]
        assert isinstance(params, dict) and value in params.values(), (sql, params)
        assert re.search(r":[A-Za-z_]\w*", sql) and repr(value) not in sql, sql


def raises(kind, fn, *args):
    try:
        fn(*args)
    except kind:
        return
    except Exception as exc:
        raise AssertionError(f"{fn.__name__}{args} raised {exc!r}, not {kind.__name__}")
    raise AssertionError(f"{fn.__name__}{args} raised nothing")


f = getattr(module, sys.argv[3])
try:
    exec(compile(sys.argv[4], "<check>", "exec"))
except BaseException:
    import traceback
    failed = [frame.lineno for frame in traceback.extract_tb(sys.exc_info()[2])
              if frame.filename == "<check>"]
    if failed:
        print(f"FAILED-LINE {failed[-1]}", file=sys.stderr)
    raise
'''


def stub_line(source: str, function: str) -> int:
    lines = source.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"def {function}("))
    return next(i for i in range(start, len(lines)) if lines[i].strip() == "pass")


def ask(session: Session, task: dict, source: str, path: Path):
    """The action and request of ``task``: Generate at its function's stub, or Fix of the
    finding (``code``) on the first line of its function that holds ``at``."""
    if task.get("action", "generate") == "generate":
        return "generate", session.request(source, Pos(stub_line(source, task["function"]), 4),
                                           path=path)
    lines = source.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"def {task['function']}("))
    line = next(i for i in range(start, len(lines)) if task["at"] in lines[i])
    column = len(lines[line]) - len(lines[line].lstrip())
    return "fix", session.request(source, Pos(line, column), path=path,
                                  extra={"code": task["code"]})


def package_of(root: Path) -> str:
    return next(p.name for p in sorted(root.iterdir()) if (p / "__init__.py").is_file())


def passes(root: Path, task: dict, new_source: str) -> tuple[bool, str, str | None]:
    """The hidden checks, on a copy of the project with the answer in place: whether they
    pass, the error's last line, and the line of the check that failed."""
    package = package_of(root)
    with tempfile.TemporaryDirectory() as scratch:
        copy = Path(scratch) / "p"
        shutil.copytree(root, copy, ignore=shutil.ignore_patterns(".git"))
        (copy / package / task["file"]).write_text(new_source, encoding="utf-8")
        run = subprocess.run([sys.executable, "-c", HARNESS, str(copy), task["file"][:-3],
                              task["function"], task["check"], package],
                             capture_output=True, text=True, timeout=20)
    err = run.stderr.strip().splitlines()
    marks = [int(line.split()[1]) for line in err if line.startswith("FAILED-LINE ")]
    line = task["check"].splitlines()[marks[-1] - 1] if marks else None
    return run.returncode == 0, (err[-1] if run.returncode and err else ""), line


def in_words(line: str | None, function: str) -> str | None:
    """A failed check line as a user who tried the answer reports it: ``assert f(x) == y``
    -> "function(x) should be y", ``raises(E, f, x)`` -> "function(x) should raise E"; None
    for a check that is not a plain call of the function with literal arguments or names
    (``f(db, 7)``) and a literal result (a stand-in database made in the call, an event the
    function recorded)."""
    if line is None:
        return None
    try:
        node = ast.parse(line.strip()).body[0]
    except (SyntaxError, IndexError):
        return None

    def call(expr: ast.expr) -> str | None:
        if (isinstance(expr, ast.Call) and isinstance(expr.func, ast.Name)
                and expr.func.id == "f" and not expr.keywords
                and all(_plain(arg) for arg in expr.args)):
            return f"{function}({', '.join(ast.unparse(arg) for arg in expr.args)})"
        return None

    if isinstance(node, ast.Assert):
        tests = node.test.values if isinstance(node.test, ast.BoolOp) and isinstance(
            node.test.op, ast.And) else [node.test]
        said = []
        for test in tests:
            if not (isinstance(test, ast.Compare) and len(test.ops) == 1
                    and isinstance(test.ops[0], (ast.Eq, ast.Is))
                    and _is_literal(test.comparators[0])):
                return None
            called = call(test.left)
            if called is None:
                return None
            said.append(f"{called} should be {ast.unparse(test.comparators[0])}")
        return " and ".join(said)
    if (isinstance(node, ast.Expr) and isinstance(node.value, ast.Call)
            and isinstance(node.value.func, ast.Name) and node.value.func.id == "raises"
            and len(node.value.args) >= 2 and isinstance(node.value.args[0], ast.Name)):
        kind, *rest = node.value.args
        called = call(ast.Call(func=rest[0], args=rest[1:], keywords=[]))
        return f"{called} should raise {kind.id}" if called else None
    return None


def _plain(node: ast.expr) -> bool:
    """A literal, a name, or a value made from literals (``date(2026, 12, 6)``), not one of
    the benchmark's stand-ins (``FakeDb(...)``)."""
    return _is_literal(node) or isinstance(node, ast.Name) or (
        isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
        and node.func.id != "FakeDb" and not node.keywords
        and all(_is_literal(arg) for arg in node.args))


def _is_literal(node: ast.expr) -> bool:
    try:
        ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, RecursionError):
        return False
    return True


def fresh_project(project: Path, into: Path) -> Path:
    root = into / project.name
    shutil.copytree(project, root,
                    ignore=shutil.ignore_patterns("tasks.json", "notes.json", "README.md"))
    (root / "pyproject.toml").write_text(f"[project]\nname = '{package_of(root)}'\n",
                                         encoding="utf-8")
    # The projects' own line length: a fix is not refused for a long line the project allows.
    (root / ".flake8").write_text("[flake8]\nmax-line-length = 100\n", encoding="utf-8")
    return root


def session_run(project: Path, memory: bool, tasks: list[dict], scratch: Path,
                learning: tuple[float, int] | None = None, name: str = "",
                notes: dict[str, str] | None = None, retry: int = 0,
                refusals: bool = False) -> dict:
    """The requests in order. ``notes``: a rejected answer is rated bad with its convention's
    note, as a user says once what was wrong; ``retry``: a rejected request is asked up to
    this many times more, each after the rating of the last answer (with the history off the
    model is asked the same request again);
    ``refusals``: a request no answer passed is rated bad with its convention's note too."""
    root = fresh_project(project, scratch / (name or ("on" if memory else "off")))
    settings = Settings(history=HistorySettings(enabled=memory))
    session = Session(settings, root)
    if learning is not None:  # (min_similarity, max_examples), to compare choices
        session.history.min_similarity, session.history.max_examples = learning
    index = session.open_index(root)
    rows = []

    def attempt(task: dict, path: Path) -> dict:
        source = path.read_text(encoding="utf-8")
        index.build()
        action, request = ask(session, task, source, path)
        started = time.perf_counter()
        failure = None  # the history entry of a request no answer passed (NoAnswer)
        try:
            result = session.run(action, request)
            answer, why = result.new_source, ""
        except HearthError as exc:
            result, answer, why = None, None, exc.message
            failure = exc.history_id if isinstance(exc, NoAnswer) else None
        elapsed = time.perf_counter() - started
        ok, why, failed = passes(root, task, answer) if answer else (False, why, None)
        if ok:
            path.write_text(answer, encoding="utf-8")
        note = None
        if not ok and notes is not None:
            # "failure": the first failed check in words, as a user who tried the answer
            # reports it; the convention's note when it cannot be said that way.
            note = (notes.get("mode") == "failure" and in_words(failed, task["function"])) \
                or notes.get(task["convention"])
        if memory and result is not None and result.history_id is not None:
            session.history.rate(result.history_id, "good" if ok else "bad", note)
        elif memory and failure is not None and refusals:
            # No answer to try: the user says what they want (the convention's note).
            session.history.rate(failure, "bad", note)
        return {"action": action, "accepted": ok, "why": why[:200], "note": note,
                "elapsed_s": round(elapsed, 2),
                "confidence": result.confidence if result else None,
                "examples": result.examples if result else [],
                "cached": bool(result and result.cached)}

    try:
        for number, task in enumerate(tasks, 1):
            path = root / package_of(root) / task["file"]
            row = {"n": number, "function": task["function"],
                   "convention": task["convention"], **attempt(task, path)}
            retries = []
            while len(retries) < retry and not (retries or [row])[-1]["accepted"]:
                retries.append(attempt(task, path))
            if retries:
                row["retry"], row["retries"] = retries[0], retries
            rows.append(row)
            print(f"  {'on ' if memory else 'off'} {number:>2} {row['action']:<8} "
                  f"{task['function']:<18} "
                  f"{'accepted' if row['accepted'] else 'rejected'} {row['elapsed_s']:5.1f} s "
                  f"examples {row['examples']} {row['why'][:70]}"
                  + "".join(f"\n{'':>33}retry {'accepted' if again['accepted'] else 'rejected'} "
                            f"{again['elapsed_s']:5.1f} s examples {again['examples']} "
                            f"{again['why'][:70]}" for again in retries), flush=True)
    finally:
        session.close()
    last = rows[len(rows) // 2:]
    final = [r["accepted"] or r.get("retry", {}).get("accepted", False) for r in rows]
    every = [r["accepted"] or any(a["accepted"] for a in r.get("retries", [])) for r in rows]
    return {"rows": rows, "accepted": sum(r["accepted"] for r in rows),
            "accepted_last_half": sum(r["accepted"] for r in last), "last_half": len(last),
            "after_retry": sum(final) if retry else None,
            "after_retry_last_half": sum(final[len(rows) // 2:]) if retry else None,
            "retries": retry,
            "after_retries": sum(every) if retry > 1 else None,
            "after_retries_last_half": sum(every[len(rows) // 2:]) if retry > 1 else None,
            "median_s": statistics.median(r["elapsed_s"] for r in rows)}


def cache_run(project: Path, tasks: list[dict], scratch: Path, lsp: bool) -> dict:
    """Five requests asked of the model, then again (cache hits through the core call), then
    through a language server on the same workspace and history."""
    root = fresh_project(project, scratch / "cache")
    session = Session(Settings(), root)
    session.open_index(root).build()
    model_s, hit_s, hits = [], [], 0
    chosen = [task for task in tasks if task.get("action", "generate") == "generate"][:5]
    try:
        for round_ in range(4):  # the model's answers, then three rounds of the cache's
            for task in chosen:
                path = root / package_of(root) / task["file"]
                source = path.read_text(encoding="utf-8")
                request = session.request(source, Pos(stub_line(source, task["function"]), 4),
                                          path=path)
                started = time.perf_counter()
                result = session.run("generate", request)
                (hit_s if round_ else model_s).append(time.perf_counter() - started)
                hits += result.cached and round_ > 0
    finally:
        session.close()
    out = {"requests": len(chosen), "model_median_s": round(statistics.median(model_s), 3),
           "hit_p50_ms": round(statistics.median(hit_s) * 1000, 2),
           "hit_max_ms": round(max(hit_s) * 1000, 2), "hits": hits, "lookups": len(hit_s)}
    if lsp:
        out["lsp"] = asyncio.run(lsp_hits(root, chosen))
    db = history_path(root)
    stored = b"".join(p.read_bytes() for p in db.parent.glob(db.name + "*"))
    out["database_bytes"] = len(stored)
    out["secrets_in_database"] = secrets_in(stored)
    return out


def secrets_in(stored: bytes) -> list[str]:
    """The planted DSN password, and anything the guardrails' scanner calls a secret, found in
    the database's files (the WAL included)."""
    from hearth.core.guardrails import find_secrets

    text = stored.decode("utf-8", "replace")
    found = [s for s in find_secrets(text, python=False) if "HEARTH_SECRET" not in s]
    return (["the planted DSN password"] if "Wq7-zP2vK9xR4mT8" in text else []) + found


async def lsp_hits(root: Path, tasks: list[dict]) -> dict:
    """Generate through `workspace/executeCommand` of a real server on the same workspace:
    the time from the request to its answer, and whether the history answered."""
    from lsprotocol import types
    from pygls.lsp.client import LanguageClient

    client = LanguageClient("hearth-bench", "1")
    for method in ("hearth/status", types.WINDOW_LOG_MESSAGE, types.WINDOW_SHOW_MESSAGE,
                   types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS, "$/progress",
                   types.WINDOW_WORK_DONE_PROGRESS_CREATE):
        client.feature(method)(lambda params: None)

    @client.feature(types.WORKSPACE_APPLY_EDIT)
    def apply(params):
        return types.ApplyWorkspaceEditResult(applied=False)

    await client.start_io(sys.executable, "-m", "hearth", "serve", "--stdio")
    caps = types.ClientCapabilities(workspace=types.WorkspaceClientCapabilities(
        apply_edit=True))
    await client.initialize_async(types.InitializeParams(capabilities=caps,
                                                         root_uri=root.as_uri()))
    client.initialized(types.InitializedParams())
    times: list[float] = []
    flags: list[bool] = []  # per request: answered from the history
    try:
        for version, task in enumerate(tasks * 3, 1):
            path = root / package_of(root) / task["file"]
            source = path.read_text(encoding="utf-8")
            uri = path.as_uri()
            client.text_document_did_open(types.DidOpenTextDocumentParams(
                types.TextDocumentItem(uri=uri, language_id="python", version=version,
                                       text=source)))
            line = stub_line(source, task["function"])
            started = time.perf_counter()
            answer = await client.workspace_execute_command_async(types.ExecuteCommandParams(
                command="hearth.generate", arguments=[{
                    "uri": uri, "position": {"line": line, "character": 4}}]))
            times.append(time.perf_counter() - started)
            flags.append(bool(isinstance(answer, dict) and answer.get("cached")))
            client.text_document_did_close(types.DidCloseTextDocumentParams(
                types.TextDocumentIdentifier(uri)))
    finally:
        await client.shutdown_async(None)
        client.exit(None)
        await client.stop()
    hits = [t for t, hit in zip(times, flags) if hit]
    return {"requests": len(times), "cached": sum(flags), "flags": flags,
            "hit_p50_ms": round(statistics.median(hits) * 1000, 1) if hits else None,
            "p50_ms": round(statistics.median(times) * 1000, 1),
            "max_ms": round(max(times) * 1000, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--skip-lsp", action="store_true")
    parser.add_argument("--only", choices=["sessions", "cache"], default=None)
    parser.add_argument("--modes", default="off,on",
                        help="off, on (the defaults), or on:MIN_SIMILARITY:MAX_EXAMPLES")
    parser.add_argument("--project", choices=list(PROJECTS), default="dev",
                        help="dev (memory_project, looked at while building) or heldout")
    parser.add_argument("--notes", choices=["convention", "failure"], default=None,
                        help="rate a rejected answer bad with a note: its convention's (the "
                             "project's notes.json), or the first failed check in words "
                             "(the convention's when it cannot be said so)")
    parser.add_argument("--retry", action="store_true",
                        help="ask a rejected request once more, after its rating")
    parser.add_argument("--retries", type=int, default=None, metavar="N",
                        help="ask a rejected request up to N times more, each after the "
                             "rating of the last answer (--retry is --retries 1)")
    parser.add_argument("--rate-refusals", action="store_true",
                        help="with --notes, rate a request no answer passed (Fix's \"none of "
                             "5 candidates passed the checks\") bad with its convention's note")
    args = parser.parse_args()
    project = PROJECTS[args.project]
    notes = {**json.loads((project / "notes.json").read_text(encoding="utf-8")),
             "mode": args.notes} if args.notes else None
    retries = args.retries if args.retries is not None else int(args.retry)
    if retries < 0:
        parser.error("--retries must be 0 or more")
    feedback = {"notes": notes, "retry": retries, "refusals": args.rate_refusals}
    tasks = json.loads((project / "tasks.json").read_text(encoding="utf-8"))[:args.limit]
    scratch = Path(tempfile.mkdtemp(prefix="hearth-bench-memory-"))
    os.environ["HEARTH_DATA_DIR"] = str(scratch / "data")
    report: dict = {"project": args.project, "date": time.strftime("%Y-%m-%d %H:%M"),
                    "notes": args.notes, "retry": retries,
                    "rate_refusals": args.rate_refusals,
                    "machine": platform.machine(),
                    "cores": os.cpu_count(), "load_before": os.getloadavg()[0]}
    if args.only in (None, "sessions"):
        for mode in args.modes.split(","):
            if mode == "off":
                report["off"] = session_run(project, False, tasks, scratch, **feedback)
            elif mode == "on":
                report["on"] = session_run(project, True, tasks, scratch, **feedback)
            else:  # on:MIN_SIMILARITY:MAX_EXAMPLES
                _, low, most = mode.split(":")
                report[mode] = session_run(project, True, tasks, scratch,
                                           (float(low), int(most)), mode.replace(":", "_"),
                                           **feedback)
    if args.only in (None, "cache"):
        report["cache"] = cache_run(project, tasks, scratch, lsp=not args.skip_lsp)
    report["load_after"] = os.getloadavg()[0]
    out = ROOT / ".bench" / f"memory_{args.project}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(report, indent=1), encoding="utf-8")
    print()
    for mode in [key for key in report if key == "off" or key.startswith("on")]:
        if mode in report:
            r = report[mode]
            print(f"| history {mode} | {r['accepted']}/{len(r['rows'])} accepted | last "
                  f"{r['last_half']}: {r['accepted_last_half']} | median {r['median_s']} s |"
                  + (f" after one retry {r['after_retry']}, last half "
                     f"{r['after_retry_last_half']} |" if r.get("after_retry") is not None
                     else "")
                  + (f" after {r['retries']} retries {r['after_retries']}, last half "
                     f"{r['after_retries_last_half']} |" if r.get("after_retries") is not None
                     else ""))
    if "cache" in report:
        print("cache:", json.dumps(report["cache"]))
    print(f"written {out}")


if __name__ == "__main__":
    main()
