"""Run untrusted Python (generated tests, candidate code) in a throw-away folder, with limits.

The kernel enforces what this machine allows (namespaces, a dropped uid, rlimits, Landlock); an
audit hook in every sandboxed interpreter is a second, clearer line. docs/sandbox.md says which
layer holds what. This module imports only the standard library: it is copied into each sandbox
as the bootstrap that confines the interpreter before the sandboxed code runs.
"""

from __future__ import annotations

import errno
import functools
import json
import logging
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

log = logging.getLogger(__name__)

CONFIG_ENV = "HEARTH_SANDBOX"
LANDLOCKED_ENV = "HEARTH_SANDBOX_LANDLOCK"
NOBODY = 65534
MAX_PROCESSES = 64  # processes and threads the sandbox may add to what its uid already runs
MAX_FILE_BYTES = 64 * 2**20
MAX_OPEN_FILES = 256
MAX_OUTPUT_CHARS = 1_000_000
CONFINE_FAILED = 120  # the exit status when the bootstrap could not confine the interpreter
MEMORY_SIGNS = re.compile(r"\bMemoryError\b|Cannot allocate memory|std::bad_alloc")
# Interpreter flags that skip site or PYTHONPATH, and with them the bootstrap.
UNCONFINED_FLAGS = frozenset("ISE")


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


# -- preparing the folder ---------------------------------------------------------------------
def _check_request(files: Mapping[str, str], argv: Sequence[str], timeout_s: float,
                   memory_mb: int) -> None:
    if timeout_s <= 0 or memory_mb <= 0:
        raise ValueError("timeout_s and memory_mb must be positive")
    if isinstance(argv, str):
        raise ValueError("argv is a sequence of arguments, not a string")
    for flags in _interpreter_options(list(argv)):
        if UNCONFINED_FLAGS & set(flags):
            raise ValueError(f"{flags!r} would skip the sandbox's bootstrap")
    for name in files:
        _relative(name)


def _interpreter_options(argv: list[str]) -> list[str]:
    """The letters of the interpreter's own short options, up to the script, -c or -m."""
    options, index = [], 0
    while index < len(argv) and argv[index].startswith("-") and argv[index] != "-":
        arg = argv[index]
        if arg.startswith("--"):
            index += 1
            continue
        if arg[1] in "cm":
            break
        options.append(arg[1:])
        index += 2 if arg in ("-X", "-W") else 1
    return options


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
    shutil.copyfile(__file__, boot / "_hearth_sandbox.py")
    (boot / "sitecustomize.py").write_text(
        "import _hearth_sandbox\n\n_hearth_sandbox._confine_from_environment()\n",
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


# -- starting and stopping --------------------------------------------------------------------
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


# -- inside the sandbox: the bootstrap --------------------------------------------------------
def _confine_from_environment() -> None:
    """Limit this interpreter and its children; called by the sandbox's sitecustomize.

    Any failure ends the process: sandboxed code never runs unconfined.
    """
    raw = os.environ.get(CONFIG_ENV)
    if not raw:
        return
    try:
        config = json.loads(raw)
        _set_limits(config)
        if not os.environ.get(LANDLOCKED_ENV):
            os.environ[LANDLOCKED_ENV] = str(_landlock(config["work"]))
        sys.addaudithook(_audit_hook(config))
    except Exception as exc:  # noqa: BLE001 - whatever it is, the code must not run
        os.write(2, f"hearth sandbox: could not confine the interpreter: {exc!r}\n".encode())
        os._exit(CONFINE_FAILED)


def _set_limits(config: dict[str, Any]) -> None:
    import resource

    cpu = config["cpu_s"]
    wanted = {resource.RLIMIT_AS: (config["memory_bytes"],) * 2,
              resource.RLIMIT_CPU: (cpu, cpu + 1),  # SIGXCPU first, SIGKILL a second later
              resource.RLIMIT_FSIZE: (config["file_bytes"],) * 2,
              resource.RLIMIT_NOFILE: (config["open_files"],) * 2,
              resource.RLIMIT_CORE: (0, 0),
              # Counted per uid by the kernel, threads included: allow what already runs.
              resource.RLIMIT_NPROC: (_tasks_of(os.getuid()) + config["max_processes"],) * 2}
    for kind, (soft, hard) in wanted.items():
        _, current_hard = resource.getrlimit(kind)
        if current_hard != resource.RLIM_INFINITY:
            soft, hard = min(soft, current_hard), min(hard, current_hard)
        resource.setrlimit(kind, (soft, hard))


def _tasks_of(uid: int) -> int:
    """How many tasks (threads) the kernel counts against ``uid``'s RLIMIT_NPROC now."""
    total = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/status", encoding="utf-8") as handle:
                fields = dict(line.split(":", 1) for line in handle if ":" in line)
        except OSError:
            continue
        if int(fields.get("Uid", "-1").split()[0]) == uid:
            total += int(fields.get("Threads", "1").strip())
    return total


# Landlock (Linux >= 5.13): the kernel's own "write only here", inherited by every child.
_LANDLOCK_CREATE, _LANDLOCK_ADD_RULE, _LANDLOCK_RESTRICT = 444, 445, 446
_FS_WRITE_FILE, _FS_TRUNCATE = 1 << 1, 1 << 14
_FS_CHANGES = sum(1 << bit for bit in (4, 5, 6, 7, 8, 9, 10, 11, 12))  # remove, make *
_FS_REFER = 1 << 13
_NET_TCP = (1 << 0) | (1 << 1)  # bind, connect
_SCOPE_ABSTRACT_UNIX_AND_SIGNAL = (1 << 0) | (1 << 1)


def _landlock_abi() -> int:
    """The kernel's Landlock ABI version, 0 without Landlock (or off Linux)."""
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return 0
    libc.syscall.restype = ctypes.c_long
    abi = libc.syscall(_LANDLOCK_CREATE, None, ctypes.c_size_t(0), ctypes.c_uint32(1))
    return max(int(abi), 0)


def _landlock(work: str) -> int:
    """Forbid writes outside ``work`` and, where the ABI allows, TCP, abstract Unix sockets
    and signals to processes outside the sandbox. Returns the ABI used, 0 if unavailable."""
    import ctypes
    import struct

    abi = _landlock_abi()
    if abi < 1:
        return 0
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    fs = _FS_WRITE_FILE | _FS_CHANGES
    fs |= _FS_REFER if abi >= 2 else 0
    fs |= _FS_TRUNCATE if abi >= 3 else 0
    net = _NET_TCP if abi >= 4 else 0
    scoped = _SCOPE_ABSTRACT_UNIX_AND_SIGNAL if abi >= 6 else 0
    attr = struct.pack("=QQQ", fs, net, scoped)[: 8 if abi < 4 else 16 if abi < 6 else 24]
    ruleset = libc.syscall(_LANDLOCK_CREATE, ctypes.c_char_p(attr), ctypes.c_size_t(len(attr)),
                           ctypes.c_uint32(0))
    if ruleset < 0:
        raise OSError(ctypes.get_errno(), "landlock_create_ruleset failed")
    try:
        file_rights = _FS_WRITE_FILE | (_FS_TRUNCATE if abi >= 3 else 0)
        for path, rights in ((work, fs), (os.devnull, file_rights)):
            fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
            try:
                rule = struct.pack("=Qi", rights, fd)
                if libc.syscall(_LANDLOCK_ADD_RULE, ctypes.c_int(ruleset), ctypes.c_int(1),
                                ctypes.c_char_p(rule), ctypes.c_uint32(0)) != 0:
                    raise OSError(ctypes.get_errno(), f"landlock_add_rule failed for {path}")
            finally:
                os.close(fd)
        if libc.prctl(38, 1, 0, 0, 0) != 0:  # PR_SET_NO_NEW_PRIVS, required to restrict
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")
        if libc.syscall(_LANDLOCK_RESTRICT, ctypes.c_int(ruleset), ctypes.c_uint32(0)) != 0:
            raise OSError(ctypes.get_errno(), "landlock_restrict_self failed")
    finally:
        os.close(ruleset)
    return abi


_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC
_PATH_CHANGES = {"os.remove": (0,), "os.rmdir": (0,), "os.mkdir": (0,), "os.chmod": (0,),
                 "os.chown": (0,), "os.utime": (0,), "os.truncate": (0,), "os.rename": (0, 1),
                 "os.link": (1,), "os.symlink": (1,), "shutil.rmtree": (0,)}
_ADDRESSED = frozenset({"socket.connect", "socket.bind", "socket.sendto", "socket.sendmsg"})
_NAME_LOOKUPS = frozenset({"socket.getaddrinfo", "socket.gethostbyname",
                           "socket.gethostbyname_ex", "socket.gethostbyaddr",
                           "socket.getnameinfo"})
_PROGRAMS = {"subprocess.Popen": (0, 1, 3), "os.exec": (0, 1, 2), "os.posix_spawn": (0, 1, 2),
             "os.spawn": (1, 2, 3)}  # event -> positions of (program, arguments, environment)


def _audit_hook(config: dict[str, Any]) -> Callable[[str, tuple[Any, ...]], None]:
    """Refuse, with a clear PermissionError, writes outside the folder, network access and
    programs other than this Python (which gets the same bootstrap)."""
    work = os.path.realpath(config["work"])
    python = config["python"]
    boot = config["boot"]

    def inside(path: Any) -> bool:
        if isinstance(path, int):
            return True  # an already open descriptor: it was checked when opened
        resolved = os.path.realpath(os.fsdecode(path))
        return resolved == work or resolved.startswith(work + os.sep)

    def refuse(what: str) -> None:
        raise PermissionError(errno.EACCES, f"hearth sandbox: {what} is not allowed")

    def check_program(program: Any, arguments: Any, environment: Any) -> None:
        program = os.fsdecode(program) if program is not None else ""
        found = shutil.which(program) if os.sep not in program else program
        if not found or os.path.realpath(found) != python:
            refuse(f"running {program or 'a program'} (only this Python may run)")
        args = [os.fsdecode(a) for a in arguments or ()] if not isinstance(
            arguments, (str, bytes)) else []
        if any(UNCONFINED_FLAGS & set(flags) for flags in _interpreter_options(args[1:])):
            refuse("starting Python without site or PYTHONPATH")
        if environment is not None:
            paths = os.fsdecode(dict(environment).get("PYTHONPATH", b"")).split(os.pathsep)
            if boot not in paths:
                refuse("starting Python without the sandbox's PYTHONPATH")

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if event == "open":
            path, mode, flags = args
            writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
                isinstance(flags, int) and flags & _WRITE_FLAGS)
            if writing and path is not None and not inside(path) and path != os.devnull:
                refuse(f"writing {os.fsdecode(path)} (outside the sandbox folder)")
        elif event in _PATH_CHANGES:
            for index in _PATH_CHANGES[event]:
                if not inside(args[index]):
                    refuse(f"changing {os.fsdecode(args[index])} (outside the sandbox folder)")
        elif event in _ADDRESSED:
            sock, address = args[0], args[1]
            local = getattr(sock, "family", None) == socket.AF_UNIX
            if not (local and isinstance(address, (str, bytes)) and address[:1] not in
                    ("\0", b"\0") and inside(address)):
                refuse("network access")
        elif event in _NAME_LOOKUPS:
            refuse("network access (name lookup)")
        elif event == "os.system":
            refuse("running a shell command")
        elif event in _PROGRAMS:
            program, arguments, environment = (args[i] for i in _PROGRAMS[event])
            check_program(program, arguments, environment)

    return hook
