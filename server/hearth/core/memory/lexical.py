"""An incremental BM25 index over chunk terms, kept in memory beside the vectors.

Written here rather than taken from bm25s or rank-bm25 because both build a static corpus:
re-indexing one saved file would mean rebuilding the whole index, while this one adds and
removes single chunks in time proportional to their length."""

from __future__ import annotations

import heapq
import math
from collections import Counter
from collections.abc import Collection, Iterable, Mapping


class Bm25Index:
    """Okapi BM25 (k1, b) with the Lucene-style non-negative idf."""

    def __init__(self, k1: float = 1.2, b: float = 0.75) -> None:
        self.k1 = k1
        self.b = b
        self._postings: dict[str, dict[int, int]] = {}
        self._lengths: dict[int, int] = {}
        self._doc_terms: dict[int, tuple[str, ...]] = {}
        self._total_length = 0

    def __len__(self) -> int:
        return len(self._lengths)

    def add(self, doc_id: int, terms: Iterable[str]) -> None:
        if doc_id in self._lengths:
            self.remove(doc_id)
        counts = Counter(terms)
        for term, frequency in counts.items():
            self._postings.setdefault(term, {})[doc_id] = frequency
        length = sum(counts.values())
        self._lengths[doc_id] = length
        self._doc_terms[doc_id] = tuple(counts)
        self._total_length += length

    def remove(self, doc_id: int) -> None:
        length = self._lengths.pop(doc_id, None)
        if length is None:
            return
        self._total_length -= length
        for term in self._doc_terms.pop(doc_id):
            posting = self._postings[term]
            posting.pop(doc_id, None)
            if not posting:
                del self._postings[term]

    def search(
        self, query_terms: Iterable[str], k: int, exclude: Collection[int] = ()
    ) -> list[tuple[int, float]]:
        """The ``k`` best (doc id, score) pairs with a positive score, best first."""
        scores: dict[int, float] = {}
        average = self._average_length()
        for term in set(query_terms):
            posting = self._postings.get(term)
            if not posting:
                continue
            idf = self._idf(len(posting))
            for doc_id, frequency in posting.items():
                scores[doc_id] = scores.get(doc_id, 0.0) + idf * self._saturate(
                    frequency, self._lengths[doc_id], average
                )
        ranked = ((score, doc_id) for doc_id, score in scores.items() if doc_id not in exclude)
        return [(doc_id, score) for score, doc_id in heapq.nlargest(k, ranked)]

    def score_document(self, query_terms: Iterable[str], doc_counts: Mapping[str, int]) -> float:
        """Score a document that is not in the index (an unsaved buffer) with this corpus'
        statistics."""
        length = sum(doc_counts.values())
        average = self._average_length() or float(length or 1)
        total = 0.0
        for term in set(query_terms):
            frequency = doc_counts.get(term, 0)
            if frequency:
                document_frequency = len(self._postings.get(term, {})) + 1
                total += self._idf(document_frequency) * self._saturate(
                    frequency, length, average
                )
        return total

    def _idf(self, document_frequency: int) -> float:
        documents = max(len(self._lengths), document_frequency)
        return math.log(1.0 + (documents - document_frequency + 0.5) / (document_frequency + 0.5))

    def _saturate(self, frequency: int, length: int, average: float) -> float:
        norm = self.k1 * (1.0 - self.b + self.b * length / average) if average else self.k1
        return frequency * (self.k1 + 1.0) / (frequency + norm)

    def _average_length(self) -> float:
        return self._total_length / len(self._lengths) if self._lengths else 0.0
