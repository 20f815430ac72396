"""Running generated tests in the sandbox against the current code: the project files copied
in, the runner program (testfile_runner_program.py) and its per-test report read back."""

from __future__ import annotations

import fnmatch
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from hearth.core.actions.testfile_layout import ImportTarget, is_test_module
from hearth.core.memory.settings import VENDORED_DIRS
from hearth.core.sandbox import SandboxResult, run_python

COPY_BUDGET_BYTES = 2_000_000  # project sources copied into the sandbox, at most
COPY_MAX_FILES = 2000
RUN_TIMEOUT_S = 30
RUNNER = "_hearth_run_tests.py"  # the runner program's name in the sandbox
RUNNER_PROGRAM = Path(__file__).with_name("testfile_runner_program.py")


@dataclass
class Outcome:
    passed: list[str]
    dropped: dict[str, str]  # test id -> one-line reason


def project_files(target: ImportTarget, module_path: Path, source: str) -> dict[str, str]:
    """The module under test (as in the editor) and the project's sources, within a budget,
    the module's own package first."""
    root = target.project_root
    module_path = module_path.resolve()
    files = {module_path.relative_to(root).as_posix(): source}
    budget = COPY_BUDGET_BYTES - len(source.encode())
    first = module_path.parent if target.source_root != module_path.parent else None
    for folder in [f for f in (first, target.source_root) if f is not None]:
        for path in _python_files(folder, root):
            rel = path.relative_to(root).as_posix()
            if rel in files:
                continue
            try:
                size = path.stat().st_size
                if size > budget or len(files) >= COPY_MAX_FILES:
                    return files
                files[rel] = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                continue
            budget -= size
    return files


def _python_files(folder: Path, root: Path, max_entries: int = 20_000):
    """Python source files below ``folder``, tests and vendored folders left out; the walk
    stops after ``max_entries`` names so that a huge data folder cannot stall it."""
    seen = 0
    for directory, subdirs, names in os.walk(folder):
        seen += len(subdirs) + len(names)
        if seen > max_entries:
            return
        subdirs[:] = sorted(d for d in subdirs if not d.startswith(".") and d not in
                            ("tests", "test") and not any(fnmatch.fnmatch(d, pattern)
                                                          for pattern in VENDORED_DIRS))
        for name in sorted(names):
            path = Path(directory, name)
            if name.endswith(".py") and not is_test_module(path.relative_to(root)):
                yield path


def project_site_packages(root: Path) -> list[Path]:
    """The project's own virtual environment, if it has one for this Python version."""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    return [folder / "lib" / version / "site-packages" for folder in (root / ".venv", root / "venv")
            if (folder / "lib" / version / "site-packages").is_dir()]


def run_tests(target: ImportTarget, module_path: Path, source: str, test_code: str,
              tests: list[str]) -> Outcome:
    """Run the new tests on their own against the current code, in the sandbox."""
    root = target.project_root
    test_rel = target.test_file.relative_to(root).as_posix()
    source_rel = target.source_root.relative_to(root).as_posix()
    files = project_files(target, module_path, source)
    files.update({test_rel: test_code, RUNNER: RUNNER_PROGRAM.read_text(encoding="utf-8"),
                  "pytest.ini": "[pytest]\n"})
    result = run_python(files, [RUNNER, test_rel, source_rel], timeout_s=RUN_TIMEOUT_S,
                        extra_path=project_site_packages(root), channel=True)
    return _outcome(result, test_rel, tests)


def _valid(record: object) -> bool:
    """A record of the runner's shape; anything else is ignored, so that the tests it would
    have been about count as not passed (the action itself goes on)."""
    return isinstance(record, dict) and all(isinstance(record.get(key), str)
                                            for key in ("test", "outcome", "reason"))


def _outcome(result: SandboxResult, test_rel: str, tests: list[str]) -> Outcome:
    per_test: dict[str, str | None] = {}  # None: passed so far
    collect_error = None
    for record in result.records:
        if not _valid(record):
            continue
        test_id = re.sub(r"\[.*\]$", "", record["test"]).removeprefix(test_rel + "::")
        if record["outcome"] == "error" and "::" not in record["test"]:
            collect_error = record["reason"] or "the test file could not be collected"
        elif record["outcome"] == "passed":
            per_test.setdefault(test_id, None)
        elif per_test.get(test_id) is None:
            per_test[test_id] = record["reason"] or record["outcome"]
    if result.timed_out:
        missing = f"not finished: the run hit its {RUN_TIMEOUT_S} s limit"
    elif result.memory_exceeded:
        missing = "not finished: the run hit the sandbox's memory limit"
    else:
        missing = collect_error or _last_line(result.stderr) or "not run"
    outcome = Outcome([], {})
    for test in tests:
        if test in per_test and per_test[test] is None:
            outcome.passed.append(test)
        else:
            outcome.dropped[test] = _one_line(per_test.get(test) or missing)
    return outcome


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


def _one_line(reason: str, limit: int = 200) -> str:
    line = " ".join(reason.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"
