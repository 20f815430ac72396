"""Typed settings: layers merge in order, and a bad value falls back alone to its default."""

from __future__ import annotations

from pathlib import Path

from hearth.settings import Settings, load_settings, structure_settings, unstructure_settings


def test_defaults():
    settings, problems = load_settings(None)
    assert settings == Settings() and problems == []
    assert settings.model.name is None  # each action runs the model measured for it
    assert settings.model.backend == "llama-cpp"


def test_layers_apply_in_order(tmp_path: Path):
    (tmp_path / "pyproject.toml").write_text(
        "[tool.hearth.generation]\nsamples = 3\nmax-tokens = 200\n"
        "[tool.hearth.model]\ncontext_length = 2048\n")
    settings, problems = load_settings(
        tmp_path, {"generation": {"samples": 4}}, {"model": {"threads": 1}})
    assert problems == []
    assert settings.generation.samples == 4  # initializationOptions beat pyproject
    assert settings.generation.max_tokens == 200  # kebab-case from pyproject
    assert settings.model.context_length == 2048  # snake_case from pyproject
    assert settings.model.threads == 1


def test_a_bad_value_falls_back_alone_and_is_explained():
    settings, problems = structure_settings({
        "generation": {"samples": "many", "maxTokens": 99},
        "model": {"backend": "gpu-cloud"},
        "guardrails": {"policy": "block"},
        "surprise": True,
    })
    assert settings.generation.samples == Settings().generation.samples
    assert settings.generation.max_tokens == 99
    assert settings.model.backend == "llama-cpp"
    assert settings.guardrails.policy == "block"
    text = "\n".join(problems)
    assert "hearth.generation.samples" in text
    assert "'gpu-cloud' is not one of 'llama-cpp', 'openai'" in text
    assert "hearth.surprise is not a Hearth setting" in text


def test_range_checks():
    settings, problems = structure_settings({"generation": {"samples": 0,
                                                            "confidenceThreshold": 1.5},
                                             "openai": {"baseUrl": "ftp://x"}})
    assert settings.generation.samples is None  # each action's own number again
    assert 0 <= settings.generation.confidence_threshold <= 1
    assert settings.openai.base_url.startswith("http")
    assert len(problems) == 3


def test_a_section_that_is_not_an_object():
    settings, problems = structure_settings({"model": "qwen"})
    assert settings.model.name is None  # each action's own model again
    assert problems == ["hearth.model must be an object, got str"]


def test_broken_pyproject_is_reported_not_fatal(tmp_path: Path):
    (tmp_path / "pyproject.toml").write_text("[tool.hearth\n")
    settings, problems = load_settings(tmp_path)
    assert settings == Settings()
    assert "cannot read [tool.hearth]" in problems[0]


def test_round_trip_uses_camel_case():
    data = unstructure_settings(Settings())
    assert data["model"]["contextLength"] == 4096
    assert data["openai"]["apiKeyEnv"] == "HEARTH_API_KEY"
    assert structure_settings(data) == (Settings(), [])


def test_the_pulled_configuration_supersedes_initialization_options():
    from hearth.lsp.config import editor_layer

    start_up = {"generation": {"samples": 3}}
    assert editor_layer(start_up, None) == start_up  # the client never answered
    assert editor_layer(start_up, {}) == {}  # it answered: the user removed the setting


def test_every_number_is_bounded():
    """A number no one means (a huge integer, 1e20 s, infinity, NaN) is reported and replaced
    by its default, whatever the setting: unbounded, a timeout of 1e20 s reached the socket
    layer and raised OverflowError there (the long fuzz run, seed 1, sequence 3878)."""
    import dataclasses
    import math

    from hearth.settings import SECTIONS, camel

    numbers = [(section, field) for section, cls in SECTIONS.items()
               for field in dataclasses.fields(cls)
               if field.type in ("int", "float", "int | None", "float | None")]
    assert len(numbers) >= 20
    for section, field in numbers:
        default = getattr(Settings(), section).__getattribute__(field.name)
        for wrong in (10**400, 1e20, -(10**20), math.inf, math.nan):
            if field.type.startswith("int") and isinstance(wrong, float) \
                    and not math.isfinite(wrong):
                continue  # not an integer at all: refused by its type
            settings, problems = structure_settings({section: {camel(field.name): wrong}})
            value = getattr(getattr(settings, section), field.name)
            assert value == default and len(problems) == 1, (section, field.name, wrong)
            assert f"hearth.{section}.{camel(field.name)}" in problems[0]
            assert len(problems[0]) < 200  # a huge number is not written out whole
