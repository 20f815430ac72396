"""Settings of the workspace index: what to crawl, how to chunk, embed and rank."""

from __future__ import annotations

from dataclasses import dataclass, field

from hearth.core.errors import HearthError

VENDORED_DIRS: tuple[str, ...] = (
    ".git", ".hg", ".svn", "node_modules", ".venv", "venv", "site-packages", "dist", "build",
    "__pycache__", ".tox", ".nox", ".mypy_cache", ".pytest_cache", ".ruff_cache", ".eggs",
    "*.egg-info", ".hearth",
)
"""Folder names never descended into (gitignore-style, matched against any folder level)."""

SECRET_FILES: tuple[str, ...] = (
    ".env", ".env.*", "*.env", "*.pem", "*.key", "*.p12", "*.pfx", "*.jks", "*.keystore",
    "id_rsa*", "id_dsa*", "id_ecdsa*", "id_ed25519*", "credentials*.json", "*credentials*.json",
    "secrets.*", "*.secret", ".netrc", ".pgpass", ".npmrc", ".pypirc", "*.kdbx", "*.gpg",
    "service-account*.json",
)
"""File names that typically hold secrets: never read, never embedded."""

GENERATED_FILES: tuple[str, ...] = (
    "*.min.js", "*.min.css", "*.map", "package-lock.json", "yarn.lock", "pnpm-lock.yaml",
    "poetry.lock", "Cargo.lock", "uv.lock", "*.pyc", "*.so", "*.dll", "*.dylib", "*.onnx",
    "*.gguf", "*.bin", "*.safetensors",
)
"""Lock files, minified bundles and binaries that are never worth embedding."""


EMBEDDING_MODELS: tuple[str, ...] = ("auto", "base", "tuned")
"""``auto``: the code-tuned model when ``hearth tune-embedder`` has made it, else the base."""


@dataclass
class IndexSettings:
    """How the workspace index crawls, chunks, embeds and ranks.

    ``exclude`` takes gitignore-style patterns relative to the workspace root, on top of
    ``.gitignore`` files and the built-in vendored/secret/generated lists.
    """

    exclude: list[str] = field(default_factory=list)
    max_file_bytes: int = 1_000_000
    max_files: int = 50_000
    max_mean_line_length: int = 300
    embedder: str = "onnx"
    embedding_model: str = "auto"  # "auto" (tuned if made, else base), "base" or "tuned"
    max_embed_tokens: int = 128
    batch_size: int = 32
    window_lines: int = 40
    window_overlap: int = 5
    max_class_lines: int = 15
    hnsw_m: int = 16
    hnsw_ef_construction: int = 100
    hnsw_ef_search: int = 64
    candidates: int = 100
    rrf_k: int = 30
    similarity_weight: float = 0.9
    test_demotion: float = 0.2
    honour_gitignore: bool = True

    def __post_init__(self) -> None:
        if self.embedder not in ("onnx", "torch"):
            raise HearthError(
                f"Unknown embedder backend {self.embedder!r}.", 'Use "onnx" or "torch".'
            )
        if self.embedding_model not in EMBEDDING_MODELS:
            raise HearthError(
                f"Unknown embedding model {self.embedding_model!r}.",
                'Use "auto" (the code-tuned model once made), "base" or "tuned".',
            )
        if not 0.0 <= self.similarity_weight <= 1.0:
            raise HearthError(
                f"similarity_weight must lie in [0, 1], got {self.similarity_weight}.",
                "0.7 weights fused similarity at 70% and importance at 30%.",
            )
        if not 0.0 <= self.test_demotion <= 1.0:
            raise HearthError(
                f"test_demotion must lie in [0, 1], got {self.test_demotion}.",
                "It is subtracted from the hybrid score of test code; 0 turns it off.",
            )
        for name in ("max_file_bytes", "max_files", "max_embed_tokens", "batch_size",
                     "window_lines", "candidates"):
            if getattr(self, name) <= 0:
                raise HearthError(f"{name} must be positive, got {getattr(self, name)}.")
        if self.max_embed_tokens > 256:
            raise HearthError(
                f"max_embed_tokens ({self.max_embed_tokens}) exceeds the model's 256 tokens.",
                "Use a value from 32 to 256.",
            )
        if not 0 <= self.window_overlap < self.window_lines:
            raise HearthError(
                f"window_overlap ({self.window_overlap}) must be below window_lines "
                f"({self.window_lines})."
            )
