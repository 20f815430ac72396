"""Export all-MiniLM-L6-v2 once to an int8 ONNX file in the cache: torch traces the model
offline, onnxruntime quantises it per channel, and a check against torch guards the result."""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import warnings
from pathlib import Path

from hearth.core.errors import HearthError
from hearth.core.memory.model_files import TUNE_INFO_FILE, offline_hugging_face

logger = logging.getLogger(__name__)

EXPORT_RECIPE = "minilm-int8-per-channel-v1"
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
_MIN_COSINE = 0.95
_CHECK_TEXTS = (
    "def parse_header(line):\n    name, _, value = line.partition(':')\n    return name",
    "Return the configured session for this client.",
)


def onnx_model_path(model_dir: Path, cache_base: Path) -> Path:
    """The cached export's path; its folder name changes with the model and the recipe (a
    tuned model's folder holds its tuning record, which tells it from the base model)."""
    weights = model_dir / "model.safetensors"
    key = f"{EXPORT_RECIPE}:{weights.stat().st_size}:{(model_dir / 'config.json').read_text()}"
    tuning = model_dir / TUNE_INFO_FILE
    if tuning.is_file():
        key += f":{model_dir.name}:{tuning.read_text()}"
    fingerprint = hashlib.sha256(key.encode()).hexdigest()[:16]
    return cache_base / "models" / f"all-MiniLM-L6-v2-{fingerprint}" / "model-int8.onnx"


def ensure_onnx_model(model_dir: Path, cache_base: Path) -> Path:
    """Return the cached int8 export, exporting it first if it is not there yet."""
    target = onnx_model_path(model_dir, cache_base)
    if target.is_file():
        return target
    logger.info("Exporting all-MiniLM-L6-v2 to ONNX (once) into %s", target.parent)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".export-") as scratch:
        quantised = export_int8(model_dir, Path(scratch))
        os.replace(quantised, target)
    return target


def export_int8(model_dir: Path, scratch: Path) -> Path:
    """Trace the transformer to ONNX, quantise its weights to int8 per channel, check the
    pooled vectors against torch, and return the quantised file's path in ``scratch``."""

    offline_hugging_face()
    try:
        import torch
        from onnxruntime.quantization import QuantType, quantize_dynamic
        from transformers import AutoModel, AutoTokenizer
    except ImportError as exc:
        raise HearthError(
            f"Exporting the embedding model to ONNX needs {exc.name}, once.",
            "Install torch==2.13.0, transformers, onnx and onnxruntime, or set the index "
            'embedder to "torch".',
        ) from exc
    tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
    encoder = _keyword_forward(AutoModel.from_pretrained(model_dir, local_files_only=True))
    encoder.eval()
    sample = tokenizer(list(_CHECK_TEXTS), padding=True, return_tensors="pt")
    full = scratch / "model.onnx"
    quantised = scratch / "model-int8.onnx"
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            encoder, tuple(sample[name] for name in _INPUTS), str(full),
            input_names=list(_INPUTS), output_names=["last_hidden_state"],
            dynamic_axes={name: {0: "batch", 1: "tokens"} for name in
                          (*_INPUTS, "last_hidden_state")},
            opset_version=17, dynamo=False,
        )
        reference = encoder(*(sample[name] for name in _INPUTS)).numpy()
    quiet = _QuietRootInfo()
    logging.getLogger().addFilter(quiet)  # the quantiser chats on the root logger
    try:
        quantize_dynamic(
            str(full), str(quantised), weight_type=QuantType.QInt8, per_channel=True
        )
    finally:
        logging.getLogger().removeFilter(quiet)
    _check_against_reference(quantised, sample, reference)
    return quantised


class _QuietRootInfo(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING


def _check_against_reference(onnx_path: Path, sample: dict, reference: object) -> None:
    import numpy as np
    import onnxruntime

    session = onnxruntime.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    feeds = {name: sample[name].numpy() for name in _INPUTS}
    produced = session.run(None, feeds)[0]
    mask = feeds["attention_mask"][..., None].astype(np.float32)

    def pooled(hidden: np.ndarray) -> np.ndarray:
        vectors = (hidden * mask).sum(axis=1) / mask.sum(axis=1)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

    cosine = float((pooled(produced) * pooled(np.asarray(reference))).sum(axis=1).min())
    if cosine < _MIN_COSINE:
        raise HearthError(
            f"The ONNX export of the embedding model drifted from torch (cosine {cosine:.3f}).",
            'Set the index embedder to "torch" and report this.',
        )
    logger.info("ONNX int8 export checked against torch: min cosine %.4f", cosine)


def _keyword_forward(model: object) -> object:
    """Wrap the transformer so tracing calls it by keyword and returns the hidden states
    (positional order differs between transformers releases)."""
    import torch

    class LastHiddenState(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask, token_type_ids):  # noqa: ANN001
            return self.model(
                input_ids=input_ids, attention_mask=attention_mask,
                token_type_ids=token_type_ids,
            ).last_hidden_state

    return LastHiddenState()
