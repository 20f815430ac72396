"""Hostile code through the sandbox, each effect checked from outside: secrets in files the code
should not read never reach its output, marker files outside are never created, a socket server
on the host gets no connection, memory and disk stay bounded, forged results are not counted.

Most snippets run twice: with the audit hook (a clear refusal) and without it (``kernel_only``:
what the kernel enforces alone, as against code that gets past the hook).
"""

from __future__ import annotations

import os
import socket
import sys
import textwrap
import uuid
from pathlib import Path

import pytest

from hearth.core.actions.testfile_layout import ImportTarget
from hearth.core.actions.testfile_runner import _outcome, run_tests
from hearth.core.pipeline.rank import _read
from hearth.core.sandbox import SandboxResult, host, run_python
from hearth.core.sandbox.bootstrap import _landlock_abi, seccomp_supported
from hearth.core.sandbox.host import _launcher

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="the sandbox targets Linux")

LANDLOCK = _landlock_abi()
needs_reads = pytest.mark.skipif(LANDLOCK < 1, reason="the kernel has no Landlock")
needs_seccomp = pytest.mark.skipif(not seccomp_supported(),
                                   reason="no seccomp filter for this architecture")
needs_tcp_rules = pytest.mark.skipif(not (_launcher().namespaces or LANDLOCK >= 4),
                                     reason="neither a network namespace nor Landlock TCP rules")
needs_scoping = pytest.mark.skipif(LANDLOCK < 6 and not _launcher().namespaces,
                                   reason="no Landlock ABI 6 scoping nor a network namespace")
LAYERS = [pytest.param(True, id="hook"), pytest.param(False, id="kernel")]


@pytest.fixture
def secrets_on_disk(tmp_path: Path) -> dict[str, str]:
    """A workspace with a .env and a key beside importable code, a fake home folder, and a
    secret file elsewhere; every secret holds (and the home file's name holds) one token."""
    token = f"HEARTH-SECRET-{uuid.uuid4().hex}"
    workspace = tmp_path / "workspace"
    (workspace / "pkg").mkdir(parents=True)
    (workspace / ".env").write_text(f"API_KEY={token}\n")
    (workspace / "pkg" / "__init__.py").write_text("")
    (workspace / "pkg" / "helper.py").write_text("ANSWER = 42\n")
    (workspace / "pkg" / "secrets.py").write_text("KIND = 'code, not a secret'\n")
    (workspace / "pkg" / "id_rsa").write_text(token)
    home = tmp_path / "home"
    home.mkdir()
    (home / f"notes-{token}.txt").write_text(token)
    outside = tmp_path / "elsewhere.txt"
    outside.write_text(token)
    for path in (workspace, home, tmp_path):
        path.chmod(0o777)  # so that only the sandbox, not file permissions, can refuse
    for path in (outside, workspace / ".env", workspace / "pkg" / "id_rsa"):
        path.chmod(0o666)
    return {"token": token, "workspace": str(workspace), "home": str(home),
            "outside": str(outside), "env": str(workspace / ".env"),
            "key": str(workspace / "pkg" / "id_rsa"), "tmp": str(tmp_path)}


def run(code: str, layer: bool, monkeypatch, values: dict[str, str], **options) -> SandboxResult:
    monkeypatch.setattr(host, "AUDIT_HOOK", layer)
    source = textwrap.dedent(code)
    for name, value in values.items():
        source = source.replace("{" + name + "}", value)
    return run_python({"main.py": source}, ["main.py"], **options)


# Each reads a secret and prints it; the token must not come back.
READS = {
    "open": "print(open('{outside}').read())",
    "os.open": "import os\nprint(os.read(os.open('{outside}', os.O_RDONLY), 200))",
    "pathlib": "import pathlib\nprint(pathlib.Path('{outside}').read_text())",
    "FileIO": "import io\nprint(io.FileIO('{outside}').read())",
    "workspace .env": "print(open('{env}').read())",
    "key beside code": "print(open('{key}').read())",
    "home listing": "import os\nprint(os.listdir('{home}'))",
    "home scandir": "import os\nprint([e.name for e in os.scandir('{home}')])",
    "home glob": "import glob\nprint(glob.glob('{home}/*'))",
    "copy in": "import shutil\nshutil.copy('{outside}', 'c.txt')\nprint(open('c.txt').read())",
    "symlink in": "import os\nos.symlink('{outside}', 'l')\nprint(open('l').read())",
    "hard link in": "import os\nos.link('{outside}', 'h')\nprint(open('h').read())",
    "/proc/self/root": "print(open('/proc/self/root{outside}').read())",
    "mmap": "import mmap, os\nfd = os.open('{outside}', os.O_RDONLY)\n"
            "print(mmap.mmap(fd, 0, prot=mmap.PROT_READ)[:])",
    "linecache": "import linecache\nprint(linecache.getline('{outside}', 1))",
    "a loader's get_data": "from importlib.machinery import SourceFileLoader as L\n"
                           "print(L('x', '{outside}').get_data('{outside}'))",
    "child Python": "import subprocess, sys\n"
                    "child = 'print(open(\"{outside}\").read())'\n"
                    "print(subprocess.run([sys.executable, '-c', child],"
                    " capture_output=True, text=True).stdout)",
    "tmp folder listing": "import os\nprint(os.listdir('{tmp}'), os.listdir('{home}'))",
}


@needs_reads
@pytest.mark.parametrize("layer", LAYERS)
@pytest.mark.parametrize("name", sorted(READS))
def test_secrets_outside_what_the_code_needs_are_not_read(name, layer, monkeypatch,
                                                          secrets_on_disk):
    code = "try:\n" + textwrap.indent(READS[name], "    ") + \
        "\nexcept OSError as exc:\n    print('REFUSED', exc)\nprint('RAN TO THE END')\n"
    result = run(code, layer, monkeypatch, secrets_on_disk,
                 extra_path=[Path(secrets_on_disk["workspace"])])
    assert secrets_on_disk["token"] not in result.stdout + result.stderr
    # It ran (the sandbox did not simply refuse to start): the secret was not reachable.
    assert "RAN TO THE END" in result.stdout, result.stdout + result.stderr


@needs_reads
def test_the_kernel_refuses_reads_through_ctypes(monkeypatch, secrets_on_disk):
    result = run("""
        import ctypes, os
        libc = ctypes.CDLL(None, use_errno=True)
        fd = libc.open(b"{outside}", os.O_RDONLY)
        buffer = ctypes.create_string_buffer(200)
        print("FD", fd, libc.read(fd, buffer, 200) if fd >= 0 else -1, buffer.value)
    """, False, monkeypatch, secrets_on_disk)
    assert "FD -1" in result.stdout, result.stdout + result.stderr
    assert secrets_on_disk["token"] not in result.stdout


@needs_reads
@pytest.mark.parametrize("layer", LAYERS)
def test_root_only_and_system_files_are_not_read(layer, monkeypatch):
    """Only whether the read succeeded is checked: /etc/shadow's contents are not ours."""
    result = run("""
        for path in ("/etc/shadow", "/etc/passwd", "/root", "/proc/1/environ"):
            try:
                open(path).read() if path != "/root" else __import__("os").listdir(path)
                print("READ-OK", path)
            except OSError as exc:
                print("REFUSED", path, type(exc).__name__)
    """, layer, monkeypatch, {})
    assert "READ-OK" not in result.stdout, result.stdout
    assert result.stdout.count("REFUSED") == 4, result.stdout + result.stderr


@pytest.mark.parametrize("layer", LAYERS)
def test_code_beside_a_secret_is_still_importable(layer, monkeypatch, secrets_on_disk):
    result = run("from pkg.helper import ANSWER\nfrom pkg.secrets import KIND\n"
                 "print('ANSWER', ANSWER, KIND)\n", layer, monkeypatch,
                 secrets_on_disk, extra_path=[Path(secrets_on_disk["workspace"])])
    assert "ANSWER 42 code, not a secret" in result.stdout, result.stderr


def test_the_host_environment_does_not_leak(monkeypatch):
    secret = f"HEARTH-ENV-{uuid.uuid4().hex}"
    monkeypatch.setenv("HEARTH_HOST_TOKEN", secret)
    result = run("""
        import os
        print(dict(os.environ))
        try:
            print(open("/proc/self/environ").read(), open("/proc/1/environ").read())
        except OSError as exc:
            print("REFUSED", exc)
    """, True, monkeypatch, {})
    assert secret not in result.stdout + result.stderr


# Each tries to create {marker} outside the folder by running another program.
PROGRAMS = {
    "os.system": "import os\nos.system('touch {marker}')",
    "subprocess shell": "import subprocess\nsubprocess.run('touch {marker}', shell=True)",
    "subprocess": "import subprocess\nsubprocess.run(['/usr/bin/touch', '{marker}'])",
    "fork_exec": """
        import os, _posixsubprocess
        read, write = os.pipe()
        pid = _posixsubprocess.fork_exec([b'/usr/bin/touch', b'{marker}'], [b'/usr/bin/touch'],
            True, (), None, None, -1, -1, -1, -1, -1, -1, read, write, True, False, -1, None,
            None, -1, -1, None, False)
        os.close(write)
        print('EXEC ERROR', os.read(read, 200))
        os.waitpid(pid, 0)
    """,
    "execv after fork": """
        import os
        pid = os.fork()
        if pid == 0:
            try:
                os.execv('/usr/bin/touch', ['touch', '{marker}'])
            finally:
                os._exit(3)
        print('CHILD', os.waitpid(pid, 0))
    """,
    "posix_spawn": "import os\nos.waitpid(os.posix_spawn('/usr/bin/touch', "
                   "['touch', '{marker}'], {}), 0)",
    "a script in the folder": """
        import os, subprocess
        with open('run.sh', 'w') as h:
            h.write('#!/bin/sh\\ntouch {marker}\\n')
        os.chmod('run.sh', 0o755)
        subprocess.run(['./run.sh'])
    """,
    "the dynamic loader": """
        import os, subprocess
        subprocess.run(['/lib64/ld-linux-x86-64.so.2', '/usr/bin/touch', '{marker}'])
    """,
    "Python without the bootstrap": """
        import os, sys, _posixsubprocess
        read, write = os.pipe()
        code = b"open('{marker}', 'w')"
        pid = _posixsubprocess.fork_exec([sys.executable.encode(), b'-I', b'-S', b'-c', code],
            [sys.executable.encode()], True, (), None, [b'PATH=/usr/bin'], -1, -1, -1, -1, -1, -1,
            read, write, True, False, -1, None, None, -1, -1, None, False)
        os.close(write)
        print('CHILD', os.waitpid(pid, 0))
    """,
    "a forked child writes": """
        import multiprocessing
        p = multiprocessing.Process(target=lambda: open('{marker}', 'w').write('x'))
        p.start(); p.join()
    """,
    "a renamed file": "import os\nopen('m', 'w').close()\nos.rename('m', '{marker}')",
    "the audit hook's frame": """
        import os
        try:
            open('{marker}', 'w')
        except PermissionError as exc:
            tb = exc.__traceback__
            while tb:
                frame = tb.tb_frame
                for value in list(frame.f_locals.values()):
                    for cell in getattr(value, '__closure__', None) or ():
                        try:
                            cell.cell_contents = '/'
                        except Exception:
                            pass
                tb = tb.tb_next
        for attempt in (lambda: open('{marker}', 'w'), lambda: os.system('touch {marker}')):
            try:
                attempt()
            except OSError as exc:
                print('REFUSED', exc)
    """,
    "the standard library patched": """
        import os, posixpath
        posixpath.realpath = lambda path, **_: os.getcwd()
        os.path.realpath = posixpath.realpath
        for attempt in (lambda: open('{marker}', 'w'), lambda: os.system('touch {marker}')):
            try:
                attempt()
            except OSError as exc:
                print('REFUSED', exc)
    """,
}


@needs_reads
@pytest.mark.parametrize("layer", LAYERS)
@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_no_program_runs_and_nothing_is_created_outside(name, layer, monkeypatch, tmp_path):
    marker = tmp_path / f"marker-{uuid.uuid4().hex}"
    tmp_path.chmod(0o777)
    code = "try:\n" + textwrap.indent(textwrap.dedent(PROGRAMS[name]), "    ") + \
        "\nexcept OSError as exc:\n    print('REFUSED', exc)\n"
    result = run(code + "print('RAN TO THE END')\n", layer, monkeypatch,
                 {"marker": str(marker)})
    assert not marker.exists(), result.stdout + result.stderr
    assert "RAN TO THE END" in result.stdout, result.stdout + result.stderr


@needs_reads
@pytest.mark.parametrize("call", ["system", "execve"])
def test_ctypes_cannot_run_a_program(call, monkeypatch, tmp_path):
    """With the hook, ctypes itself is refused; without it, the kernel refuses the program."""
    marker = tmp_path / f"marker-{uuid.uuid4().hex}"
    tmp_path.chmod(0o777)
    code = f"""
        import ctypes, os
        libc = ctypes.CDLL(None, use_errno=True)
        if "{call}" == "system":
            print("STATUS", libc.system(b"touch {marker}"))
        elif os.fork() == 0:
            argv = (ctypes.c_char_p * 3)(b"/usr/bin/touch", b"{marker}", None)
            libc.execve(b"/usr/bin/touch", argv, None)
            os._exit(ctypes.get_errno())
        else:
            print("CHILD", os.wait())
    """
    hooked = run(code, True, monkeypatch, {})
    assert "ctypes" in hooked.stderr and hooked.returncode != 0
    kernel = run(code, False, monkeypatch, {})
    assert ("STATUS" in kernel.stdout or "CHILD" in kernel.stdout), kernel.stderr
    assert not marker.exists()


@pytest.fixture
def unix_server(tmp_path: Path):
    path = tmp_path / "host.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    os.chmod(path, 0o777)
    server.listen(1)
    server.settimeout(0.5)
    yield server, str(path)
    server.close()


@pytest.fixture
def abstract_server():
    name = f"hearth-test-{uuid.uuid4().hex}"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind("\0" + name)
    server.listen(1)
    server.settimeout(0.5)
    yield server, name
    server.close()


@pytest.fixture
def tcp_server():
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.settimeout(0.5)
    yield server, str(server.getsockname()[1])
    server.close()


def nobody_connected(server: socket.socket) -> bool:
    try:
        server.accept()[0].close()
    except TimeoutError:
        return True
    return False


CONNECT_UNIX = """
    import socket
    try:
        socket.socket(socket.AF_UNIX, socket.SOCK_STREAM).connect({address})
        print("CONNECTED")
    except OSError as exc:
        print("REFUSED", exc)
"""
CONNECT_UNIX_CTYPES = """
    import ctypes, socket, struct
    libc = ctypes.CDLL(None, use_errno=True)
    fd = libc.socket(socket.AF_UNIX, socket.SOCK_STREAM, 0)
    path = {address}.encode()
    address = struct.pack("=H108s", socket.AF_UNIX, path)
    print("STATUS", fd, libc.connect(fd, address, 2 + len(path)) if fd >= 0 else -1)
"""


@needs_seccomp
@pytest.mark.parametrize("layer", LAYERS)
def test_no_connection_to_a_host_unix_socket(layer, monkeypatch, unix_server):
    server, path = unix_server
    result = run(CONNECT_UNIX, layer, monkeypatch, {"address": repr(path)})
    assert "CONNECTED" not in result.stdout and "REFUSED" in result.stdout, result.stderr
    assert nobody_connected(server)


@needs_seccomp
def test_no_connection_to_a_host_unix_socket_through_ctypes(monkeypatch, unix_server):
    server, path = unix_server
    result = run(CONNECT_UNIX_CTYPES, False, monkeypatch, {"address": repr(path)})
    assert "STATUS -1" in result.stdout, result.stdout + result.stderr
    assert nobody_connected(server)


@needs_seccomp
def test_a_python_without_the_bootstrap_cannot_connect_either(monkeypatch, unix_server):
    server, path = unix_server
    child = f"import socket; socket.socket(socket.AF_UNIX).connect({path!r}); print('CONNECTED')"
    result = run(f"""
        import os, sys, _posixsubprocess
        read, write = os.pipe()
        argv = [sys.executable.encode(), b'-I', b'-c', {child!r}.encode()]
        pid = _posixsubprocess.fork_exec(argv, [sys.executable.encode()], True, (), None,
            [b'PATH=/usr/bin'], -1, -1, -1, -1, -1, -1, read, write, True, False, -1, None,
            None, -1, -1, None, False)
        os.close(write)
        print('CHILD', os.waitpid(pid, 0))
    """, True, monkeypatch, {})
    assert "CHILD" in result.stdout, result.stderr
    assert "CONNECTED" not in result.stdout
    assert nobody_connected(server)


@needs_scoping
@pytest.mark.parametrize("layer", LAYERS)
def test_no_connection_to_an_abstract_unix_socket(layer, monkeypatch, abstract_server):
    server, name = abstract_server
    result = run(CONNECT_UNIX, layer, monkeypatch, {"address": repr("\0" + name)})
    assert "CONNECTED" not in result.stdout, result.stderr
    assert nobody_connected(server)


@needs_tcp_rules
@pytest.mark.parametrize("layer", LAYERS)
def test_no_tcp_connection_to_the_host(layer, monkeypatch, tcp_server):
    server, port = tcp_server
    result = run("""
        import socket
        try:
            socket.create_connection(("127.0.0.1", {port}), timeout=1)
            print("CONNECTED")
        except OSError as exc:
            print("REFUSED", exc)
    """, layer, monkeypatch, {"port": port})
    assert "CONNECTED" not in result.stdout and "REFUSED" in result.stdout
    assert nobody_connected(server)


def test_socketpair_still_works(monkeypatch):
    """asyncio and multiprocessing need it; it reaches no one outside."""
    result = run("""
        import asyncio, socket
        a, b = socket.socketpair()
        a.send(b"ping")
        print(b.recv(4).decode(), asyncio.run(asyncio.sleep(0, "loop ok")))
    """, True, monkeypatch, {})
    assert "ping loop ok" in result.stdout, result.stderr


def test_six_400_mb_children_under_512_mb_are_stopped(monkeypatch):
    result = run("""
        import os, time
        for _ in range(6):
            if os.fork() == 0:
                block = bytearray(400 * 2**20)
                for i in range(0, len(block), 4096):
                    block[i] = 1
                print("HOLDING", flush=True)
                time.sleep(60)
                os._exit(0)
        time.sleep(60)
    """, True, monkeypatch, {}, memory_mb=512, timeout_s=30)
    assert result.memory_exceeded and not result.timed_out
    assert result.stdout.count("HOLDING") < 2


def test_one_process_over_its_memory_gets_a_memory_error(monkeypatch):
    result = run("x = bytearray(700 * 2**20)\n", True, monkeypatch, {}, memory_mb=512)
    assert result.memory_exceeded and "MemoryError" in result.stderr


def test_1_5_gb_written_in_the_folder_is_stopped(monkeypatch):
    result = run("""
        chunk = b"x" * 2**20
        for n in range(1536):
            with open(f"part{n}.bin", "wb") as handle:
                handle.write(chunk)
        print("WROTE ALL")
    """, True, monkeypatch, {}, timeout_s=60)
    assert result.disk_exceeded and not result.timed_out
    assert "WROTE ALL" not in result.stdout


def test_a_folder_of_a_million_empty_files_is_stopped(monkeypatch):
    result = run("""
        import os
        os.mkdir("many")
        for n in range(1_000_000):
            open(f"many/{n}", "w").close()
        print("MADE ALL")
    """, True, monkeypatch, {}, timeout_s=60)
    assert result.disk_exceeded and "MADE ALL" not in result.stdout


def test_one_file_over_the_file_size_limit_is_refused(monkeypatch):
    result = run("""
        with open("big.bin", "wb") as handle:
            for _ in range(100):
                handle.write(b"x" * 2**20)
        print("WROTE BIG")
    """, True, monkeypatch, {}, timeout_s=30)
    assert "WROTE BIG" not in result.stdout and result.returncode != 0


# The private channel: only the program's own signed records count.
HARNESS = """
import os, sys, _hearth_sandbox
send = _hearth_sandbox.open_channel()
send({"test": "real", "outcome": "passed", "reason": ""})
exec(open("attack.py").read(), {})
"""
ATTACKS = {
    "print a record": 'print(\'{"test": "fake", "outcome": "passed", "reason": ""}\')',
    "open the channel again": """
import _hearth_sandbox
_hearth_sandbox.open_channel()({"test": "fake", "outcome": "passed", "reason": ""})
""",
    "write to every descriptor": """
import os
for fd in range(3, 256):
    for line in (b'{"test": "fake", "outcome": "passed", "reason": ""}\\n',
                 b'00 {"test": "fake", "outcome": "passed", "reason": ""}\\n'):
        try:
            os.write(fd, line)
        except OSError:
            pass
""",
    "sign with a guessed key": """
import os, _hearth_sandbox
body = b'{"test": "fake", "outcome": "passed", "reason": ""}'
for fd in range(3, 256):
    try:
        os.write(fd, _hearth_sandbox.sign(b"0" * 32, body).encode() + b" " + body + b"\\n")
    except OSError:
        pass
""",
    "read the channel's file": """
import glob, os
for path in glob.glob(os.path.join(os.path.dirname(os.getcwd()), "*")):
    try:
        open(path, "a").write('x {"test": "fake", "outcome": "passed", "reason": ""}\\n')
    except OSError:
        pass
""",
}


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_forged_records_are_not_counted(name):
    result = run_python({"main.py": HARNESS, "attack.py": ATTACKS[name]}, ["main.py"],
                        channel=True)
    tests = [record["test"] for record in result.records]
    assert tests == ["real"], result.stdout + result.stderr


def test_a_failing_generated_test_that_prints_a_passed_record_is_dropped(tmp_path: Path):
    (tmp_path / "calc.py").write_text("def double(x):\n    return x * 2\n")
    target = ImportTarget(tmp_path, tmp_path, "calc", "double", tmp_path / "test_calc.py")
    old_style = '@@hearth-000000000000@@{"test": "test_calc.py::test_wrong", ' \
        '"outcome": "passed", "reason": ""}'
    tests = f"""
from calc import double
import os

def test_right():
    assert double(2) == 4

def test_wrong():
    for fd in (1, 2):
        os.write(fd, {old_style!r}.encode() + b"\\n")
    print({old_style!r})
    assert double(2) == 5
"""
    outcome = run_tests(target, tmp_path / "calc.py", (tmp_path / "calc.py").read_text(),
                        tests, ["test_right", "test_wrong"])
    assert outcome.passed == ["test_right"]
    assert "test_wrong" in outcome.dropped


def test_a_malformed_record_fails_its_test_not_the_action():
    records = ({"test": "t.py::test_a", "outcome": "passed", "reason": ""},
               {"test": "t.py::test_b", "outcome": 7},
               ["not", "a", "record"], "text")
    result = SandboxResult(0, "", "", False, False, 0.1, records=records)
    outcome = _outcome(result, "t.py", ["test_a", "test_b"])
    assert outcome.passed == ["test_a"] and "test_b" in outcome.dropped


def test_a_malformed_ranking_record_marks_its_candidate_crashed():
    behaviours: dict = {}
    records = [{"start": -1}, {"i": -1, "load": None, "doctests": [], "checks": [], "calls": []},
               {"start": 0}, {"i": 0, "load": None, "doctests": "oops", "calls": []},
               {"start": 1}, {"i": 1, "load": None, "doctests": [[True, "1"]], "checks": [],
                              "calls": ["int:1"]}]
    assert _read(records, behaviours) is None
    assert behaviours[0].crashed and not behaviours[1].crashed
    assert behaviours[1].calls == ("int:1",)
