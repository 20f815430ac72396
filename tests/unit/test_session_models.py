"""Which model and how many samples each action runs with, and how the Session shares and
frees the backends (no model is loaded: the backends are recorded, not built)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from hearth.core import session as session_module
from hearth.core.session import Session, completion_model, models_in_use
from hearth.settings import CompletionSettings, GenerationSettings, ModelSettings, Settings

SMALL, LARGE = "qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b"


class Recorded:
    def __init__(self, model: ModelSettings) -> None:
        self.name = model.name or model.path
        self.closed = False

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def built(monkeypatch: pytest.MonkeyPatch) -> list[Recorded]:
    backends: list[Recorded] = []

    def make(model: ModelSettings, openai: object) -> Recorded:
        backends.append(Recorded(model))
        return backends[-1]

    monkeypatch.setattr(session_module, "make_backend", make)
    return backends


def test_each_action_runs_the_model_measured_for_it() -> None:
    session = Session(Settings(), None)
    assert session.model_for("generate").name == LARGE
    assert {session.model_for(a).name for a in ("fix", "explain", "tests")} == {SMALL}
    assert session.engine_options("generate").samples == 1
    assert session.engine_options("fix").samples == 5
    assert models_in_use(Settings()) == {LARGE: ["generate", "completion"],
                                         SMALL: ["fix", "explain", "tests"]}


def test_a_model_the_user_names_serves_every_action() -> None:
    settings = Settings(model=ModelSettings(name=SMALL),
                        generation=GenerationSettings(samples=3))
    session = Session(settings, None)
    assert {session.model_for(a.name).name for a in session.actions} == {SMALL}
    assert {session.engine_options(a).samples for a in session.actions} == {3}
    assert models_in_use(settings) == {SMALL: ["generate", "fix", "explain", "tests",
                                               "completion"]}
    # inline completion may name its own model, pulled and checked like the others
    own = Settings(model=ModelSettings(name=SMALL),
                   completion=CompletionSettings(model=LARGE))
    assert models_in_use(own) == {SMALL: ["generate", "fix", "explain", "tests"],
                                  LARGE: ["completion"]}
    assert completion_model(own).name == LARGE
    path = Settings(model=ModelSettings(path="/models/any.gguf"))
    assert Session(path, None).model_for("generate").path == "/models/any.gguf"
    assert models_in_use(path) == {}


def test_actions_on_one_model_share_its_backend(built: list[Recorded]) -> None:
    session = Session(Settings(), None)
    assert session.backend("fix") is session.backend("explain")
    assert session.backend("generate") is not session.backend("fix")
    assert [b.name for b in built] == [SMALL, LARGE]
    session.close()
    assert all(b.closed for b in built)


def test_a_model_no_action_uses_any_more_is_freed_at_the_next_build(
        built: list[Recorded]) -> None:
    session = Session(Settings(), None)
    generate, fix = session.backend("generate"), session.backend("fix")
    session.update_settings(Settings(model=ModelSettings(name=LARGE)))
    assert not fix.closed  # a settings change never closes a model that may be decoding
    assert session.backend("fix") is generate
    session.update_settings(Settings(model=ModelSettings(name=SMALL)))
    assert session.backend("generate").name == SMALL
    assert generate.closed and fix.closed


def test_escalation_asks_a_larger_model_only_where_the_action_does_not_run_on_it(
        built: list[Recorded]) -> None:
    settings = Settings(generation=GenerationSettings(escalate_to=LARGE))
    session = Session(settings, None)
    assert session.escalation_backend("generate") is None
    assert session.escalation_backend("fix") is session.backend("generate")
    remote = replace(settings, model=ModelSettings(backend="openai"))
    assert Session(remote, None).escalation_backend("fix") is None
    assert models_in_use(settings)[LARGE] == ["generate", "escalation", "completion"]
