"""BM25 terms and the incremental BM25 index; rank fusion and the prompt budget."""

from __future__ import annotations

from collections import Counter

import pytest

from hearth.core.memory.lexical import Bm25Index
from hearth.core.memory.records import Chunk
from hearth.core.memory.retrieve import (
    Candidate,
    estimate_tokens,
    is_test_path,
    reciprocal_rank_fusion,
    score_candidates,
    select_within_budget,
)
from hearth.core.memory.tokens import split_identifier, terms


def test_identifiers_split_at_snake_and_camel_case() -> None:
    assert split_identifier("parse_HTTPResponse2") == ["parse", "http", "response", "2"]
    assert split_identifier("getUserName") == ["get", "user", "name"]
    assert split_identifier("__init__") == ["init"]


def test_terms_keep_compound_names_and_drop_noise() -> None:
    found = terms("def get_user_name(self): return self.userNames")
    assert "get_user_name" in found and "usernames" in found
    assert {"get", "user", "name"} <= set(found)
    assert "self" not in found and "def" not in found and "return" not in found


def test_bm25_ranks_matching_documents_and_forgets_removed_ones() -> None:
    index = Bm25Index()
    index.add(1, terms("def parse_header(line): split the header line"))
    index.add(2, terms("def send_request(url): open a socket"))
    index.add(3, terms("def render_template(name): jinja"))
    ranked = index.search(terms("parse a header"), 3)
    assert ranked[0][0] == 1 and all(score > 0 for _, score in ranked)
    assert [doc for doc, _ in index.search(terms("header"), 3, exclude={1})] == []
    index.remove(1)
    assert index.search(terms("header"), 3) == []
    assert len(index) == 2
    index.add(2, terms("def parse_header(): replaced"))  # re-adding replaces
    assert index.search(terms("socket"), 3) == []
    assert index.search(terms("header"), 3)[0][0] == 2


def test_bm25_scores_an_outside_document_with_corpus_statistics() -> None:
    index = Bm25Index()
    for doc in range(5):
        index.add(doc, terms(f"common words number{doc}"))
    rare = index.score_document(terms("rare"), Counter(terms("rare thing")))
    common = index.score_document(terms("common"), Counter(terms("common thing")))
    assert rare > common > 0
    assert index.score_document(terms("absent"), Counter(terms("nothing here"))) == 0


def test_reciprocal_rank_fusion_rewards_agreement() -> None:
    fused = reciprocal_rank_fusion([["a", "b", "c"], ["b", "a", "d"]], rrf_k=60)
    assert fused["a"] == fused["b"] > fused["c"] > 0
    assert max(fused.values()) < 1.0
    assert reciprocal_rank_fusion([["x"], ["x"]], rrf_k=60)["x"] == 1.0


def test_hybrid_blends_fusion_with_importance() -> None:
    vector = [("a", 0.9), ("b", 0.8)]
    lexical = [("a", 5.0), ("b", 4.0)]
    plain = score_candidates("hybrid", [vector], lexical, {}, 1.0, 60)
    assert [key for key, _ in plain] == ["a", "b"]
    boosted = score_candidates("hybrid", [vector], lexical, {"b": 1.0}, 0.7, 60)
    assert [key for key, _ in boosted] == ["b", "a"]
    assert score_candidates("bm25", [vector], lexical, {}, 0.7, 60) == lexical


def test_vector_mode_keeps_each_chunks_best_similarity_over_its_vectors() -> None:
    code = [("a", 0.9), ("b", 0.5)]
    label = [("b", 0.95), ("c", 0.4), ("a", 0.3)]
    assert score_candidates("vector", [code, label], [], {}, 0.9, 60) == [
        ("b", 0.95), ("a", 0.9), ("c", 0.4)]


def test_hybrid_fuses_every_ranking_and_demotes_the_demoted() -> None:
    code = [("impl", 0.9), ("test", 0.8)]
    label = [("test", 0.9), ("impl", 0.7)]
    lexical = [("test", 3.0), ("impl", 2.0)]
    fused = score_candidates("hybrid", [code, label], lexical, {}, 1.0, 30)
    assert [key for key, _ in fused] == ["test", "impl"]  # first in two of three rankings
    demoted = score_candidates("hybrid", [code, label], lexical, {}, 1.0, 30,
                               demoted={"test"}, demotion=0.2)
    assert [key for key, _ in demoted] == ["impl", "test"]
    scores = dict(demoted)
    assert scores["test"] == pytest.approx(dict(fused)["test"] - 0.2)


@pytest.mark.parametrize("path, expected", [
    ("tests/test_app.py", True), ("src/pkg/tests/helpers.py", True), ("test_app.py", True),
    ("conftest.py", True), ("pkg/server_test.go", True), ("web/cart.test.ts", True),
    ("web/cart.spec.js", True), ("src/CartTest.java", True), ("src/app.py", False),
    ("src/latest.py", False), ("src/contest.py", False), ("testimony/app.py", False),
])
def test_test_code_is_recognised_by_folder_or_file_name(path: str, expected: bool) -> None:
    assert is_test_path(path) is expected


def candidate(key: str, path: str, start: int, end: int, text: str, digest: str) -> Candidate:
    return Candidate(key, Chunk(path, "function", key, start, end, text), digest, 0.0)


def test_budget_selection_skips_duplicates_overlaps_and_what_does_not_fit() -> None:
    ranked = [
        (candidate("a", "x.py", 1, 10, "a" * 30, "h1"), 0.9),
        (candidate("copy", "y.py", 1, 10, "a" * 30, "h1"), 0.8),
        (candidate("inner", "x.py", 5, 6, "b" * 30, "h2"), 0.7),
        (candidate("huge", "z.py", 1, 99, "c" * 3000, "h3"), 0.6),
        (candidate("small", "z.py", 200, 210, "d" * 30, "h4"), 0.5),
    ]
    kept = select_within_budget(ranked, budget_tokens=40)
    assert [c.key for c, _ in kept] == ["a", "small"]
    assert sum(estimate_tokens(c.chunk.text) for c, _ in kept) <= 40
    assert select_within_budget(ranked, budget_tokens=5) == []
