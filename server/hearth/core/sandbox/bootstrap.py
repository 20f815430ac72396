"""The sandbox's bootstrap: the first code every sandboxed interpreter runs (through the
``sitecustomize`` the host writes next to it). It sets the rlimits, Landlock's read, write and
execute rules, a seccomp filter and an audit hook, and ends the process if any of them fails;
``open_channel`` gives the host's program its private report channel. Standard library only: it
is copied into each sandbox as a file, and the host side (sandbox.host) imports its constants.
"""

from __future__ import annotations

import errno
import hashlib
import hmac
import json
import os
import shutil
import socket
import sys
from collections.abc import Callable
from typing import Any

CONFIG_ENV = "HEARTH_SANDBOX"
LANDLOCKED_ENV = "HEARTH_SANDBOX_LANDLOCK"
CHANNEL_ENV = "HEARTH_SANDBOX_CHANNEL"  # "record fd,key fd" for the program the host started
CHANNEL_KEY_BYTES = 32
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
        # A child Python inherits the rlimits and the kernel's rules (they cannot be lifted);
        # setting them again would only stack the same rules, and /proc, which counting the
        # processes needs, is no longer readable.
        if not os.environ.get(LANDLOCKED_ENV):
            _set_limits(config)
            landlock = _landlock(config)
            filtered = _seccomp()
            os.environ[LANDLOCKED_ENV] = f"{landlock}:{int(filtered)}"
        _forget_ctypes()
        if config.get("audit", True):
            sys.addaudithook(_audit_hook(config))
    except Exception as exc:  # noqa: BLE001 - whatever it is, the code must not run
        os.write(2, f"hearth sandbox: could not confine the interpreter: {exc!r}\n".encode())
        os._exit(CONFINE_FAILED)


def open_channel() -> Callable[[Any], None]:
    """The sender of the private report channel, for the program the host started (call it
    before importing any code under test): records sent are signed with a key that only this
    call can read, and written to a file the code cannot open, so that the host can tell them
    from anything the code under test writes. Works once per process."""
    raw = os.environ.pop(CHANNEL_ENV, "")
    if not raw:
        raise RuntimeError("hearth sandbox: no report channel (run_python(channel=True))")
    out, key_fd = (int(fd) for fd in raw.split(","))
    key = b""
    while len(key) < CHANNEL_KEY_BYTES:
        chunk = os.read(key_fd, CHANNEL_KEY_BYTES - len(key))
        if not chunk:
            raise RuntimeError("hearth sandbox: the report channel's key is missing")
        key += chunk
    os.close(key_fd)
    os.set_inheritable(out, False)  # a program it starts does not get the channel

    def send(record: Any, _key: bytes = key, _out: int = out) -> None:
        body = json.dumps(record, separators=(",", ":")).encode()
        os.write(_out, sign(_key, body).encode() + b" " + body + b"\n")

    return send


def sign(key: bytes, body: bytes) -> str:
    return hmac.new(key, body, hashlib.sha256).hexdigest()


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


# Landlock (Linux >= 5.13): the kernel's own "read, write and run only this", inherited by
# every child. Access rights by bit: execute, write, read file, read dir, then the changes.
_LANDLOCK_CREATE, _LANDLOCK_ADD_RULE, _LANDLOCK_RESTRICT = 444, 445, 446
_FS_EXECUTE, _FS_WRITE_FILE, _FS_READ_FILE, _FS_READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
_FS_TRUNCATE = 1 << 14
_FS_CHANGES = sum(1 << bit for bit in (4, 5, 6, 7, 8, 9, 10, 11, 12))  # remove, make *
_FS_REFER = 1 << 13
_FS_READ = _FS_READ_FILE | _FS_READ_DIR
_NET_TCP = (1 << 0) | (1 << 1)  # bind, connect
_SCOPE_ABSTRACT_UNIX_AND_SIGNAL = (1 << 0) | (1 << 1)
# Devices every interpreter may need: reads from these, and /dev/null for writing too.
_READ_DEVICES = ("/dev/urandom", "/dev/random", "/dev/zero")


def _libc() -> Any:
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    return libc


def _landlock_abi() -> int:
    """The kernel's Landlock ABI version, 0 without Landlock (or off Linux)."""
    import ctypes

    try:
        libc = _libc()
    except OSError:
        return 0
    abi = libc.syscall(_LANDLOCK_CREATE, None, ctypes.c_size_t(0), ctypes.c_uint32(1))
    return max(int(abi), 0)


def _landlock(config: dict[str, Any]) -> int:
    """Allow reads only of the folder and of what ``config`` lists (the Python installation, its
    libraries, ``extra_path`` less its secret-bearing files), writes only in the folder,
    running only this Python, and, where the ABI allows, no TCP, abstract Unix sockets or
    signals to processes outside the sandbox. Returns the ABI used, 0 if unavailable."""
    import ctypes
    import struct

    abi = _landlock_abi()
    if abi < 1:
        return 0
    libc = _libc()
    changes = _FS_WRITE_FILE | _FS_CHANGES
    changes |= _FS_REFER if abi >= 2 else 0
    changes |= _FS_TRUNCATE if abi >= 3 else 0
    fs = changes | _FS_READ | _FS_EXECUTE
    net = _NET_TCP if abi >= 4 else 0
    scoped = _SCOPE_ABSTRACT_UNIX_AND_SIGNAL if abi >= 6 else 0
    attr = struct.pack("=QQQ", fs, net, scoped)[: 8 if abi < 4 else 16 if abi < 6 else 24]
    ruleset = libc.syscall(_LANDLOCK_CREATE, ctypes.c_char_p(attr), ctypes.c_size_t(len(attr)),
                           ctypes.c_uint32(0))
    if ruleset < 0:
        raise OSError(ctypes.get_errno(), "landlock_create_ruleset failed")
    file_write = _FS_WRITE_FILE | (_FS_TRUNCATE if abi >= 3 else 0)
    rules = [(config["work"], changes | _FS_READ), (config["boot"], _FS_READ),
             (os.devnull, file_write | _FS_READ_FILE)]
    rules += [(device, _FS_READ_FILE) for device in _READ_DEVICES]
    rules += [(path, _FS_READ) for path in config.get("read", ())]
    rules += [(path, _FS_READ_DIR) for path in config.get("list", ())]
    rules += [(path, _FS_READ_FILE | _FS_EXECUTE) for path in config.get("execute", ())]
    try:
        for path, rights in rules:
            try:
                fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
            except FileNotFoundError:
                continue  # a library folder this system does not have
            try:
                if not os.path.isdir(path):
                    rights &= _FS_EXECUTE | _FS_READ_FILE | file_write  # a file's own rights
                rule = struct.pack("=Qi", rights, fd)
                if libc.syscall(_LANDLOCK_ADD_RULE, ctypes.c_int(ruleset), ctypes.c_int(1),
                                ctypes.c_char_p(rule), ctypes.c_uint32(0)) != 0:
                    raise OSError(ctypes.get_errno(), f"landlock_add_rule failed for {path}")
            finally:
                os.close(fd)
        _no_new_privileges(libc)
        if libc.syscall(_LANDLOCK_RESTRICT, ctypes.c_int(ruleset), ctypes.c_uint32(0)) != 0:
            raise OSError(ctypes.get_errno(), "landlock_restrict_self failed")
    finally:
        os.close(ruleset)
    return abi


def _no_new_privileges(libc: Any) -> None:
    import ctypes

    if libc.prctl(38, 1, 0, 0, 0) != 0:  # PR_SET_NO_NEW_PRIVS, required to restrict
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")


# seccomp (a classic BPF program, no libseccomp needed): Landlock (ABI < 8) does not govern
# connect() to a Unix socket by its path, so creating Unix sockets is refused outright
# (socketpair(), which reaches no one, stays allowed); io_uring is refused because its
# operations (open, socket, connect) would never pass through this filter.
_SECCOMP_ARCHES = {"x86_64": (0xC000003E, 41, 425), "aarch64": (0xC00000B7, 198, 425)}
_X32_SYSCALL_BIT = 0x40000000
_RET_ALLOW, _RET_ERRNO, _RET_KILL = 0x7FFF0000, 0x00050000, 0x80000000


def seccomp_supported() -> bool:
    """Whether this machine's architecture has the filter below (the kernel decides the rest)."""
    return sys.platform == "linux" and os.uname().machine in _SECCOMP_ARCHES


def _seccomp_program(machine: str) -> bytes:
    import struct

    arch, socket_nr, io_uring_setup = _SECCOMP_ARCHES[machine]
    load, jeq, jge, ret = 0x20, 0x15, 0x35, 0x06
    refuse = _RET_ERRNO | errno.EACCES
    program = [
        (load, 0, 0, 4),                      # 0: the calling convention's architecture
        (jeq, 1, 0, arch),                    # 1: native: go on; anything else: kill
        (ret, 0, 0, _RET_KILL),               # 2
        (load, 0, 0, 0),                      # 3: the system call's number
        (jge, 5, 0, _X32_SYSCALL_BIT),        # 4: x32 calls: refuse
        (jeq, 4, 0, io_uring_setup),          # 5: io_uring: refuse
        (jeq, 0, 2, socket_nr),               # 6: socket(): look at its family
        (load, 0, 0, 16),                     # 7: args[0], low 32 bits
        (jeq, 1, 0, socket.AF_UNIX),          # 8: AF_UNIX: refuse
        (ret, 0, 0, _RET_ALLOW),              # 9
        (ret, 0, 0, refuse),                  # 10
    ]
    return b"".join(struct.pack("=HBBI", *instruction) for instruction in program)


def _seccomp() -> bool:
    """Install the filter; False where the architecture has none (the hook still refuses)."""
    import ctypes

    if not seccomp_supported():
        return False
    code = _seccomp_program(os.uname().machine)
    buffer = ctypes.create_string_buffer(code, len(code))

    class Program(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    program = Program(len(code) // 8, ctypes.addressof(buffer))
    libc = _libc()
    _no_new_privileges(libc)
    if libc.prctl(22, 2, ctypes.byref(program), 0, 0) != 0:  # PR_SET_SECCOMP, MODE_FILTER
        if ctypes.get_errno() == errno.EINVAL:
            return False  # a kernel built without seccomp filters: the hook still refuses
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_SECCOMP) failed")
    return True


def _forget_ctypes() -> None:
    """ctypes was needed above; dropped from the module cache, importing it again reaches the
    audit hook, which refuses it."""
    for name in [n for n in sys.modules if n == "ctypes" or n.startswith(("ctypes.", "_ctypes"))]:
        del sys.modules[name]


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
_LISTINGS = frozenset({"os.listdir", "os.scandir"})
# Ways to reach the hook's own objects (or the report channel's key) from Python.
_INTROSPECTION = frozenset({"gc.get_objects", "gc.get_referrers", "gc.get_referents"})
_FOREIGN = frozenset({"ctypes.dlopen", "ctypes.dlsym", "ctypes.dlsym/handle", "ctypes.cdata"})


def _audit_hook(config: dict[str, Any]) -> Callable[[str, tuple[Any, ...]], None]:
    """Refuse, with a clear PermissionError, reads and writes outside what the sandbox may use,
    network access, ctypes, and programs other than this Python (which gets the same bootstrap).

    Everything the hook uses is bound as a default argument, not a closure cell or a global:
    code that gets hold of the hook's frame (a traceback reaches it) cannot change what it
    checks. Code that monkeypatches the standard library functions it calls (os.path.realpath)
    can still blind it; the kernel's rules do not depend on it.
    """
    work = os.path.realpath(config["work"])
    readable = tuple(os.path.realpath(p) for p in (
        config["work"], config["boot"], *config.get("read", ()), *config.get("execute", ()),
        os.devnull, *_READ_DEVICES))
    listable = readable + tuple(os.path.realpath(p) for p in config.get("list", ()))

    def under(path: Any, roots: tuple[str, ...], _realpath: Any = os.path.realpath,
              _fsdecode: Any = os.fsdecode, _isinstance: Any = isinstance, _sep: str = os.sep,
              _any: Any = any) -> bool:
        if _isinstance(path, int):
            return True  # an already open descriptor: it was checked when opened
        resolved = _realpath(_fsdecode(path))
        return _any(resolved == root or resolved.startswith(root.rstrip(_sep) + _sep)
                    for root in roots)

    def refuse(what: str, _error: Any = PermissionError, _code: int = errno.EACCES) -> None:
        raise _error(_code, f"hearth sandbox: {what} is not allowed")

    def check_program(program: Any, arguments: Any, environment: Any, _python: str = config[
            "python"], _boot: str = config["boot"], _fsdecode: Any = os.fsdecode,
            _which: Any = shutil.which, _realpath: Any = os.path.realpath, _sep: str = os.sep,
            _options: Any = interpreter_options, _flags: frozenset = UNCONFINED_FLAGS,
            _refuse: Any = refuse, _isinstance: Any = isinstance, _dict: Any = dict,
            _pathsep: str = os.pathsep) -> None:
        program = _fsdecode(program) if program is not None else ""
        found = _which(program) if _sep not in program else program
        if not found or _realpath(found) != _python:
            _refuse(f"running {program or 'a program'} (only this Python may run)")
        args = [_fsdecode(a) for a in arguments or ()] if not _isinstance(
            arguments, (str, bytes)) else []
        if any(_flags & set(flags) for flags in _options(args[1:])):
            _refuse("starting Python without site or PYTHONPATH")
        if environment is not None:
            paths = _fsdecode(_dict(environment).get("PYTHONPATH", b"")).split(_pathsep)
            if _boot not in paths:
                _refuse("starting Python without the sandbox's PYTHONPATH")

    def hook(event: str, args: tuple[Any, ...], _work: tuple[str, ...] = (work,),
             _readable: tuple[str, ...] = readable, _listable: tuple[str, ...] = listable,
             _under: Any = under, _refuse: Any = refuse, _check_program: Any = check_program,
             _isinstance: Any = isinstance, _any: Any = any, _fsdecode: Any = os.fsdecode,
             _write_flags: int = _WRITE_FLAGS, _changes: Any = _PATH_CHANGES,
             _addressed: frozenset = _ADDRESSED, _lookups: frozenset = _NAME_LOOKUPS,
             _programs: Any = _PROGRAMS, _listings: frozenset = _LISTINGS,
             _introspection: frozenset = _INTROSPECTION, _foreign: frozenset = _FOREIGN,
             _devnull: str = os.devnull) -> None:
        if event == "open":
            path, mode, flags = args
            if path is None or _isinstance(path, int):
                return
            writing = (_isinstance(mode, str) and _any(c in mode for c in "wax+")) or (
                _isinstance(flags, int) and flags & _write_flags)
            if writing and path != _devnull and not _under(path, _work):
                _refuse(f"writing {_fsdecode(path)} (outside the sandbox folder)")
            if not _under(path, _readable):
                _refuse(f"reading {_fsdecode(path)} (outside what the sandbox may read)")
        elif event in _listings:
            if args[0] is not None and not _under(args[0], _listable):
                _refuse(f"listing {_fsdecode(args[0])} (outside what the sandbox may read)")
        elif event in _changes:
            for index in _changes[event]:
                if not _under(args[index], _work):
                    _refuse(f"changing {_fsdecode(args[index])} (outside the sandbox folder)")
        elif event in _addressed:
            # Unix sockets too: socketpair() (asyncio's, multiprocessing's) needs no address.
            _refuse("network access")
        elif event in _lookups:
            _refuse("network access (name lookup)")
        elif event == "os.system":
            _refuse("running a shell command")
        elif event in _programs:
            program, arguments, environment = (args[i] for i in _programs[event])
            _check_program(program, arguments, environment)
        elif event == "import" and args[0] in ("ctypes", "_ctypes"):
            _refuse("ctypes (calling C code directly)")
        elif event in _foreign:
            _refuse("ctypes (calling C code directly)")
        elif event in _introspection:
            _refuse(f"{event} (it would reach the sandbox's own objects)")

    return hook
