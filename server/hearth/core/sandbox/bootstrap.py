"""The sandbox's bootstrap: the first code every sandboxed interpreter runs (through the
``sitecustomize`` the host writes next to it). It sets the rlimits, Landlock's write rules and an
audit hook, and ends the process if any of them fails. Standard library only: it is copied into
each sandbox as a file, and the host side (sandbox.host) imports its constants.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import socket
import sys
from collections.abc import Callable
from typing import Any

CONFIG_ENV = "HEARTH_SANDBOX"
LANDLOCKED_ENV = "HEARTH_SANDBOX_LANDLOCK"
CONFINE_FAILED = 120  # the exit status when the bootstrap could not confine the interpreter
# Interpreter flags that skip site or PYTHONPATH, and with them the bootstrap.
UNCONFINED_FLAGS = frozenset("ISE")


def interpreter_options(argv: list[str]) -> list[str]:
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


def confine_from_environment() -> None:
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
        if any(UNCONFINED_FLAGS & set(flags) for flags in interpreter_options(args[1:])):
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
