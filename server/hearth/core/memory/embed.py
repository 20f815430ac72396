"""Turn chunk texts into unit-length all-MiniLM-L6-v2 vectors, offline, with either
onnxruntime (the default: fast start, no torch at run time) or sentence-transformers.

Nothing heavy is imported until an embedder is created."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from hearth.core.errors import HearthError
from hearth.core.memory.model_files import (
    bundled_model_dir,
    is_tuned_model,
    offline_hugging_face,
    tuned_model_dir,
)
from hearth.core.memory.onnx_export import ensure_onnx_model, onnx_model_path
from hearth.core.memory.settings import EMBEDDING_MODELS

if TYPE_CHECKING:
    import numpy as np

logger = logging.getLogger(__name__)

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
DIMENSION = 384
_PAD_ID = 0


class Embedder(Protocol):
    """Anything that maps texts to L2-normalised float32 rows of width ``dim``."""

    model_id: str
    dim: int

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


def max_sequence_length(model_dir: Path) -> int:
    config = json.loads((model_dir / "sentence_bert_config.json").read_text(encoding="utf-8"))
    return int(config.get("max_seq_length", 256))


@dataclass(frozen=True)
class EmbeddingModel:
    """Which weights embed: the packaged all-MiniLM-L6-v2, or its code-tuned copy."""

    directory: Path
    tag: str = ""  # "" for the base model, "+code-<fingerprint>" for a tuned one

    @property
    def tuned(self) -> bool:
        return bool(self.tag)


def resolve_model(choice: str, cache_base: Path) -> EmbeddingModel:
    """The weights ``choice`` ("auto", "base" or "tuned") stands for on this machine; cheap
    (a few stat calls), so it can be asked before anything loads."""
    if choice not in EMBEDDING_MODELS:
        raise HearthError(f"Unknown embedding model {choice!r}.",
                          f"Use one of {', '.join(EMBEDDING_MODELS)}.")
    base = bundled_model_dir()
    if choice == "base":
        return EmbeddingModel(base)

    tuned = tuned_model_dir(cache_base, base)
    if is_tuned_model(tuned):
        return EmbeddingModel(tuned, "+code-" + tuned.name.rsplit("-", 1)[-1][:8])
    if choice == "tuned":
        raise HearthError(
            "The code-tuned embedding model has not been made on this machine yet.",
            'Run "hearth tune-embedder" once (about 10 minutes on 2 cores), or set '
            'index.embeddingModel to "auto" or "base".',
        )
    return EmbeddingModel(base)


def loads_at_once(model: EmbeddingModel, backend: str, cache_base: Path) -> bool:
    """Whether ``model`` loads without an export first (which needs torch and takes seconds
    to a minute): the backend is torch, or the model's ONNX export is in the cache. A tuned
    model's folder appears before its export is written."""
    return backend != "onnx" or onnx_model_path(model.directory, cache_base).is_file()


def tuning_hint(choice: str, model: EmbeddingModel) -> str | None:
    """What to tell a user whose ``auto`` choice fell back to the base model."""
    if choice == "auto" and not model.tuned:
        return "run `hearth tune-embedder` once for better retrieval (docs/memory.md)"
    return None


def model_id(backend: str, max_tokens: int, tag: str = "") -> str:
    """Names everything that changes the vectors: weights, runtime and truncation."""
    runtime = "onnx-int8" if backend == "onnx" else "torch"
    return f"{MODEL_NAME}{tag}@{runtime}/{max_tokens}"


def load_embedder(
    backend: str, cache_base: Path, max_tokens: int = 128, batch_size: int = 32,
    model: EmbeddingModel | None = None,
) -> Embedder:
    """Create the embedder for ``backend`` ("onnx" or "torch") with ``model``'s weights (the
    base model by default); may take seconds. Texts are cut at ``max_tokens`` word pieces
    (the model's own limit is 256)."""
    model = model or EmbeddingModel(bundled_model_dir())
    max_tokens = min(max_tokens, max_sequence_length(model.directory))
    if backend == "torch":
        return TorchEmbedder(model.directory, max_tokens, batch_size, tag=model.tag)

    onnx_path = ensure_onnx_model(model.directory, cache_base)
    return OnnxEmbedder(model.directory, onnx_path, max_tokens, batch_size, tag=model.tag)


class OnnxEmbedder:
    """all-MiniLM-L6-v2 int8 on onnxruntime: tokenizers, the transformer, mean pooling and
    normalisation, batched by similar lengths to waste little on padding."""

    def __init__(
        self, model_dir: Path, onnx_path: Path, max_tokens: int = 128, batch_size: int = 32,
        tag: str = "",
    ) -> None:
        try:
            import onnxruntime
            from tokenizers import Tokenizer
        except ImportError as exc:
            raise HearthError(
                f"The ONNX embedder needs a missing package ({exc.name}).",
                'Install onnxruntime and tokenizers, or set index embedder to "torch".',
            ) from exc
        self.model_id = model_id("onnx", max_tokens, tag)
        self.dim = DIMENSION
        self.batch_size = batch_size
        self._tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self._tokenizer.enable_truncation(max_tokens)
        self._tokenizer.no_padding()
        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3
        self._session = onnxruntime.InferenceSession(
            str(onnx_path), options, providers=["CPUExecutionProvider"]
        )

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        import numpy as np

        result = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return result
        encodings = self._tokenizer.encode_batch(list(texts))
        order = sorted(range(len(texts)), key=lambda index: len(encodings[index].ids))
        for begin in range(0, len(order), self.batch_size):
            batch = order[begin:begin + self.batch_size]
            result[batch] = self._embed_batch([encodings[index].ids for index in batch])
        return result

    def _embed_batch(self, token_ids: list[list[int]]) -> np.ndarray:
        import numpy as np

        width = max(len(ids) for ids in token_ids)
        input_ids = np.full((len(token_ids), width), _PAD_ID, dtype=np.int64)
        mask = np.zeros_like(input_ids)
        for row, ids in enumerate(token_ids):
            input_ids[row, :len(ids)] = ids
            mask[row, :len(ids)] = 1
        hidden = self._session.run(
            None,
            {"input_ids": input_ids, "attention_mask": mask,
             "token_type_ids": np.zeros_like(input_ids)},
        )[0]
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        return pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)


class TorchEmbedder:
    """all-MiniLM-L6-v2 through sentence-transformers on torch (CPU), strictly offline."""

    def __init__(self, model_dir: Path, max_tokens: int = 128, batch_size: int = 32,
                 tag: str = "") -> None:
        offline_hugging_face()
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise HearthError(
                "The torch embedder needs sentence-transformers.",
                "Install torch==2.13.0 first, then sentence-transformers.",
            ) from exc
        self.model_id = model_id("torch", max_tokens, tag)
        self.dim = DIMENSION
        self.batch_size = batch_size
        self._model = SentenceTransformer(str(model_dir), device="cpu", local_files_only=True)
        self._model.max_seq_length = max_tokens

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        import numpy as np

        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self._model.encode(
            list(texts), batch_size=self.batch_size, normalize_embeddings=True,
            convert_to_numpy=True, show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)
