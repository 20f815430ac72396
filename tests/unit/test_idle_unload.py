"""Unloading a model no action has used for `model.unloadAfter` seconds: the Session's
bookkeeping and decision (fake backends, no model), and the language server's timer that asks
for it on the inference thread."""

from __future__ import annotations

import asyncio
import threading
from types import SimpleNamespace

import pytest

from hearth.core import session as session_module
from hearth.core.inference import InferenceQueue
from hearth.core.session import Session
from hearth.core.text import Pos
from hearth.lsp.lifecycle import IdleUnloader
from hearth.settings import HistorySettings, ModelSettings, Settings, structure_settings

SMALL = "qwen2.5-coder-0.5b"
# The fake engine returns no result to record.
NO_HISTORY = HistorySettings(enabled=False)


class FakeBackend:
    """Loads on first generate, frees on close, and can be loaded again; counts both."""

    def __init__(self, model: ModelSettings) -> None:
        self.name = model.name or model.path
        self.loaded = False
        self.loads = 0
        self.closes = 0

    def load(self, cancel: object = None) -> None:
        if not self.loaded:
            self.loaded = True
            self.loads += 1

    def close(self) -> None:
        if self.loaded:
            self.closes += 1
        self.loaded = False


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> SimpleNamespace:
    """The session's monotonic clock, moved by hand."""
    clock = SimpleNamespace(now=1000.0)
    monkeypatch.setattr(session_module, "time", SimpleNamespace(monotonic=lambda: clock.now,
                                                                perf_counter=lambda: clock.now))
    return clock


@pytest.fixture
def built(monkeypatch: pytest.MonkeyPatch, clock: SimpleNamespace) -> list[FakeBackend]:
    """Every backend the session builds, fake, in order."""
    backends: list[FakeBackend] = []
    monkeypatch.setattr(session_module, "make_backend",
                        lambda model, openai: backends.append(FakeBackend(model)) or backends[-1])
    return backends


@pytest.fixture
def engine(monkeypatch: pytest.MonkeyPatch, clock: SimpleNamespace) -> SimpleNamespace:
    """`run_action` replaced by one that loads the backend, takes ``engine.takes`` seconds of
    the clock and runs ``engine.during`` meanwhile (to look at the session from inside a
    run)."""
    state = SimpleNamespace(during=None, takes=0.0, ran=[])

    def run_action(action, request, backend, options, **kwargs) -> str:
        backend.load()
        clock.now += state.takes
        if state.during is not None:
            state.during()
        state.ran.append(action.name)
        return action.name

    monkeypatch.setattr(session_module, "run_action", run_action)
    return state


def session_with(unload_after: int) -> Session:
    return Session(Settings(history=NO_HISTORY,
                            model=ModelSettings(unload_after=unload_after)), None)


def run(session: Session, action: str) -> None:
    assert session.run(action, session.request("x = 1\n", Pos(0, 0)),
                       use_context=False) == action


def test_a_model_unused_for_unload_after_is_freed_and_loaded_again_at_next_use(
        built: list[FakeBackend], engine: SimpleNamespace, clock: SimpleNamespace) -> None:
    session = session_with(60)
    run(session, "explain")
    small = session.backend("explain")
    assert small.loaded and small.loads == 1
    clock.now += 59
    assert session.unload_idle() == pytest.approx(1)  # not yet: look again in 1 s
    assert small.loaded
    clock.now += 1
    assert session.unload_idle() is None  # nothing loaded is left to wait for
    assert not small.loaded and small.closes == 1
    run(session, "explain")
    assert session.backend("explain") is small  # the same backend, its model loaded again
    assert small.loaded and small.loads == 2
    clock.now += 60
    assert session.unload_idle() is None and small.closes == 2


def test_each_model_has_its_own_last_use(built: list[FakeBackend], engine: SimpleNamespace,
                                         clock: SimpleNamespace) -> None:
    session = session_with(60)
    run(session, "generate")
    clock.now += 40
    run(session, "fix")
    large, small = session.backend("generate"), session.backend("fix")
    assert large is not small
    clock.now += 20
    assert session.unload_idle() == pytest.approx(40)  # the small one, 20 s into its 60
    assert not large.loaded and small.loaded
    clock.now += 40
    assert session.unload_idle() is None and not small.loaded


def test_nothing_is_unloaded_while_an_action_runs_on_it(
        built: list[FakeBackend], engine: SimpleNamespace, clock: SimpleNamespace) -> None:
    session = session_with(60)
    seen: list[float | None] = []
    engine.takes = 500  # a long decode: the run started 500 s ago
    engine.during = lambda: seen.append(session.unload_idle())
    run(session, "fix")
    small = session.backend("fix")
    assert seen == [60]  # busy: kept, looked at again a full unloadAfter later
    assert small.loaded and small.closes == 0
    # Its idle time counts from the end of the run, not from its start.
    clock.now += 30
    assert session.unload_idle() == pytest.approx(30) and small.loaded


def test_unload_after_zero_never_unloads(built: list[FakeBackend], engine: SimpleNamespace,
                                         clock: SimpleNamespace) -> None:
    session = session_with(0)
    run(session, "generate")
    run(session, "fix")
    clock.now += 1e6
    assert session.unload_idle() is None
    assert len(built) == 2 and all(b.loaded and b.closes == 0 for b in built)


def test_nothing_loaded_means_nothing_to_look_at(built: list[FakeBackend],
                                                 clock: SimpleNamespace) -> None:
    session = session_with(60)
    assert session.unload_idle() is None
    session.backend("fix")  # built, never loaded
    clock.now += 1e6
    assert session.unload_idle() is None
    assert len(built) == 1 and built[0].closes == 0


def test_a_backend_given_to_the_session_is_never_unloaded(engine: SimpleNamespace,
                                                          clock: SimpleNamespace) -> None:
    given = FakeBackend(ModelSettings(name=SMALL))
    session = Session(Settings(history=NO_HISTORY, model=ModelSettings(unload_after=1)), None,
                      backend=given)
    run(session, "fix")
    clock.now += 1e6
    assert session.unload_idle() is None
    assert given.loaded and given.closes == 0


def test_a_change_of_unload_after_applies_without_rebuilding_the_backend(
        built: list[FakeBackend], engine: SimpleNamespace, clock: SimpleNamespace) -> None:
    session = session_with(0)
    run(session, "fix")
    small = session.backend("fix")
    clock.now += 100
    assert session.unload_idle() is None and small.loaded
    session.update_settings(Settings(history=NO_HISTORY, model=ModelSettings(unload_after=30)))
    assert session.backend("fix") is small and small.loaded  # not rebuilt, not reloaded
    assert session.unload_idle() is None  # unused for 100 s, more than the new 30
    assert not small.loaded and len(built) == 1
    run(session, "fix")
    session.update_settings(Settings(history=NO_HISTORY, model=ModelSettings(unload_after=600)))
    clock.now += 100
    assert session.unload_idle() == pytest.approx(500) and small.loaded


def test_the_setting_is_typed_and_a_bad_value_falls_back_alone() -> None:
    settings, problems = structure_settings({"model": {"unloadAfter": 90, "threads": 2}})
    assert settings.model.unload_after == 90 and not problems
    assert Settings().model.unload_after == 600
    settings, problems = structure_settings(
        {"model": {"unload_after": -5, "threads": 2}})
    assert settings.model.unload_after == 600 and settings.model.threads == 2
    assert problems == ["hearth.model.unloadAfter: unloadAfter must be between 0 and 604800, "
                        "got -5 (using the default)"]
    settings, problems = structure_settings({"model": {"unloadAfter": "soon"}})
    assert settings.model.unload_after == 600 and len(problems) == 1
    assert "unloadAfter" in problems[0]


def test_the_cli_has_a_flag_for_it() -> None:
    from hearth.cli import build_parser, flag_layer

    args = build_parser().parse_args(["explain", "app.py:1", "--unload-after", "30"])
    assert flag_layer(args) == {"model": {"unloadAfter": 30}}


# -- the language server's timer ----------------------------------------------------------------
class CountingSession:
    """Stands for the Session: says how long until the next look, from a script, and notes the
    thread each look ran on."""

    def __init__(self, unload_after: int, answers: list[float | None]) -> None:
        self.settings = Settings(history=NO_HISTORY, model=ModelSettings(unload_after=unload_after))
        self.answers = answers
        self.threads: list[str] = []
        self.looked = asyncio.Event()
        self.loop = asyncio.get_running_loop()

    def unload_idle(self) -> float | None:
        self.threads.append(threading.current_thread().name)
        self.loop.call_soon_threadsafe(self.looked.set)
        return self.answers.pop(0) if self.answers else None


async def looks(session: CountingSession, count: int) -> None:
    while len(session.threads) < count:
        session.looked.clear()
        await asyncio.wait_for(session.looked.wait(), 10)


@pytest.fixture
def queue():
    queue = InferenceQueue(name="test-inference")
    yield queue
    queue.stop()
    queue.join(5)


async def test_the_timer_looks_on_the_inference_thread_and_rearms_from_the_answer(
        queue: InferenceQueue) -> None:
    session = CountingSession(60, answers=[0.01, None])
    unloader = IdleUnloader(queue, lambda: session)
    unloader.settings_changed()  # look at once
    await looks(session, 2)  # then again after the 0.01 s the first answer gave
    assert session.threads == ["test-inference", "test-inference"]
    await asyncio.sleep(0.05)
    assert not unloader.armed  # the last answer was None: nothing loaded, nothing to wait for
    unloader.close()


async def test_no_timer_when_unload_after_is_zero(queue: InferenceQueue) -> None:
    session = CountingSession(0, answers=[])
    unloader = IdleUnloader(queue, lambda: session)
    unloader.used()
    unloader.settings_changed()
    assert not unloader.armed
    await asyncio.sleep(0.05)
    assert session.threads == []


async def test_an_action_arms_the_timer_and_close_disarms_it(queue: InferenceQueue) -> None:
    session = CountingSession(600, answers=[])
    unloader = IdleUnloader(queue, lambda: session)
    unloader.used()
    assert unloader.armed
    unloader.close()
    assert not unloader.armed
    unloader.used()
    unloader.settings_changed()
    assert not unloader.armed  # closed for good: nothing runs after shutdown
    await asyncio.sleep(0.05)
    assert session.threads == []


async def test_a_use_during_a_look_is_looked_at_again(queue: InferenceQueue) -> None:
    session = CountingSession(60, answers=[None, None])
    unloader = IdleUnloader(queue, lambda: session)
    hold = threading.Event()
    queue.submit(lambda token: hold.wait(10))  # the inference thread is busy
    unloader.settings_changed()
    await asyncio.sleep(0.05)  # the look is queued behind the busy job
    unloader.settings_changed()  # asked again while the first look is under way
    hold.set()
    await looks(session, 2)  # the first answer (None) did not end the looking
    unloader.close()
