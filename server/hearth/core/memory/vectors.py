"""The hnswlib cosine index over chunk embeddings, saved atomically (temp file, fsync,
os.replace) under a name that carries the catalogue generation it matches."""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Collection
from pathlib import Path

import hnswlib
import numpy as np

logger = logging.getLogger(__name__)

_GROWTH = 2
_MIN_CAPACITY = 1024


class VectorIndex:
    """Chunk ids are hnswlib labels; removed ids are marked deleted and their slots reused."""

    def __init__(self, dim: int, m: int, ef_construction: int, ef_search: int) -> None:
        self.dim = dim
        self.m = m
        self.ef_construction = ef_construction
        self.ef_search = ef_search
        self._index = self._new_index(_MIN_CAPACITY)
        self._live: set[int] = set()

    def __len__(self) -> int:
        return len(self._live)

    def __contains__(self, chunk_id: int) -> bool:
        return chunk_id in self._live

    def _new_index(self, capacity: int) -> hnswlib.Index:
        index = hnswlib.Index(space="cosine", dim=self.dim)
        index.init_index(
            max_elements=capacity, ef_construction=self.ef_construction, M=self.m,
            allow_replace_deleted=True,
        )
        index.set_ef(self.ef_search)
        return index

    def add(self, ids: list[int], vectors: np.ndarray) -> None:
        if not ids:
            return
        present = [chunk_id for chunk_id in ids if chunk_id in self._live]
        if present:
            self.remove(present)
        needed = self._index.get_current_count() + len(ids)
        if needed > self._index.get_max_elements():
            self._index.resize_index(max(needed, self._index.get_max_elements() * _GROWTH))
        self._index.add_items(vectors, np.asarray(ids, dtype=np.int64), replace_deleted=True)
        self._live.update(ids)

    def remove(self, ids: Collection[int]) -> None:
        for chunk_id in ids:
            if chunk_id in self._live:
                self._index.mark_deleted(chunk_id)
                self._live.discard(chunk_id)

    def search(self, vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        """The ``k`` nearest (chunk id, cosine similarity) pairs, nearest first."""
        k = min(k, len(self._live))
        if k <= 0:
            return []
        self._index.set_ef(max(self.ef_search, k))
        labels, distances = self._index.knn_query(vector.reshape(1, -1), k=k)
        return [
            (int(label), 1.0 - float(distance))
            for label, distance in zip(labels[0], distances[0])
        ]

    def save(self, folder: Path, generation: int) -> tuple[str, str]:
        """Write ``vectors-<generation>.hnsw`` atomically; return its name and sha256."""
        name = f"vectors-{generation}.hnsw"
        scratch = folder / f".{name}.{os.getpid()}.tmp"
        self._index.save_index(str(scratch))
        _fsync(scratch)
        digest = _sha256(scratch)
        os.replace(scratch, folder / name)
        _fsync_folder(folder)
        return name, digest

    def load(self, path: Path, expected_sha256: str, live_ids: set[int]) -> bool:
        """Load a saved index if its checksum matches; False (and nothing changed) if not.

        The checksum is verified first because hnswlib trusts the bytes it reads."""
        try:
            if _sha256(path) != expected_sha256:
                logger.warning("Vector index %s does not match its checksum", path.name)
                return False
            index = hnswlib.Index(space="cosine", dim=self.dim)
            index.load_index(str(path), allow_replace_deleted=True)
        except (OSError, RuntimeError) as exc:
            logger.warning("Cannot load vector index %s: %s", path.name, exc)
            return False
        index.set_ef(self.ef_search)
        self._index = index
        self._live = set(live_ids)
        return True


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fsync(path: Path) -> None:
    with path.open("rb+") as handle:
        os.fsync(handle.fileno())


def _fsync_folder(folder: Path) -> None:
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
