"""Rank and select retrieved chunks: reciprocal rank fusion of the vector and BM25
rankings blended with importance, then de-duplication and a token budget for prompts."""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Hashable, Sequence
from dataclasses import dataclass

from hearth.core.memory.records import Chunk

MODES = ("vector", "bm25", "hybrid")
CHARS_PER_TOKEN = 3.0  # code tokenises denser than prose; err on the side of fewer chunks


@dataclass(frozen=True)
class Candidate:
    """A chunk that either ranking found, with what the final score needs."""

    key: Hashable
    chunk: Chunk
    content_hash: str
    importance: float


def reciprocal_rank_fusion(
    rankings: Sequence[Sequence[Hashable]], rrf_k: int
) -> dict[Hashable, float]:
    """Sum of 1/(rrf_k + rank) over the rankings, scaled so that first in all is 1.0."""
    if not rankings:
        return {}
    best = len(rankings) / (rrf_k + 1)
    fused: dict[Hashable, float] = {}
    for ranking in rankings:
        for rank, key in enumerate(ranking, start=1):
            fused[key] = fused.get(key, 0.0) + 1.0 / (rrf_k + rank)
    return {key: value / best for key, value in fused.items()}


def best_similarity(
    rankings: Sequence[Sequence[tuple[Hashable, float]]],
) -> list[tuple[Hashable, float]]:
    """Merge similarity rankings of the same items: each item's highest score, best first."""
    best: dict[Hashable, float] = {}
    for ranking in rankings:
        for key, score in ranking:
            if score > best.get(key, float("-inf")):
                best[key] = score
    return sorted(best.items(), key=lambda item: item[1], reverse=True)


def score_candidates(
    mode: str,
    vector_rankings: Sequence[Sequence[tuple[Hashable, float]]],
    lexical_ranking: Sequence[tuple[Hashable, float]],
    importance: dict[Hashable, float],
    similarity_weight: float,
    rrf_k: int,
    demoted: Collection[Hashable] = (),
    demotion: float = 0.0,
) -> list[tuple[Hashable, float]]:
    """Best-first (key, score). "vector": each chunk's best cosine over its vectors (code,
    label); "bm25": the BM25 score; "hybrid": the rankings fused by reciprocal rank, then
    ``w * fused + (1 - w) * importance``, minus ``demotion`` for the ``demoted`` keys."""
    if mode == "vector":
        return best_similarity(vector_rankings)
    if mode == "bm25":
        return list(lexical_ranking)
    rankings = [[key for key, _ in ranking] for ranking in (*vector_rankings, lexical_ranking)]
    fused = reciprocal_rank_fusion(rankings, rrf_k)
    scored = [
        (key, similarity_weight * value + (1.0 - similarity_weight) * importance.get(key, 0.0)
         - (demotion if key in demoted else 0.0))
        for key, value in fused.items()
    ]
    scored.sort(key=lambda item: item[1], reverse=True)
    return scored


def promote(ranked: Sequence[tuple[Candidate, float]], favoured: Collection[tuple[str, str]],
            bonus: float) -> list[tuple[Candidate, float]]:
    """``ranked`` with ``bonus`` added to the chunks named in ``favoured`` (relative path,
    chunk name: code the user accepted), best first again. A chunk named "Class.method"
    matches "method"."""
    def wanted(chunk: Chunk) -> bool:
        return (chunk.path, chunk.name) in favoured \
            or (chunk.path, chunk.name.rsplit(".", 1)[-1]) in favoured
    rescored = [(candidate, score + (bonus if wanted(candidate.chunk) else 0.0))
                for candidate, score in ranked]
    rescored.sort(key=lambda item: item[1], reverse=True)
    return rescored


_TEST_FOLDERS = frozenset(("test", "tests", "testing", "__tests__", "spec", "specs"))
_TEST_FILES = re.compile(
    r"(^test_.*\.py$|^conftest\.py$|_tests?\.(py|go|rs|c|cc|cpp)$"
    r"|\.(test|spec)\.[jt]sx?$|Tests?\.java$)"
)


def is_test_path(rel_path: str) -> bool:
    """Whether a workspace-relative path is test code (a test folder or a test file name)."""
    *folders, name = rel_path.split("/")
    return any(folder in _TEST_FOLDERS for folder in folders) or bool(_TEST_FILES.search(name))


def estimate_tokens(text: str) -> int:
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def overlaps(chunk: Chunk, path: str, lines: tuple[int, int]) -> bool:
    return chunk.path == path and chunk.start_line <= lines[1] and lines[0] <= chunk.end_line


def select_within_budget(
    ranked: Sequence[tuple[Candidate, float]], budget_tokens: int
) -> list[tuple[Candidate, float]]:
    """Keep ranked candidates, best first, that add something new (no repeated content,
    no span overlapping one already kept in the same file) and still fit the budget."""
    kept: list[tuple[Candidate, float]] = []
    seen_hashes: set[str] = set()
    used = 0
    for candidate, score in ranked:
        chunk = candidate.chunk
        if candidate.content_hash in seen_hashes:
            continue
        if any(overlaps(chunk, other.chunk.path, (other.chunk.start_line, other.chunk.end_line))
               for other, _ in kept):
            continue
        cost = estimate_tokens(chunk.text)
        if used + cost > budget_tokens:
            continue
        kept.append((candidate, score))
        seen_hashes.add(candidate.content_hash)
        used += cost
    return kept
