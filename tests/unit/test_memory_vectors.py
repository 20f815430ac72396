"""The vector index's search when hnswlib cannot find k live neighbours (it raises once many
vectors are marked deleted: files re-indexed while the user works)."""

from __future__ import annotations

import pytest

np = pytest.importorskip("numpy")
pytest.importorskip("hnswlib")

from hearth.core.memory.vectors import VectorIndex  # noqa: E402


def test_a_search_that_hnswlib_refuses_gives_fewer_neighbours_not_an_error() -> None:
    rng = np.random.default_rng(0)
    index = VectorIndex(16, 4, 20, 10)
    index.add(list(range(20)), [rng.standard_normal((1, 16)).astype(np.float32)
                                for _ in range(20)])
    real = index._index.knn_query
    asked: list[int] = []

    class Refusing:  # hnswlib's index, refusing more than 2 neighbours as it does when starved
        def __getattr__(self, name):
            return getattr(index._index_real, name)

        def knn_query(self, vector, k):
            asked.append(k)
            if k > 2:
                raise RuntimeError("Cannot return the results in a contiguous 2D array. "
                                   "Probably ef or M is too small")
            return real(vector, k=k)

    index._index_real, index._index = index._index, Refusing()
    found = index.search(rng.standard_normal(16).astype(np.float32), 8)
    assert len(found) == 2 and asked == [8, 4, 2]
    assert all(-1.0 <= similarity <= 1.0 for _, _, similarity in found)
