"""Builds the backend the settings ask for."""

from __future__ import annotations

from pathlib import Path

from hearth.core.errors import HearthError
from hearth.core.models.backend import ModelBackend
from hearth.core.models.manifest import load_manifest, model_file
from hearth.settings import ModelSettings, OpenAISettings


def resolve_model_path(settings: ModelSettings) -> Path:
    """The GGUF file to load: ``model.path`` if set, else the manifest entry's pulled file."""
    if settings.path:
        path = Path(settings.path).expanduser()
        if not path.is_file():
            raise HearthError(f"model.path {path} does not exist.",
                              "Point it at a .gguf file, or clear it to use model.name.")
        return path
    spec = load_manifest().get(settings.name)
    path = model_file(spec)
    if not path.is_file():
        raise HearthError(f"The model {spec.name} is not downloaded yet.",
                          f"Run `hearth models pull {spec.name}` (or `make setup`).")
    return path


def make_backend(model: ModelSettings, openai: OpenAISettings) -> ModelBackend:
    if model.backend == "openai":
        from hearth.core.models.openai import OpenAIBackend

        return OpenAIBackend(openai.base_url, openai.model, api_key_env=openai.api_key_env,
                             timeout_s=openai.timeout_s, retries=openai.retries,
                             parallel=openai.parallel)
    from hearth.core.models.llama_cpp import LlamaCppBackend

    return LlamaCppBackend(resolve_model_path(model), n_ctx=model.context_length,
                           n_threads=model.threads, prompt_lookup=model.prompt_lookup,
                           name=None if model.path else
                           load_manifest().get(model.name).name)
