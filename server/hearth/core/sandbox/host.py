"""The host side of the sandbox: prepare a throw-away folder, start a confined interpreter in it
(namespaces and a dropped uid where this machine allows them), supervise it within its time limit,
collect its output and remove every trace. What confines the interpreter from inside is
sandbox.bootstrap; docs/sandbox.md says which layer holds what.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from hearth.core.sandbox.bootstrap import (
    CONFIG_ENV,
    CONFINE_FAILED,
    UNCONFINED_FLAGS,
    interpreter_options,
)

log = logging.getLogger(__name__)

BOOTSTRAP = Path(__file__).with_name("bootstrap.py")

NOBODY = 65534
MAX_PROCESSES = 64  # processes and threads the sandbox may add to what its uid already runs
MAX_FILE_BYTES = 64 * 2**20
MAX_OPEN_FILES = 256
MAX_OUTPUT_CHARS = 1_000_000
MEMORY_SIGNS = re.compile(r"\bMemoryError\b|Cannot allocate memory|std::bad_alloc")


@dataclass
class SandboxResult:
    returncode: int
    stdout: str
    stderr: str
    timed_out: bool  # the wall-clock timeout or the CPU-time limit ended it
    memory_exceeded: bool  # it reported an allocation failure, or the kernel killed it
    elapsed_s: float


@dataclass(frozen=True)
class Launcher:
    """How sandboxed interpreters are started on this machine, found once by trying."""

    prefix: tuple[str, ...]
    namespaces: bool  # fresh network and PID namespaces (the kernel's "no network")
    drops_uid: bool  # runs as uid 65534 (root only: rlimits on processes do not bind root)


def run_python(files: Mapping[str, str], argv: Sequence[str], *, timeout_s: float = 10,
               memory_mb: int = 512, extra_path: Sequence[Path] = ()) -> SandboxResult:
    """Run ``sys.executable <argv>`` in a fresh folder holding ``files``, confined, and clean up.

    ``files`` maps relative POSIX paths to text. The folder is the working directory and the
    first entry of PYTHONPATH, followed by ``extra_path`` (read-only). Never raises for what the
    sandboxed code does; raises ValueError for a bad request.
    """
    _check_request(files, argv, timeout_s, memory_mb)
    root = Path(tempfile.mkdtemp(prefix="hearth-sandbox-"))
    try:
        work, boot = root / "work", root / "boot"
        _write_files(work, files)
        for private in (".home", ".tmp"):
            (work / private).mkdir(exist_ok=True)
        _write_bootstrap(boot)
        launcher = _launcher()
        if launcher.drops_uid:
            _chown_tree(work, NOBODY)
        env = _environment(work, boot, extra_path, timeout_s, memory_mb)
        command = [*launcher.prefix, sys.executable, *argv]
        with open(root / "stdout", "wb") as out, open(root / "stderr", "wb") as err:
            returncode, timed_out, elapsed = _supervise(command, work, env, out, err, timeout_s)
        stdout, stderr = _read_output(root / "stdout"), _read_output(root / "stderr")
    finally:
        _remove_tree(root)
    if returncode == -signal.SIGXCPU:
        timed_out = True
    memory_exceeded = not timed_out and (
        returncode == -signal.SIGKILL or bool(MEMORY_SIGNS.search(stderr))
        or bool(MEMORY_SIGNS.search(stdout[-20_000:])))
    if returncode == CONFINE_FAILED and "hearth sandbox:" in stderr:
        log.warning("The sandbox could not confine its interpreter: %s", stderr.strip())
    return SandboxResult(returncode, stdout, stderr, timed_out, memory_exceeded, elapsed)


def _check_request(files: Mapping[str, str], argv: Sequence[str], timeout_s: float,
                   memory_mb: int) -> None:
    if timeout_s <= 0 or memory_mb <= 0:
        raise ValueError("timeout_s and memory_mb must be positive")
    if isinstance(argv, str):
        raise ValueError("argv is a sequence of arguments, not a string")
    for flags in interpreter_options(list(argv)):
        if UNCONFINED_FLAGS & set(flags):
            raise ValueError(f"{flags!r} would skip the sandbox's bootstrap")
    for name in files:
        _relative(name)


def _relative(name: str) -> PurePosixPath:
    path = PurePosixPath(name)
    if not name or path.is_absolute() or ".." in path.parts or name.startswith("~"):
        raise ValueError(f"sandbox file names are relative paths inside it, got {name!r}")
    return path


def _write_files(work: Path, files: Mapping[str, str]) -> None:
    work.mkdir()
    for name, text in files.items():
        target = work / _relative(name)
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("w", encoding="utf-8", newline="") as handle:
            handle.write(text)


def _write_bootstrap(boot: Path) -> None:
    """``sitecustomize`` runs in every sandboxed interpreter before the code it was given."""
    boot.mkdir()
    shutil.copyfile(BOOTSTRAP, boot / "_hearth_sandbox.py")
    (boot / "sitecustomize.py").write_text(
        "import _hearth_sandbox\n\n_hearth_sandbox.confine_from_environment()\n",
        encoding="utf-8")


def _chown_tree(folder: Path, uid: int) -> None:
    for directory, subdirs, names in os.walk(folder):
        os.lchown(directory, uid, uid)
        for name in subdirs + names:
            os.lchown(os.path.join(directory, name), uid, uid)


def _environment(work: Path, boot: Path, extra_path: Sequence[Path], timeout_s: float,
                 memory_mb: int) -> dict[str, str]:
    config = {"work": str(work), "python": os.path.realpath(sys.executable),
              "boot": str(boot), "memory_bytes": memory_mb * 2**20,
              "cpu_s": int(timeout_s) + 1, "file_bytes": MAX_FILE_BYTES,
              "max_processes": MAX_PROCESSES, "open_files": MAX_OPEN_FILES}
    python_path = [str(boot), str(work), *(str(Path(p).resolve()) for p in extra_path)]
    return {"PATH": os.environ.get("PATH", os.defpath),
            "LANG": os.environ.get("LANG", "C.UTF-8"),
            "HOME": str(work / ".home"), "TMPDIR": str(work / ".tmp"),
            "PYTHONPATH": os.pathsep.join(python_path),
            "PYTHONDONTWRITEBYTECODE": "1", "PYTHONNOUSERSITE": "1",
            "PYTHONIOENCODING": "utf-8", CONFIG_ENV: json.dumps(config)}


@functools.cache
def _launcher() -> Launcher:
    """The strongest way to start an interpreter that works here (tried once per process).

    As root: new network and PID namespaces, then uid 65534 keeping only the capability to read
    and search files (so it can still run this Python, wherever it is installed). Otherwise: a
    user namespace mapped to the caller, with new network and PID namespaces.
    """
    spaces = ["--net", "--pid", "--fork", "--kill-child"]
    drop = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
            "--inh-caps=-all,+dac_read_search", "--ambient-caps=-all,+dac_read_search",
            "--bounding-set=-all,+dac_read_search", "--"]
    if os.geteuid() == 0:
        choices = [Launcher(("unshare", *spaces, "--", *drop), True, True),
                   Launcher(("unshare", *spaces, "--"), True, False),
                   Launcher(tuple(drop), False, True)]
    else:
        choices = [Launcher(("unshare", "--user", "--map-root-user", *spaces, "--"), True, False)]
    for launcher in choices:
        if shutil.which(launcher.prefix[0]) and _works(launcher.prefix):
            log.debug("Sandbox launcher: %s", " ".join(launcher.prefix))
            return launcher
    log.info("The sandbox runs without namespaces or a dropped uid here; rlimits, Landlock "
             "(when the kernel has it) and the audit hook still apply.")
    return Launcher((), False, False)


def _works(prefix: Sequence[str]) -> bool:
    try:
        probe = subprocess.run([*prefix, sys.executable, "-c", "pass"], cwd="/",
                               stdin=subprocess.DEVNULL, capture_output=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return False
    return probe.returncode == 0


def _supervise(command: list[str], cwd: Path, env: dict[str, str], out: Any, err: Any,
               timeout_s: float) -> tuple[int, bool, float]:
    """Run ``command`` in its own session; kill the whole group at the deadline or at exit."""
    start = time.monotonic()
    process = subprocess.Popen(command, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                               stdout=out, stderr=err, start_new_session=True)
    try:
        finished = _wait_unreaped(process.pid, start + timeout_s)
    finally:
        # The leader is still a zombie (not reaped), so its group id cannot have been reused:
        # this kills exactly the sandbox's stragglers.
        _kill_group(process.pid)
        process.wait()
        _wait_until_group_gone(process.pid, time.monotonic() + 5)
    return process.returncode, not finished, time.monotonic() - start


def _wait_unreaped(pid: int, deadline: float) -> bool:
    pause = 0.005
    while True:
        if os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(pause)
        pause = min(pause * 2, 0.05)


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _wait_until_group_gone(pgid: int, deadline: float) -> None:
    """SIGKILL takes effect asynchronously: wait until no live process remains in the group."""
    while _live_members(pgid) and time.monotonic() < deadline:
        time.sleep(0.01)


def _live_members(pgid: int) -> bool:
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as handle:
                fields = handle.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] not in (b"Z", b"X"):
            return True
    return False


def _read_output(path: Path) -> str:
    with path.open("rb") as handle:
        data = handle.read(MAX_OUTPUT_CHARS * 4)
    text = data.decode("utf-8", errors="replace")
    if len(text) > MAX_OUTPUT_CHARS or path.stat().st_size > len(data):
        text = text[:MAX_OUTPUT_CHARS] + "\n[hearth sandbox: output truncated]\n"
    return text


def _remove_tree(root: Path) -> None:
    def make_writable_and_retry(function: Callable[..., Any], path: str, _exc: Any) -> None:
        os.chmod(os.path.dirname(path), stat.S_IRWXU)
        if os.path.isdir(path) and not os.path.islink(path):
            os.chmod(path, stat.S_IRWXU)
        function(path)

    try:
        shutil.rmtree(root, onerror=make_writable_and_retry)
    except OSError:
        log.warning("Could not remove the sandbox folder %s", root, exc_info=True)
