"""The reading side of the workspace index: rank its stored chunks for a search or for a
prompt's context, with unsaved editor text laid over the stored version of its files."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Collection, Hashable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from hearth.core.errors import HearthError
from hearth.core.memory import tokens
from hearth.core.memory.catalogue import Catalogue, StoredChunk
from hearth.core.memory.chunk import chunk_digest, chunk_file, chunk_terms, content_hash
from hearth.core.memory.crawl import IgnoreRules, decode_indexable, relative_path
from hearth.core.memory.importance import importance
from hearth.core.memory.lexical import Bm25Index
from hearth.core.memory.records import Chunk, Hit
from hearth.core.memory.retrieve import (
    promote,
    MODES,
    Candidate,
    is_test_path,
    overlaps,
    score_candidates,
    select_within_budget,
)
from hearth.core.memory.settings import IndexSettings
from hearth.core.memory.vectors import SLOTS, VectorIndex

if TYPE_CHECKING:
    import numpy as np

    from hearth.core.memory.embed import Embedder

_OVERLAY_CACHE_SIZE = 512


@dataclass(frozen=True)
class _Overlay:
    """Unsaved editor texts for one retrieval: their chunks, vectors and paths."""

    candidates: list[Candidate]
    vectors: dict[str, np.ndarray]
    paths: set[str]


class IndexSearcher:
    """Answers ``search`` and ``context_for`` for a WorkspaceIndex, which owns the stores
    and keeps them current; this only reads them, under the index's lock."""

    def __init__(
        self,
        root: Path,
        settings: IndexSettings,
        *,
        rules: IgnoreRules,
        lock: threading.RLock,
        catalogue: Callable[[], Catalogue],
        vectors: VectorIndex,
        lexical: Bm25Index,
        names: Callable[[], Counter[str]],
        embedder: Callable[[], Embedder],
        embed_chunks: Callable[[Mapping[str, Chunk]], dict[str, np.ndarray]],
    ) -> None:
        self.root = root
        self.settings = settings
        self._rules = rules
        self._lock = lock
        self._open = catalogue  # opens it once; call under the lock
        self._vectors = vectors
        self._lexical = lexical
        self._names = names
        self._embedder = embedder
        self._embed_chunks = embed_chunks
        self._overlay_embeddings: dict[str, np.ndarray] = {}
        self._overlay_lock = threading.Lock()

    def search(self, query: str, k: int = 8, *, mode: str = "hybrid") -> list[Hit]:
        _check_query(query, mode)
        if k <= 0:
            raise HearthError(f"k must be positive, got {k}.")
        ranked = self._rank(query, mode, _Overlay([], {}, set()), demote_tests=True)
        return [self._hit(candidate, score) for candidate, score in ranked[:k]]

    def context_for(
        self,
        query: str,
        *,
        budget_tokens: int,
        exclude_path: Path | None = None,
        exclude_lines: tuple[int, int] | None = None,
        overlay: Mapping[Path, str] | None = None,
        favoured: Collection[tuple[str, str]] | None = None,
    ) -> list[Hit]:
        _check_query(query, "hybrid")
        if budget_tokens <= 0:
            return []
        from_test = exclude_path is not None and is_test_path(self._relative(exclude_path))
        ranked = self._rank(query, "hybrid", self._overlay(overlay or {}),
                            demote_tests=not from_test)
        if favoured:
            ranked = promote(ranked, favoured, self.settings.test_demotion)
        if exclude_path is not None:
            ranked = self._without_edited(ranked, self._relative(exclude_path), exclude_lines)
        kept = select_within_budget(ranked, budget_tokens)
        return [self._hit(candidate, score) for candidate, score in kept]

    # -- ranking --------------------------------------------------------------------------

    def _rank(
        self,
        query: str,
        mode: str,
        overlay: _Overlay,
        demote_tests: bool = False,
    ) -> list[tuple[Candidate, float]]:
        wanted = self.settings.candidates
        query_vector = None
        if mode != "bm25":
            query_vector = self._embedder().embed([query])[0]
        query_terms = tokens.terms(query)
        with self._lock:
            catalogue = self._open()
            hidden_ids = {
                stored.id for path in overlay.paths for stored in catalogue.chunks_of(path)
            }
            vector_rankings: list[list[tuple[Hashable, float]]] = [[] for _ in range(SLOTS)]
            if query_vector is not None:
                found = self._vectors.search(query_vector, SLOTS * (wanted + len(hidden_ids)))
                for key, slot, score in found:
                    if key not in hidden_ids:
                        vector_rankings[slot].append((key, score))
            lexical_ranking: list[tuple[Hashable, float]] = []
            if mode != "vector":
                lexical_ranking = list(self._lexical.search(query_terms, wanted, hidden_ids))
            extra = overlay.candidates
            vector_rankings, lexical_ranking = self._merge_overlay(
                overlay, query_vector, query_terms, vector_rankings, lexical_ranking, mode
            )
            ids = {key for ranking in (*vector_rankings, lexical_ranking)
                   for key, _ in ranking if isinstance(key, int)}
            stored = catalogue.chunks_by_id(ids)
            candidates: dict[Hashable, Candidate] = {
                candidate.key: candidate for candidate in extra
            }
            for chunk_id, item in stored.items():
                candidates[chunk_id] = self._candidate(item)
        weights = {key: candidate.importance for key, candidate in candidates.items()}
        demoted = {key for key, candidate in candidates.items()
                   if is_test_path(candidate.chunk.path)} if demote_tests else set()
        scored = score_candidates(
            mode, [ranking[:wanted] for ranking in vector_rankings], lexical_ranking[:wanted],
            weights, self.settings.similarity_weight, self.settings.rrf_k,
            demoted, self.settings.test_demotion,
        )
        return [(candidates[key], score) for key, score in scored if key in candidates]

    def _merge_overlay(
        self,
        overlay: _Overlay,
        query_vector: np.ndarray | None,
        query_terms: list[str],
        vector_rankings: list[list[tuple[Hashable, float]]],
        lexical_ranking: list[tuple[Hashable, float]],
        mode: str,
    ) -> tuple[list[list[tuple[Hashable, float]]], list[tuple[Hashable, float]]]:
        extra = overlay.candidates
        if not extra:
            return vector_rankings, lexical_ranking
        if query_vector is not None:
            vector_rankings = [list(ranking) for ranking in vector_rankings]
            for candidate in extra:
                block = overlay.vectors[candidate.content_hash]
                for slot, row in enumerate(block):
                    vector_rankings[slot].append((candidate.key, float(row @ query_vector)))
            for ranking in vector_rankings:
                ranking.sort(key=lambda item: item[1], reverse=True)
        if mode != "vector":
            lexical_ranking = lexical_ranking + [
                (candidate.key, self._lexical.score_document(
                    query_terms, Counter(chunk_terms(candidate.chunk))))
                for candidate in extra
            ]
            lexical_ranking = [item for item in lexical_ranking if item[1] > 0]
            lexical_ranking.sort(key=lambda item: item[1], reverse=True)
        return vector_rankings, lexical_ranking

    # -- the overlay of unsaved text ----------------------------------------------------

    def _overlay(self, texts: Mapping[Path, str]) -> _Overlay:
        """Chunk unsaved texts and embed the chunks not seen before (kept in a small
        in-memory cache, never in the store); their stored versions are hidden. An open file
        whose text is the stored one is searched as stored: the same chunks, ranked the same
        way as without the editor (the response cache keys on the context)."""
        with self._lock:
            catalogue = self._open()
            texts = {path: text for path, text in texts.items()
                     if catalogue.content_hash_of(self._relative(path)) != content_hash(text)}
        paths = {self._relative(path) for path in texts}
        candidates: list[Candidate] = []
        for path, text in texts.items():
            rel_path = self._relative(path)
            if self._rules.excludes(self.root, rel_path):
                continue
            checked = decode_indexable(text.encode("utf-8"), self.settings)
            chunks = chunk_file(rel_path, checked, self.settings) if checked else []
            candidates += [
                Candidate(("overlay", rel_path, index), chunk, chunk_digest(chunk),
                          self._importance(chunk))
                for index, chunk in enumerate(chunks)
            ]
        return _Overlay(candidates, self._overlay_vectors(candidates), paths)

    def _overlay_vectors(self, candidates: list[Candidate]) -> dict[str, np.ndarray]:
        """digest -> block of vectors (one row per slot) for each overlay chunk."""
        wanted = {c.content_hash: c.chunk for c in candidates}
        with self._overlay_lock:
            found = {digest: self._overlay_embeddings[digest] for digest in wanted
                     if digest in self._overlay_embeddings}
        missing = {digest: chunk for digest, chunk in wanted.items() if digest not in found}
        if missing:
            with self._lock:
                stored = self._open().embeddings_by_hash(missing)
            found.update((digest, self._vectors.block(blob)) for digest, blob in stored.items())
            found.update(self._embed_chunks(
                {digest: chunk for digest, chunk in missing.items() if digest not in stored}
            ))
        with self._overlay_lock:
            self._overlay_embeddings.update(found)
            while len(self._overlay_embeddings) > _OVERLAY_CACHE_SIZE:
                self._overlay_embeddings.pop(next(iter(self._overlay_embeddings)))
        return found

    # -- results --------------------------------------------------------------------------

    def _without_edited(
        self,
        ranked: list[tuple[Candidate, float]],
        rel_path: str,
        lines: tuple[int, int] | None,
    ) -> list[tuple[Candidate, float]]:
        """Drop the chunk(s) being edited and any chunk with the same content."""
        if lines is None:
            edited = {c.content_hash for c, _ in ranked if c.chunk.path == rel_path}
            return [(c, s) for c, s in ranked if c.chunk.path != rel_path
                    and c.content_hash not in edited]
        edited = {c.content_hash for c, _ in ranked if overlaps(c.chunk, rel_path, lines)}
        return [(c, s) for c, s in ranked
                if not overlaps(c.chunk, rel_path, lines) and c.content_hash not in edited]

    def _candidate(self, stored: StoredChunk) -> Candidate:
        return Candidate(stored.id, stored.chunk, stored.content_hash,
                         self._importance(stored.chunk))

    def _importance(self, chunk: Chunk) -> float:
        names = self._names()
        references = names.get(chunk.defined_name, 0) - 1 if chunk.defined_name else 0
        return importance(chunk, references)

    def _hit(self, candidate: Candidate, score: float) -> Hit:
        chunk = candidate.chunk
        return Hit(self.root / chunk.path, chunk.kind, chunk.name, chunk.start_line,
                   chunk.end_line, score, chunk.text)

    def _relative(self, path: Path) -> str:
        return relative_path(self.root, path)


def _check_query(query: str, mode: str) -> None:
    if mode not in MODES:
        raise HearthError(f"Unknown search mode {mode!r}.", f"Use one of {', '.join(MODES)}.")
    if not query or not query.strip():
        raise HearthError("The search query is empty.", "Type some words or code to find.")
