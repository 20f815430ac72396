"""The embedder tuned in the background (issue 16, first run): an index answers with the packaged
model at once and moves to the tuned one when it appears, its old vectors answering meanwhile;
one tuning per machine (the lock, robust to a killed tuner); no tuning when the setting is off,
under CI, or under tests unless asked.

The packaged all-MiniLM-L6-v2 embeds for real (ONNX). A "tuned" model is the packaged one's
files with a tuning record (tests/unit/fake_tuner.py): no test runs a 10-minute tuning.
"""

from __future__ import annotations

import asyncio
import os
import queue
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from hearth.core.memory import WorkspaceIndex
from hearth.core.memory.background_tune import TUNE_ENV, BackgroundTuner, tuning_refusal
from hearth.core.memory.cache import cache_base
from hearth.core.memory.embed import resolve_model
from hearth.core.memory.index import STAGING_FOLDER
from hearth.core.memory.model_files import bundled_model_dir
from hearth.core.memory.onnx_export import ensure_onnx_model, onnx_model_path
from hearth.core.memory.tune_lock import TuneLock, tune_lock_path
from hearth.core.memory.tuner_process import EXIT_BUSY
from tests.unit.fake_tuner import make_tuned_copy

pytest.importorskip("onnxruntime")

FAKE_TUNER = Path(__file__).with_name("fake_tuner.py")
WAIT_S = 120  # an upper bound for a subprocess to start and finish on a loaded machine

SHAPES = textwrap.dedent('''\
    import math


    def circle_area(radius):
        return math.pi * radius ** 2


    def parse_header(line):
        name, _, value = line.partition(":")
        return name.strip().lower(), value.strip()
    ''')


@pytest.fixture(scope="module")
def base_export() -> Path:
    """The packaged model's int8 export from the user's cache (made once if missing)."""
    return ensure_onnx_model(bundled_model_dir(), cache_base())


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, base_export: Path) -> Path:
    """An empty Hearth cache but for the packaged model's export; nobody asked for tuning."""
    cache = tmp_path / "cache"
    export = onnx_model_path(bundled_model_dir(), cache)
    export.parent.mkdir(parents=True)
    shutil.copyfile(base_export, export)
    monkeypatch.setenv("HEARTH_CACHE_DIR", str(cache))
    monkeypatch.delenv(TUNE_ENV, raising=False)
    return cache


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    (root / "shapes.py").write_text(SHAPES)
    return root


def fake_tuner(cache: Path, base_export: Path, go: Path | None = None) -> list[str]:
    command = [sys.executable, str(FAKE_TUNER), str(cache), str(base_export)]
    return command + (["--go", str(go)] if go is not None else [])


def wait_until(condition, what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting: {what}"
        time.sleep(0.05)


# -- the switch ---------------------------------------------------------------------------

def test_an_index_moves_to_the_tuned_model_while_the_old_vectors_answer(
    cache: Path, base_export: Path, project: Path,
) -> None:
    index = WorkspaceIndex(project)
    index.keep_stored_model()
    assert index.build().chunks > 0
    assert not index.embedding_model.tuned and index.better_model() is None

    make_tuned_copy(cache, base_export)
    model = index.better_model()
    assert model is not None and model.tuned
    staged = index.stage_model(model)
    assert staged is not None and (index.cache_dir / STAGING_FOLDER).is_dir()
    # made beside it: the index still answers, from the packaged model's store
    assert "+code" not in index.model_id
    assert index.search("area of a circle", k=1)[0].name == "circle_area"
    # a file saved meanwhile is indexed by the old store, and caught up after the switch
    (project / "units.py").write_text("def celsius_to_fahrenheit(degrees):\n"
                                      "    return degrees * 9 / 5 + 32\n")
    assert index.update_file(project / "units.py") > 0

    index.adopt(staged)
    assert "+code-" in index.model_id and index.embedding_model.tuned
    assert index.better_model() is None
    assert not (index.cache_dir / STAGING_FOLDER).exists()
    caught_up = index.build()
    assert caught_up.embedded > 0 and not caught_up.rebuilt
    assert index.search("convert celsius to fahrenheit", k=1)[0].name == \
        "celsius_to_fahrenheit"
    assert index.search("area of a circle", k=1)[0].name == "circle_area"
    index.close()

    with WorkspaceIndex(project) as reopened:  # the store is the tuned model's now
        stats = reopened.build()
        assert "+code-" in reopened.model_id
        assert stats.embedded == 0 and not stats.rebuilt


def test_a_packaged_model_store_answers_at_once_when_the_tuned_model_appeared_since(
    cache: Path, base_export: Path, project: Path,
) -> None:
    with WorkspaceIndex(project) as index:
        index.build()
    make_tuned_copy(cache, base_export)
    with WorkspaceIndex(project) as index:  # the language server's way: keep, then switch
        index.keep_stored_model()
        stats = index.build()
        assert not stats.rebuilt and stats.embedded == 0
        assert not index.embedding_model.tuned
        assert index.search("parse a header line", k=1)[0].name == "parse_header"
        better = index.better_model()
        assert better is not None and better.tuned
    with WorkspaceIndex(project) as index:  # the CLI's way: re-embed with the tuned model now
        stats = index.build()
        assert stats.rebuilt and "+code-" in index.model_id


def test_a_tuned_model_without_its_export_yet_is_not_switched_to(
    cache: Path, base_export: Path, project: Path,
) -> None:
    with WorkspaceIndex(project) as index:
        index.keep_stored_model()
        index.build()
        tuned = make_tuned_copy(cache, base_export)
        onnx_model_path(tuned, cache).unlink()  # the tuner is still exporting it
        assert index.better_model() is None
        assert resolve_model("auto", cache).tuned


# -- one tuning per machine -----------------------------------------------------------------

def test_a_second_tuner_does_not_start_while_one_runs(
    cache: Path, base_export: Path, tmp_path: Path,
) -> None:
    go = tmp_path / "go"
    first_done: queue.Queue = queue.Queue()
    second_done: queue.Queue = queue.Queue()
    first = BackgroundTuner(cache, first_done.put, command=fake_tuner(cache, base_export, go))
    second = BackgroundTuner(cache, second_done.put,
                             command=fake_tuner(cache, base_export, go), wait_poll_s=0.1)
    lock = TuneLock(tune_lock_path(cache))
    try:
        assert first.start() == "started" and first.pid is not None
        wait_until(lock.busy, "the first tuner to take the lock")
        assert second.start() == "waiting" and second.pid is None  # no process of its own
        assert first.start() == "running"
        go.touch()
        first_outcome = first_done.get(timeout=WAIT_S)
        second_outcome = second_done.get(timeout=WAIT_S)
    finally:
        first.stop()
        second.stop()
    assert first_outcome.code == 0 and first_outcome.ready
    assert second_outcome.code is None and second_outcome.ready
    assert not lock.busy()
    assert BackgroundTuner(cache, first_done.put).start() == "ready"


def test_the_tuner_process_ends_at_once_when_another_holds_the_lock(cache: Path) -> None:
    with TuneLock(tune_lock_path(cache)) as held:
        assert held.held
        done = subprocess.run(
            [sys.executable, "-m", "hearth.core.memory.tuner_process", "--cache", str(cache)],
            capture_output=True, text=True, timeout=WAIT_S)
    assert done.returncode == EXIT_BUSY, done.stderr
    assert "already" in done.stderr
    assert not resolve_model("auto", cache).tuned


def test_a_starting_tuner_does_not_mistake_a_busy_probe_for_another_tuner(
        tmp_path: Path) -> None:
    """``busy()`` takes the lock for an instant to look; a tuner starting in that instant
    retries for a moment instead of ending as if another tuner held it (this made CI wait
    for a tuner that had quit)."""
    path = tune_lock_path(tmp_path)
    probe, tuner = TuneLock(path), TuneLock(path)
    assert probe.acquire(wait=False)
    assert not tuner.acquire(wait=False)  # without patience: refused at once
    releaser = threading.Timer(0.2, probe.release)
    releaser.start()
    try:
        assert tuner.acquire(wait=False, patience_s=WAIT_S)
        assert tuner.held and TuneLock(path).busy()
    finally:
        releaser.join()
        tuner.release()
    assert not TuneLock(path).busy()


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
def test_a_killed_tuner_leaves_the_lock_free(cache: Path, base_export: Path,
                                             tmp_path: Path) -> None:
    process = subprocess.Popen(fake_tuner(cache, base_export, tmp_path / "never"))
    lock = TuneLock(tune_lock_path(cache))
    try:
        # The holder writes its pid just after it takes the lock: wait for both.
        wait_until(lambda: lock.busy() and lock.holder() == process.pid,
                   "the tuner to take the lock and write its pid")
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=WAIT_S)
    assert not lock.busy()
    assert lock.acquire(wait=False)
    lock.release()


def test_stopping_kills_the_tuner_and_reports_nothing(cache: Path, base_export: Path,
                                                      tmp_path: Path) -> None:
    outcomes: queue.Queue = queue.Queue()
    tuner = BackgroundTuner(cache, outcomes.put,
                            command=fake_tuner(cache, base_export, tmp_path / "never"))
    assert tuner.start() == "started"
    process = tuner._process
    wait_until(TuneLock(tune_lock_path(cache)).busy, "the tuner to take the lock")
    tuner.stop()
    assert process.wait(timeout=WAIT_S) != 0
    tuner._thread.join(WAIT_S)
    assert outcomes.empty() and not tuner.running
    assert tuner.start() == "stopped"
    assert not resolve_model("auto", cache).tuned


# -- when not to tune ---------------------------------------------------------------------

@pytest.mark.parametrize(("enabled", "choice", "env", "refused"), [
    (True, "auto", {}, None),
    (False, "auto", {}, "index.tuneInBackground is off"),
    (True, "base", {}, 'index.embeddingModel is "base"'),
    (True, "auto", {"CI": "true"}, "CI is set"),
    (True, "auto", {"PYTEST_CURRENT_TEST": "test_x.py::test_y (call)"}, "running under tests"),
    (True, "auto", {"CI": "true", TUNE_ENV: "1"}, None),  # asked for
    (False, "auto", {TUNE_ENV: "1"}, "index.tuneInBackground is off"),
    (True, "auto", {TUNE_ENV: "0"}, f"{TUNE_ENV}=0"),
])
def test_when_the_embedder_is_not_tuned_in_the_background(
    enabled: bool, choice: str, env: dict[str, str], refused: str | None,
) -> None:
    assert tuning_refusal(enabled, choice, env) == refused


# -- the language server --------------------------------------------------------------------

def serve_and_index(project: Path, command: list[str], tune_in_background: bool = True,
                    until: str | None = None) -> tuple[list[str], object]:
    """Index ``project`` through the server's memory feature (no client), with the tuning
    started at once, and collect what it logs to the client until ``until`` appears."""
    from lsprotocol import types

    from hearth.core.session import Session
    from hearth.lsp.memory import Memory
    from hearth.lsp.server import HearthServer
    from hearth.settings import load_settings

    messages: list[str] = []

    async def scenario():
        server = HearthServer()
        server.loop = asyncio.get_running_loop()
        server.protocol.client_capabilities = types.ClientCapabilities()  # no progress
        settings, problems = load_settings(
            None, {"index": {"tuneInBackground": tune_in_background}})
        assert not problems
        server.session = Session(settings, project)
        server.log_to_client = lambda message, kind=None: messages.append(message)
        server.status = lambda *args, **kwargs: None
        server.show = lambda message, kind=None: messages.append(message)
        memory = server.memory = Memory(server)
        memory.tuning.start_delay_s = 0.0
        memory.tuning.command = command
        try:
            await memory.add_folder(project)
            deadline = time.monotonic() + WAIT_S
            while until is not None and not any(until in message for message in messages):
                assert time.monotonic() < deadline, messages
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.2)  # a timer due at once would have fired by now
            return memory.tuning, server.session.indexes[project.resolve()].model_id
        finally:
            await asyncio.wrap_future(memory.close()[0])

    tuning, model_id = asyncio.run(scenario())
    return messages, (tuning, model_id)


def test_the_server_tunes_in_the_background_and_switches_its_index(
    cache: Path, base_export: Path, project: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(TUNE_ENV, "1")  # asked for, under tests
    messages, (tuning, model_id) = serve_and_index(
        project, fake_tuner(cache, base_export), until="with the code-tuned embedder")
    assert "base embedder" in messages[0]  # indexed with the packaged model at once
    assert any("making the code-tuned retrieval embedder in the background" in message
               for message in messages)
    switched = [message for message in messages if "with the code-tuned embedder" in message]
    assert len(switched) == 1  # said once
    assert "+code-" in model_id
    assert resolve_model("auto", cache).tuned


@pytest.mark.parametrize("why", ["setting off", "CI"])
def test_the_server_does_not_tune_when_refused(
    why: str, cache: Path, base_export: Path, project: Path, monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    marker = tmp_path / "tuner-ran"
    command = [sys.executable, "-c", f"open({str(marker)!r}, 'w').close()"]
    if why == "CI":
        monkeypatch.delenv("PYTEST_CURRENT_TEST", raising=False)
        monkeypatch.setenv("CI", "true")
    messages, (tuning, model_id) = serve_and_index(project, command,
                                                   tune_in_background=why == "CI")
    reason = "CI is set" if why == "CI" else "index.tuneInBackground is off"
    assert f"not tuning in the background: {reason}" in messages[0]
    assert tuning.tuner is None and tuning.refusal == reason
    assert not marker.exists()
    assert "+code" not in model_id


def test_a_tuning_clears_the_scratch_of_killed_ones(tmp_path: Path) -> None:
    from hearth.core.memory.tune import _remove_killed_scratch

    models = tmp_path / "models"
    killed_tuning = models / ".tune-abc" / "model"
    old_export = models / "all-MiniLM-L6-v2-0123" / ".export-old"
    fresh_export = models / "all-MiniLM-L6-v2-4567" / ".export-new"  # a server's, under way
    for folder in (killed_tuning, old_export, fresh_export):
        folder.mkdir(parents=True)
    hours_ago = time.time() - 3 * 3600
    os.utime(old_export, (hours_ago, hours_ago))
    _remove_killed_scratch(models)
    assert not killed_tuning.parent.exists() and not old_export.exists()
    assert fresh_export.is_dir()


def test_the_server_kills_its_tuning_when_it_ends(
    cache: Path, base_export: Path, project: Path, monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """docs/lifecycle.md: nothing runs or writes after `shutdown` (Memory.close)."""
    from lsprotocol import types

    from hearth.core.session import Session
    from hearth.lsp.memory import Memory
    from hearth.lsp.server import HearthServer
    from hearth.settings import Settings

    monkeypatch.setenv(TUNE_ENV, "1")
    messages: list[str] = []

    async def scenario():
        server = HearthServer()
        server.loop = asyncio.get_running_loop()
        server.protocol.client_capabilities = types.ClientCapabilities()
        server.session = Session(Settings(), project)
        server.log_to_client = lambda message, kind=None: messages.append(message)
        server.status = lambda *args, **kwargs: None
        memory = server.memory = Memory(server)
        memory.tuning.start_delay_s = 0.0
        memory.tuning.command = fake_tuner(cache, base_export, tmp_path / "never")
        await memory.add_folder(project)
        lock = TuneLock(tune_lock_path(cache))
        deadline = time.monotonic() + WAIT_S
        while not lock.busy():
            assert time.monotonic() < deadline, messages
            await asyncio.sleep(0.05)
        process = memory.tuning.tuner._process
        await asyncio.wrap_future(memory.close()[0])
        return process

    process = asyncio.run(scenario())
    assert process.wait(timeout=WAIT_S) != 0
    assert not TuneLock(tune_lock_path(cache)).busy()
    assert not resolve_model("auto", cache).tuned
    assert not any("code-tuned embedder" in message and "now retrieves" in message
                   for message in messages)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (ProcessLookupError, FileNotFoundError):
        return False
    return state not in ("Z", "X")


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="Linux /proc")
def test_a_tuner_whose_server_was_killed_ends_by_itself(tmp_path: Path) -> None:
    """The server killed with SIGKILL cannot stop its tuner: the tuner watches it."""
    pid_file = tmp_path / "tuner.pid"
    server = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""\
        import subprocess, sys, time
        subprocess.Popen([sys.executable, "-c", '''
        import os, time
        from hearth.core.memory.tuner_process import end_with_parent
        end_with_parent(os.getppid(), poll_s=0.05)
        open({str(pid_file)!r}, "w").write(str(os.getpid()))
        time.sleep({3 * WAIT_S})  # far longer than this test waits for it to end
        '''])
        time.sleep({WAIT_S})
        """)])
    try:
        wait_until(lambda: pid_file.is_file() and pid_file.read_text(), "the tuner to start")
        tuner = int(pid_file.read_text())
        assert _alive(tuner)
    finally:
        server.kill()
        server.wait(timeout=WAIT_S)
    wait_until(lambda: not _alive(tuner), "the orphaned tuner to end")
