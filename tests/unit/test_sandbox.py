"""The sandbox: limits hold, output comes back, nothing is left behind, nothing escapes."""

from __future__ import annotations

import os
import socket
import sys
import textwrap
import uuid
from pathlib import Path

import pytest

from hearth.core.sandbox import host, run_python
from hearth.core.sandbox.bootstrap import _landlock_abi
from hearth.core.sandbox.host import _launcher

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="the sandbox targets Linux")

WHERE_AM_I = "import os\nprint('CWD=' + os.getcwd())\n"


@pytest.fixture
def kernel_only(monkeypatch):
    """No audit hook: what remains is what the kernel enforces (ctypes is then usable)."""
    monkeypatch.setattr(host, "AUDIT_HOOK", False)


def script(code: str) -> dict[str, str]:
    """main.py: prints its folder first, then runs ``code``."""
    return {"main.py": WHERE_AM_I + textwrap.dedent(code)}


def sandbox_folder(stdout: str) -> Path:
    line = next(line for line in stdout.splitlines() if line.startswith("CWD="))
    return Path(line[4:]).parent


def test_a_passing_script_has_its_output_captured_and_its_folder_removed():
    result = run_python(script("""
        import sys
        print("out: héllo ✓")
        print("err: 世界", file=sys.stderr)
    """), ["main.py"])
    assert result.returncode == 0
    assert "out: héllo ✓" in result.stdout and "err: 世界" in result.stderr
    assert not result.timed_out and not result.memory_exceeded
    assert result.elapsed_s > 0
    assert not sandbox_folder(result.stdout).exists()


def test_files_arrive_in_their_folders_and_are_importable():
    result = run_python({"pkg/__init__.py": "", "pkg/core.py": "VALUE = 41\n",
                         "main.py": "from pkg.core import VALUE\nprint(VALUE + 1)\n"}, ["main.py"])
    assert (result.returncode, result.stdout.strip()) == (0, "42")


def test_extra_path_is_importable(tmp_path: Path):
    (tmp_path / "helper_mod_for_sandbox.py").write_text("ANSWER = 'from extra_path'\n")
    result = run_python(script("import helper_mod_for_sandbox as h\nprint(h.ANSWER)\n"),
                        ["main.py"], extra_path=[tmp_path])
    assert result.stdout.splitlines()[-1] == "from extra_path", result.stderr


def test_python_options_and_modules_work():
    result = run_python({"t/test_one.py": "def test_one():\n    assert 1 + 1 == 2\n"},
                        ["-m", "pytest", "-q", "-p", "no:cacheprovider", "t"])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout


def test_the_environment_is_cleared_and_home_and_tmp_are_inside(monkeypatch):
    monkeypatch.setenv("HEARTH_TEST_SECRET", "do-not-leak")
    result = run_python(script("""
        import os, sys, tempfile
        print("SECRET=" + os.environ.get("HEARTH_TEST_SECRET", "absent"))
        print("HOME=" + os.path.expanduser("~"))
        print("TMP=" + tempfile.gettempdir())
        print("STDIN=" + repr(sys.stdin.read()))
    """), ["main.py"])
    assert result.returncode == 0, result.stderr
    values = dict(line.split("=", 1) for line in result.stdout.splitlines())
    work = values["CWD"]
    assert values["SECRET"] == "absent"
    assert values["HOME"].startswith(work) and values["TMP"].startswith(work)
    assert values["STDIN"] == "''"


def test_a_timeout_kills_it_and_cleans_up():
    result = run_python(script("""
        import sys, time
        print("started", flush=True)
        time.sleep(120)
    """), ["main.py"], timeout_s=1)
    assert result.timed_out
    assert result.returncode != 0
    assert "started" in result.stdout
    assert not sandbox_folder(result.stdout).exists()


def test_a_busy_loop_is_stopped_too():
    result = run_python(script("while True:\n    pass\n"), ["main.py"], timeout_s=1)
    assert result.timed_out and result.returncode != 0


def test_a_memory_bomb_hits_the_limit():
    result = run_python(script("""
        chunks = []
        while True:
            chunks.append(bytearray(50 * 1024 * 1024))
    """), ["main.py"], memory_mb=256)
    assert result.memory_exceeded
    assert result.returncode != 0 and not result.timed_out
    assert "MemoryError" in result.stderr


@pytest.fixture
def listener():
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.settimeout(0.5)
    yield server
    server.close()


def assert_nobody_connected(server: socket.socket) -> None:
    with pytest.raises(TimeoutError):
        server.accept()


def test_a_network_connection_is_refused(listener):
    port = listener.getsockname()[1]
    result = run_python(script(f"""
        import socket
        try:
            socket.create_connection(("127.0.0.1", {port}), timeout=2)
            print("CONNECTED")
        except OSError as exc:
            print("REFUSED", exc)
        try:
            socket.getaddrinfo("example.com", 80)
            print("RESOLVED")
        except OSError as exc:
            print("NO LOOKUP", exc)
    """), ["main.py"])
    assert "REFUSED" in result.stdout and "network access" in result.stdout
    assert "NO LOOKUP" in result.stdout
    assert "CONNECTED" not in result.stdout and "RESOLVED" not in result.stdout
    assert_nobody_connected(listener)


@pytest.mark.skipif(not (_launcher().namespaces or _landlock_abi() >= 4),
                    reason="neither a network namespace nor Landlock TCP rules here")
def test_the_kernel_refuses_the_network_even_past_the_audit_hook(listener, kernel_only):
    """ctypes calls connect() directly, which the audit hook cannot see."""
    port = listener.getsockname()[1]
    result = run_python(script(f"""
        import ctypes, socket, struct
        libc = ctypes.CDLL(None, use_errno=True)
        fd = libc.socket(socket.AF_INET, socket.SOCK_STREAM, 0)
        address = struct.pack("=HH4s8x", socket.AF_INET, socket.htons({port}),
                              socket.inet_aton("127.0.0.1"))
        status = libc.connect(fd, address, len(address))
        print("STATUS", status, ctypes.get_errno())
    """), ["main.py"])
    assert "STATUS -1" in result.stdout, result.stdout + result.stderr
    assert_nobody_connected(listener)


def test_writes_outside_are_refused_and_inside_allowed(tmp_path: Path):
    outside = tmp_path / "outside.txt"
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    result = run_python(script(f"""
        import os, shutil
        for attempt in (lambda: open({str(outside)!r}, "w"),
                        lambda: os.open({str(outside)!r}, os.O_WRONLY | os.O_CREAT),
                        lambda: os.remove({str(victim)!r}),
                        lambda: os.rename({str(victim)!r}, "stolen.txt"),
                        lambda: shutil.rmtree({str(tmp_path)!r})):
            try:
                attempt()
                print("ALLOWED")
            except PermissionError as exc:
                print("REFUSED", exc)
        with open("inside.txt", "w") as handle:
            handle.write("written inside")
        os.makedirs("sub/dir")
        os.rename("inside.txt", "sub/dir/moved.txt")
        print(open("sub/dir/moved.txt").read())
    """), ["main.py"])
    assert result.stdout.count("REFUSED") == 5 and "ALLOWED" not in result.stdout, result.stdout
    assert "written inside" in result.stdout
    assert not outside.exists() and victim.read_text() == "keep me"


@pytest.mark.skipif(_landlock_abi() < 1, reason="the kernel has no Landlock")
def test_the_kernel_refuses_writes_outside_even_past_the_audit_hook(
        tmp_path: Path, kernel_only):
    outside = tmp_path / "kernel.txt"
    tmp_path.chmod(0o777)  # so that only Landlock, not file permissions, can refuse it
    result = run_python(script(f"""
        import ctypes, os
        libc = ctypes.CDLL(None, use_errno=True)
        fd = libc.open({str(outside).encode()!r}, os.O_WRONLY | os.O_CREAT, 0o644)
        print("FD", fd, ctypes.get_errno())
    """), ["main.py"])
    assert "FD -1" in result.stdout, result.stdout + result.stderr
    assert not outside.exists()


def test_other_programs_are_refused_and_child_pythons_are_confined(tmp_path: Path):
    outside = tmp_path / "from_child.txt"
    result = run_python(script(f"""
        import subprocess, sys, os
        for command in (["/bin/sh", "-c", "echo hi"], [sys.executable, "-I", "-c", "pass"]):
            try:
                subprocess.run(command)
                print("RAN", command[0])
            except PermissionError as exc:
                print("REFUSED", exc)
        try:
            os.system("echo hi")
        except PermissionError as exc:
            print("REFUSED", exc)
        child = subprocess.run([sys.executable, "-c", "open({str(outside)!r}, 'w')"],
                               capture_output=True, text=True)
        print("CHILD", child.returncode, "PermissionError" in child.stderr)
    """), ["main.py"])
    assert result.stdout.count("REFUSED") == 3, result.stdout + result.stderr
    assert "CHILD 1 True" in result.stdout
    assert not outside.exists()


@pytest.mark.skipif(os.geteuid() == 0 and not _launcher().drops_uid,
                    reason="root ignores RLIMIT_NPROC and uid 65534 is not available here")
def test_a_fork_bomb_is_contained_and_nothing_survives():
    token = f"hearth-fork-bomb-{uuid.uuid4().hex}"
    result = run_python(script("""
        import os, sys, time
        forked = 0
        try:
            for _ in range(1000):
                if os.fork() == 0:
                    time.sleep(60)
                    os._exit(0)
                forked += 1
        except OSError as exc:
            print("FORK REFUSED after", forked, exc, flush=True)
        time.sleep(60)
    """), ["main.py", token], timeout_s=3)
    assert "FORK REFUSED" in result.stdout, result.stdout + result.stderr
    forked = int(result.stdout.split("after")[1].split()[0])
    assert forked < 1000
    assert result.timed_out
    survivors = []
    for entry in Path("/proc").iterdir():
        try:
            if token.encode() in (entry / "cmdline").read_bytes():
                survivors.append(entry.name)
        except OSError:
            continue
    assert survivors == []


def test_output_is_captured_in_full_when_the_script_fails():
    result = run_python(script("""
        print("line before the failure")
        raise ValueError("bad value 42")
    """), ["main.py"])
    assert result.returncode == 1
    assert "line before the failure" in result.stdout
    assert "ValueError: bad value 42" in result.stderr and not result.memory_exceeded


@pytest.mark.parametrize("files,argv", [
    ({"/etc/evil.py": ""}, ["main.py"]),
    ({"../evil.py": ""}, ["main.py"]),
    ({"main.py": ""}, ["-I", "main.py"]),
    ({"main.py": ""}, ["-sS", "main.py"]),
    ({"main.py": ""}, "main.py"),
])
def test_bad_requests_are_refused(files, argv):
    with pytest.raises(ValueError):
        run_python(files, argv)
