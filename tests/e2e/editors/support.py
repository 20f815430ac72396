"""Run a real editor headless on a scripted Hearth session and read back what it saw.

The editor scripts in this folder write a JSON result; these helpers install the editors
(setup.sh), run a script with the repository's `hearth` on PATH, and turn a failure into a
message that carries the script's own account, the editor's stderr and the server's log.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

EDITORS = Path(__file__).resolve().parent
ROOT = EDITORS.parents[2]
SETUP = EDITORS / "setup.sh"
NOT_INSTALLABLE = 3  # setup.sh's exit status when apt has no such package (or no apt)
GENERATE_TIMEOUT_S = 180


@dataclass(frozen=True)
class Setup:
    returncode: int
    output: str


@functools.cache
def run_setup() -> Setup:
    """setup.sh once per test session; it returns at once when everything is installed."""
    env = {**os.environ, "CI": os.environ.get("CI", "true")}
    done = subprocess.run(["bash", str(SETUP)], stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, env=env, timeout=1800)
    return Setup(done.returncode, (done.stdout + done.stderr).strip())


def require_editor(binary: str) -> str:
    """The editor's path; skip (loudly) only when its Debian package cannot be had at all."""
    setup = run_setup()
    found = shutil.which(binary)
    if found and setup.returncode in (0, NOT_INSTALLABLE):
        return found
    tail = "\n".join(setup.output.splitlines()[-15:])
    if setup.returncode == NOT_INSTALLABLE:
        pytest.skip(f"EDITOR TEST NOT RUN: `{binary}` cannot be installed here "
                    f"(tests/e2e/editors/setup.sh): {tail}")
    pytest.fail(f"tests/e2e/editors/setup.sh failed (exit {setup.returncode}) and `{binary}` "
                f"is {'there' if found else 'missing'}:\n{tail}", pytrace=False)


def hearth_on_path() -> str:
    """A PATH whose `hearth` is this checkout's, as the documented `cmd = {'hearth', ...}` needs."""
    scripts = Path(sys.executable).parent
    if not (scripts / "hearth").is_file():
        pytest.fail(f"No `hearth` script beside {sys.executable}: run `make setup`.",
                    pytrace=False)
    return f"{scripts}{os.pathsep}{os.environ.get('PATH', '')}"


def python_file(tmp_path: Path, source: str) -> Path:
    """``source`` as module.py in a fresh workspace folder under ``tmp_path``."""
    workspace = tmp_path / "ws"
    workspace.mkdir()
    path = workspace / "module.py"
    path.write_text(source, encoding="utf-8")
    return path


def run_editor(argv: list[str], job: dict[str, Any], workspace: Path,
               extra_env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run ``argv`` in ``workspace`` with $HEARTH_E2E naming ``job``; return the script's result.

    Fails the test with everything known when the script reports an error or leaves no result.
    The script must have saved the buffer it edited (``job["file"]``) as its result's ``text``.
    """
    logs = workspace.parent / "hearth-logs"
    job = {**job, "result": str(workspace.parent / "editor-result.json"),
           "timeout_ms": GENERATE_TIMEOUT_S * 1000}
    job_file = workspace.parent / "editor-job.json"
    job_file.write_text(json.dumps(job), encoding="utf-8")
    env = {**os.environ, "PATH": hearth_on_path(), "HEARTH_E2E": str(job_file),
           "HEARTH_LOG_DIR": str(logs), **(extra_env or {})}
    try:
        done = subprocess.run(argv, cwd=workspace, env=env, stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=GENERATE_TIMEOUT_S + 180)
        stderr, returncode = done.stdout + done.stderr, done.returncode
    except subprocess.TimeoutExpired as exc:
        stderr, returncode = f"{exc.stdout or ''}{exc.stderr or ''}\n(killed: timed out)", None
    result_file = Path(job["result"])
    result = json.loads(result_file.read_text(encoding="utf-8")) if result_file.is_file() else {}
    if returncode != 0 or not result.get("ok"):
        pytest.fail(f"{argv[0]} exited {returncode}: {result.get('error', 'no result written')}\n"
                    f"script messages: {json.dumps(result.get('messages', []), indent=1)}\n"
                    f"editor output (tail):\n{_tail(stderr)}\n"
                    f"server log (tail):\n{_server_log(logs)}", pytrace=False)
    assert Path(job["file"]).read_text(encoding="utf-8") == result["text"]
    return result


def _tail(text: str, lines: int = 40) -> str:
    return "\n".join(text.splitlines()[-lines:])


def _server_log(folder: Path) -> str:
    files = sorted(folder.glob("*")) if folder.is_dir() else []
    return "\n".join(f"== {f.name}\n{_tail(f.read_text(errors='replace'))}" for f in files
                     if f.is_file()) or "(no log)"
