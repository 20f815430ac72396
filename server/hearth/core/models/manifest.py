"""The manifest of known models (``models/manifest.toml``) and where their files live."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import platformdirs

from hearth.core.errors import HearthError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


@dataclass(frozen=True)
class ModelPart:
    package: str
    version: str
    member: str  # path of the part inside the package's wheel


@dataclass(frozen=True)
class ModelSpec:
    name: str
    description: str
    file: str
    size: int
    sha256: str
    license: str
    chat_template: str
    context_length: int
    parts: tuple[ModelPart, ...]


@dataclass(frozen=True)
class Manifest:
    default: str
    models: dict[str, ModelSpec]

    def get(self, name: str | None) -> ModelSpec:
        name = name or self.default
        try:
            return self.models[name]
        except KeyError:
            known = ", ".join(sorted(self.models))
            raise HearthError(
                f"Unknown model {name!r}.",
                f"Known models: {known}. Or set model.path to a GGUF file.",
            ) from None


def parse_manifest(text: str) -> Manifest:
    data = tomllib.loads(text)
    models = {}
    for name, entry in data["models"].items():
        parts = tuple(ModelPart(**part) for part in entry.pop("parts"))
        models[name] = ModelSpec(name=name, parts=parts, **entry)
    if data["default"] not in models:
        raise HearthError(f"The manifest's default model {data['default']!r} is not listed.")
    return Manifest(default=data["default"], models=models)


def load_manifest() -> Manifest:
    """The manifest shipped with the package (a link to ``models/manifest.toml`` in the repo)."""
    text = resources.files("hearth").joinpath("data/manifest.toml").read_text(encoding="utf-8")
    return parse_manifest(text)


def models_dir() -> Path:
    """``$HEARTH_MODELS_DIR``, else the platform's user cache folder for Hearth."""
    override = os.environ.get("HEARTH_MODELS_DIR")
    if override:
        return Path(override).expanduser()
    return Path(platformdirs.user_cache_dir("hearth")) / "models"


def model_file(spec: ModelSpec, directory: Path | None = None) -> Path:
    return (directory or models_dir()) / spec.file
