"""The host side of the sandbox: prepare a throw-away folder, start a confined interpreter in it
(namespaces and a dropped uid where this machine allows them), supervise it within its time limit,
collect its output and remove every trace. What confines the interpreter from inside is
sandbox.bootstrap; docs/sandbox.md says which layer holds what.
"""

from __future__ import annotations

import fnmatch
import functools
import hmac
import json
import logging
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from hearth.core.sandbox.bootstrap import (
    CHANNEL_ENV,
    CHANNEL_KEY_BYTES,
    CONFIG_ENV,
    CONFINE_FAILED,
    UNCONFINED_FLAGS,
    interpreter_options,
    sign,
)

log = logging.getLogger(__name__)

BOOTSTRAP = Path(__file__).with_name("bootstrap.py")

NOBODY = 65534
MAX_PROCESSES = 64  # processes and threads the sandbox may add to what its uid already runs
MAX_FILE_BYTES = 64 * 2**20
MAX_OPEN_FILES = 256
MAX_OUTPUT_CHARS = 1_000_000
MAX_FOLDER_BYTES = 256 * 2**20  # everything written in the folder together, and the channel
MAX_FOLDER_ENTRIES = 50_000  # files and folders the code may create
WATCH_EVERY_S = 0.1  # how often the host sums the tree's memory and the folder's size
MAX_WALK_DIRS = 5_000  # folders of one extra_path entry searched for secret-bearing files
# Read-only everywhere: the system's shared libraries (the interpreter and its extension
# modules link against them), what the C library reads on its own, and public data the
# standard library reads (mimetypes, ssl's default context; /etc/ssl/private is not here).
SYSTEM_READS = ("/lib", "/lib64", "/lib32", "/usr/lib", "/usr/lib64", "/usr/lib32",
                "/usr/local/lib", "/usr/share/zoneinfo", "/etc/ld.so.cache", "/etc/localtime",
                "/etc/mime.types", "/etc/ssl/certs", "/etc/ssl/openssl.cnf",
                "/usr/share/ca-certificates")
# Files that an extra_path tree may hold but the code under test never needs to read: every
# hidden name (.env, .git, .ssh, .netrc, .aws) and the usual names of keys and credentials.
SECRET_NAMES = ("*.pem", "*.key", "*.p12", "*.pfx", "*.jks", "*.keystore", "*.kdbx", "*.env",
                "id_rsa*", "id_dsa*", "id_ecdsa*", "id_ed25519*", "credentials", "credentials.*",
                "secrets.*", "*.secret", "*.secrets")
# The audit hook in every sandboxed interpreter; the tests turn it off to show that the
# kernel's rules hold on their own (against code that gets past the hook).
AUDIT_HOOK = True
MEMORY_SIGNS = re.compile(r"\bMemoryError\b|Cannot allocate memory|std::bad_alloc")


@dataclass
class SandboxResult:
    returncode: int
    stdout: str
    stderr: str
    timed_out: bool  # the wall-clock timeout or the CPU-time limit ended it
    memory_exceeded: bool  # it reported an allocation failure, or the kernel or host killed it
    elapsed_s: float
    disk_exceeded: bool = False  # the host killed it for writing too much in its folder
    # What the program sent through the private channel (run_python(channel=True)), verified;
    # and how many lines in the channel failed verification (forged or torn).
    records: tuple[Any, ...] = ()
    rejected_records: int = 0


@dataclass(frozen=True)
class Launcher:
    """How sandboxed interpreters are started on this machine, found once by trying."""

    prefix: tuple[str, ...]
    namespaces: bool  # fresh network and PID namespaces (the kernel's "no network")
    drops_uid: bool  # runs as uid 65534 (root only: rlimits on processes do not bind root)


def run_python(files: Mapping[str, str], argv: Sequence[str], *, timeout_s: float = 10,
               memory_mb: int = 512, extra_path: Sequence[Path] = (),
               channel: bool = False) -> SandboxResult:
    """Run ``sys.executable <argv>`` in a fresh folder holding ``files``, confined, and clean up.

    ``files`` maps relative POSIX paths to text. The folder is the working directory and the
    first entry of PYTHONPATH, followed by ``extra_path`` (read-only, less its secret-bearing
    files). ``memory_mb`` bounds each process and the whole tree together. With ``channel``,
    the program gets a private report channel (``_hearth_sandbox.open_channel()``), and
    ``records`` holds what it sent. Never raises for what the sandboxed code does; raises
    ValueError for a bad request.
    """
    _check_request(files, argv, timeout_s, memory_mb)
    root = Path(tempfile.mkdtemp(prefix="hearth-sandbox-"))
    try:
        work, boot = root / "work", root / "boot"
        _write_files(work, files)
        for private in (".home", ".tmp"):
            (work / private).mkdir(exist_ok=True)
        _write_bootstrap(boot, [str(work), *(str(Path(p).resolve()) for p in extra_path)])
        launcher = _launcher()
        if launcher.drops_uid:
            _chown_tree(work, NOBODY)
        env = _environment(work, boot, extra_path, timeout_s, memory_mb)
        command = [*launcher.prefix, sys.executable, *argv]
        limits = _Limits(memory_mb * 2**20, work, root / "channel")
        with open(root / "stdout", "wb") as out, open(root / "stderr", "wb") as err, \
                _Channel(root / "channel", env, channel) as report:
            returncode, timed_out, elapsed = _supervise(command, work, env, out, err, timeout_s,
                                                        limits, report.fds)
        stdout, stderr = _read_output(root / "stdout"), _read_output(root / "stderr")
        records, rejected = report.read() if channel else ((), 0)
    finally:
        _remove_tree(root)
    if returncode == -signal.SIGXCPU:
        timed_out = True
    memory_exceeded = limits.memory_exceeded or not timed_out and not limits.disk_exceeded and (
        returncode == -signal.SIGKILL or bool(MEMORY_SIGNS.search(stderr))
        or bool(MEMORY_SIGNS.search(stdout[-20_000:])))
    if returncode == CONFINE_FAILED and "hearth sandbox:" in stderr:
        log.warning("The sandbox could not confine its interpreter: %s", stderr.strip())
    return SandboxResult(returncode, stdout, stderr, timed_out, memory_exceeded, elapsed,
                         limits.disk_exceeded, records, rejected)


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


SITECUSTOMIZE = """\
import sys

# Only the bootstrap's folder and the installation while it imports: a file in the sandbox
# folder named like a module it uses (json.py) must not run before the confinement.
_saved = sys.path[:]
sys.path[:] = [{boot!r}] + [p for p in _saved if p not in {user!r}]
try:
    import _hearth_sandbox
    _hearth_sandbox.confine_from_environment()
finally:
    sys.path[:] = _saved
"""


def _write_bootstrap(boot: Path, user_paths: Sequence[str]) -> None:
    """``sitecustomize`` runs in every sandboxed interpreter before the code it was given."""
    boot.mkdir()
    shutil.copyfile(BOOTSTRAP, boot / "_hearth_sandbox.py")
    (boot / "sitecustomize.py").write_text(
        SITECUSTOMIZE.format(boot=str(boot), user=list(user_paths)), encoding="utf-8")


def _chown_tree(folder: Path, uid: int) -> None:
    for directory, subdirs, names in os.walk(folder):
        os.lchown(directory, uid, uid)
        for name in subdirs + names:
            os.lchown(os.path.join(directory, name), uid, uid)


def _environment(work: Path, boot: Path, extra_path: Sequence[Path], timeout_s: float,
                 memory_mb: int) -> dict[str, str]:
    python = os.path.realpath(sys.executable)
    readable, listable = _extra_reads(extra_path)
    config = {"work": str(work), "python": python,
              "boot": str(boot), "memory_bytes": memory_mb * 2**20,
              "cpu_s": int(timeout_s) + 1, "file_bytes": MAX_FILE_BYTES,
              "max_processes": MAX_PROCESSES, "open_files": MAX_OPEN_FILES,
              "read": [*_installation(), *SYSTEM_READS, *readable], "list": listable,
              "execute": [python, *_elf_interpreter(python)], "audit": AUDIT_HOOK}
    python_path = [str(boot), str(work), *(str(Path(p).resolve()) for p in extra_path)]
    return {"PATH": os.environ.get("PATH", os.defpath),
            "LANG": os.environ.get("LANG", "C.UTF-8"),
            "HOME": str(work / ".home"), "TMPDIR": str(work / ".tmp"),
            "PYTHONPATH": os.pathsep.join(python_path),
            "PYTHONDONTWRITEBYTECODE": "1", "PYTHONNOUSERSITE": "1",
            "PYTHONIOENCODING": "utf-8", CONFIG_ENV: json.dumps(config)}


@functools.cache
def _installation() -> tuple[str, ...]:
    """What this Python reads to start and import: its standard library and site-packages (of
    the virtual environment and of the base installation), its own library folder, and a
    virtual environment's folder (pyvenv.cfg). Not the prefix itself when that is /usr or /:
    /usr/bin would then be readable, and with it every program."""
    paths = set()
    for scheme_vars in ({}, {"base": sys.base_prefix, "platbase": sys.base_exec_prefix}):
        found = sysconfig.get_paths(vars=scheme_vars) if scheme_vars else sysconfig.get_paths()
        paths.update(found[key] for key in ("stdlib", "platstdlib", "purelib", "platlib"))
    if sysconfig.get_config_var("LIBDIR"):
        paths.add(sysconfig.get_config_var("LIBDIR"))
    if sys.prefix != sys.base_prefix:
        paths.add(os.path.join(sys.prefix, "pyvenv.cfg"))
        paths.update(os.path.join(sys.prefix, part) for part in ("lib", "lib64"))
    return tuple(sorted(os.path.realpath(p) for p in paths if p and os.path.realpath(p) != "/"))


@functools.cache
def _elf_interpreter(program: str) -> tuple[str, ...]:
    """The dynamic loader named in ``program``'s PT_INTERP header: the kernel opens it for
    execution too, so Landlock must allow running it. Empty for a static or non-ELF program."""
    import struct

    try:
        with open(program, "rb") as handle:
            header = handle.read(64)
            if header[:4] != b"\x7fELF" or header[4] != 2:  # 64-bit ELF only
                return ()
            order = "<" if header[5] == 1 else ">"
            phoff, = struct.unpack_from(order + "Q", header, 32)
            phentsize, phnum = struct.unpack_from(order + "HH", header, 54)
            for index in range(phnum):
                handle.seek(phoff + index * phentsize)
                kind, _, offset, _, _, size = struct.unpack(order + "IIQQQQ", handle.read(40))
                if kind == 3:  # PT_INTERP
                    handle.seek(offset)
                    name = handle.read(size).rstrip(b"\0").decode()
                    return (os.path.realpath(name),)
    except (OSError, struct.error, UnicodeDecodeError):
        return ()
    return ()


def _secret(name: str) -> bool:
    """Hidden, or named like a key or credentials; never a Python module (secrets.py is code)."""
    if name.startswith("."):
        return True
    lower = name.lower()
    return not lower.endswith((".py", ".pyi")) and any(fnmatch.fnmatch(lower, pattern)
                                                       for pattern in SECRET_NAMES)


def _extra_reads(extra_path: Sequence[Path]) -> tuple[list[str], list[str]]:
    """Landlock's rules for ``extra_path``: each tree readable, except its secret-bearing files.

    Landlock only allows, so a folder holding a secret is listed (names only) and its other
    entries allowed one by one; a folder holding none is allowed whole. The search stops after
    MAX_WALK_DIRS folders (breadth first, so the workspace's own .env is always found); a
    secret deeper than that stays readable, which docs/sandbox.md says.
    """
    readable: list[str] = []
    listable: list[str] = []
    for entry in dict.fromkeys(os.path.realpath(p) for p in extra_path):
        if not os.path.isdir(entry):
            if os.path.exists(entry) and not _secret(os.path.basename(entry)):
                readable.append(entry)
            continue
        dirty = _folders_with_secrets(entry)
        pending = [entry]
        while pending:
            folder = pending.pop()
            if folder not in dirty:
                readable.append(folder)
                continue
            listable.append(folder)
            try:
                children = list(os.scandir(folder))
            except OSError:
                continue
            for child in children:
                if _secret(child.name):
                    continue
                if child.is_dir(follow_symlinks=False):
                    pending.append(child.path)
                elif child.is_file(follow_symlinks=False):
                    readable.append(child.path)
    return readable, listable


def _folders_with_secrets(root: str) -> set[str]:
    """The folders under ``root`` (itself included) that hold a secret-bearing entry at any
    depth."""
    dirty: set[str] = set()
    queue, searched = [root], 0
    while queue and searched < MAX_WALK_DIRS:
        folder = queue.pop(0)
        searched += 1
        try:
            children = list(os.scandir(folder))
        except OSError:
            continue
        for child in children:
            if _secret(child.name):
                path = folder
                while path not in dirty:
                    dirty.add(path)
                    if path == root:
                        break
                    path = os.path.dirname(path)
            elif child.is_dir(follow_symlinks=False):
                queue.append(child.path)
    return dirty


class _Channel:
    """The private report channel: a file outside the folder (which Landlock keeps the code
    from opening) inherited as an append-only descriptor, and a per-run key read once from a
    pipe. Only lines signed with the key count."""

    def __init__(self, path: Path, env: dict[str, str], wanted: bool) -> None:
        self.path, self.env, self.wanted = path, env, wanted
        self.key = os.urandom(CHANNEL_KEY_BYTES)
        self.fds: tuple[int, ...] = ()

    def __enter__(self) -> _Channel:
        if not self.wanted:
            return self
        out = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        key_read, key_write = os.pipe()
        os.write(key_write, self.key)
        os.close(key_write)
        self.fds = (out, key_read)
        self.env[CHANNEL_ENV] = f"{out},{key_read}"
        return self

    def __exit__(self, *_: Any) -> None:
        for fd in self.fds:
            os.close(fd)

    def read(self) -> tuple[tuple[Any, ...], int]:
        records, rejected = [], 0
        try:
            with self.path.open("rb") as handle:
                data = handle.read(MAX_FILE_BYTES)
        except OSError:
            return (), 0
        for line in data.splitlines():
            signature, _, body = line.partition(b" ")
            try:
                if not hmac.compare_digest(signature.decode("ascii"), sign(self.key, body)):
                    raise ValueError("bad signature")
                records.append(json.loads(body))
            except (ValueError, UnicodeDecodeError):
                rejected += 1
        return tuple(records), rejected


class _Limits:
    """The whole tree's memory and the folder's size, summed by the host while the code runs:
    rlimits bind one process each, and the code may start many and write many files."""

    def __init__(self, memory_bytes: int, work: Path, channel: Path) -> None:
        self.memory_bytes, self.work, self.channel = memory_bytes, work, channel
        self.memory_exceeded = self.disk_exceeded = False

    def exceeded(self, leader: int) -> bool:
        if _tree_memory(leader) > self.memory_bytes:
            self.memory_exceeded = True
        elif _folder_size(self.work, self.channel) > MAX_FOLDER_BYTES:
            self.disk_exceeded = True
        return self.memory_exceeded or self.disk_exceeded


def _tree_memory(leader: int) -> int:
    """The proportional set size of ``leader`` and all its descendants, in bytes (shared pages
    split between their sharers, so forked children are not counted twice)."""
    parents: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as handle:
                parent = int(handle.read().rsplit(b")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        parents.setdefault(parent, []).append(int(entry.name))
    total, pending = 0, [leader]
    while pending:
        pid = pending.pop()
        pending.extend(parents.get(pid, ()))
        try:
            with open(f"/proc/{pid}/smaps_rollup", "rb") as handle:
                for line in handle:
                    if line.startswith(b"Pss:"):
                        total += int(line.split()[1]) * 1024
                        break
        except (OSError, ValueError):
            continue
    return total


def _folder_size(work: Path, channel: Path) -> float:
    """Bytes allocated in the folder and the channel; infinite past MAX_FOLDER_ENTRIES names."""
    total, entries, pending = 0, 0, [str(work)]
    try:
        total += os.stat(channel).st_blocks * 512
    except OSError:
        pass
    while pending:
        try:
            children = list(os.scandir(pending.pop()))
        except OSError:
            continue
        entries += len(children)
        if entries > MAX_FOLDER_ENTRIES:
            return float("inf")
        for child in children:
            try:
                info = child.stat(follow_symlinks=False)
            except OSError:
                continue
            total += info.st_blocks * 512
            if stat.S_ISDIR(info.st_mode):
                pending.append(child.path)
    return total


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
               timeout_s: float, limits: _Limits, fds: Sequence[int]) -> tuple[int, bool, float]:
    """Run ``command`` in its own session; kill the whole group at the deadline, when the tree
    exceeds its limits, or at exit."""
    start = time.monotonic()
    process = subprocess.Popen(command, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                               stdout=out, stderr=err, start_new_session=True, pass_fds=fds)
    try:
        finished = _wait_unreaped(process.pid, start + timeout_s, limits)
    finally:
        # The leader is still a zombie (not reaped), so its group id cannot have been reused:
        # this kills exactly the sandbox's stragglers.
        _kill_group(process.pid)
        process.wait()
        _wait_until_group_gone(process.pid, time.monotonic() + 5)
    return process.returncode, not finished and not (
        limits.memory_exceeded or limits.disk_exceeded), time.monotonic() - start


def _wait_unreaped(pid: int, deadline: float, limits: _Limits) -> bool:
    """True when ``pid`` exited on its own; False at the deadline or over the limits."""
    pause, next_watch = 0.005, time.monotonic() + WATCH_EVERY_S
    while True:
        if os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
            return True
        now = time.monotonic()
        if now >= deadline:
            return False
        if now >= next_watch:
            if limits.exceeded(pid):
                return False
            next_watch = time.monotonic() + WATCH_EVERY_S
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
