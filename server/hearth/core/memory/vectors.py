"""The hnswlib cosine index over chunk embeddings, saved atomically (temp file, fsync,
os.replace) under a name that carries the catalogue generation it matches."""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Collection
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy and hnswlib load with the first index (not at the server's start)
    import hnswlib
    import numpy as np

logger = logging.getLogger(__name__)

_GROWTH = 2
_MIN_CAPACITY = 1024


SLOTS = 2
"""Vectors a chunk may have: slot 0 embeds its code, slot 1 its label (name and parameters).
The hnswlib label of a chunk's vector is ``chunk_id * SLOTS + slot``."""


class VectorIndex:
    """Chunk ids map to hnswlib labels (one per vector of the chunk); removed chunks are
    marked deleted and their slots reused."""

    def __init__(self, dim: int, m: int, ef_construction: int, ef_search: int) -> None:
        self.dim = dim
        self.m = m
        self.ef_construction = ef_construction
        self.ef_search = ef_search
        self._index = self._new_index(_MIN_CAPACITY)
        self._rows: dict[int, int] = {}  # live chunk id -> its number of vectors
        self._live_vectors = 0

    def __len__(self) -> int:
        return len(self._rows)

    def __contains__(self, chunk_id: int) -> bool:
        return chunk_id in self._rows

    def block(self, blob: bytes) -> np.ndarray:
        """A chunk's stored embedding blob as its vectors, one row per slot."""
        import numpy as np

        return np.frombuffer(blob, dtype=np.float32).reshape(-1, self.dim)[:SLOTS]

    def _new_index(self, capacity: int) -> hnswlib.Index:
        import hnswlib

        index = hnswlib.Index(space="cosine", dim=self.dim)
        index.init_index(
            max_elements=capacity, ef_construction=self.ef_construction, M=self.m,
            allow_replace_deleted=True,
        )
        index.set_ef(self.ef_search)
        return index

    def add(self, ids: list[int], blocks: list[np.ndarray]) -> None:
        """Add chunks; ``blocks[i]`` holds chunk ``ids[i]``'s vectors, one row per slot."""
        import numpy as np

        if not ids:
            return
        present = [chunk_id for chunk_id in ids if chunk_id in self._rows]
        if present:
            self.remove(present)
        labels = [chunk_id * SLOTS + slot
                  for chunk_id, block in zip(ids, blocks) for slot in range(len(block))]
        needed = self._index.get_current_count() + len(labels)
        if needed > self._index.get_max_elements():
            self._index.resize_index(max(needed, self._index.get_max_elements() * _GROWTH))
        self._index.add_items(np.vstack(blocks), np.asarray(labels, dtype=np.int64),
                              replace_deleted=True)
        for chunk_id, block in zip(ids, blocks):
            self._rows[chunk_id] = len(block)
        self._live_vectors += len(labels)

    def remove(self, ids: Collection[int]) -> None:
        for chunk_id in ids:
            rows = self._rows.pop(chunk_id, 0)
            for slot in range(rows):
                self._index.mark_deleted(chunk_id * SLOTS + slot)
            self._live_vectors -= rows

    def search(self, vector: np.ndarray, k: int) -> list[tuple[int, int, float]]:
        """The ``k`` nearest vectors as (chunk id, slot, cosine similarity), nearest first."""
        k = min(k, self._live_vectors)
        if k <= 0:
            return []
        while True:
            self._index.set_ef(max(self.ef_search, k))
            try:
                labels, distances = self._index.knn_query(vector.reshape(1, -1), k=k)
                break
            except RuntimeError:
                # hnswlib raises when its walk finds fewer than k live vectors, which happens
                # once many are marked deleted (files re-indexed while the user works): fewer
                # neighbours are still an answer.
                if k == 1:
                    return []
                k //= 2
        return [
            (int(label) // SLOTS, int(label) % SLOTS, 1.0 - float(distance))
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

    def load(self, path: Path, expected_sha256: str, rows: dict[int, int]) -> bool:
        """Load a saved index if its checksum matches; False (and nothing changed) if not.
        ``rows`` maps each live chunk id to its number of vectors.

        The checksum is verified first because hnswlib trusts the bytes it reads."""
        import hnswlib

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
        self._rows = dict(rows)
        self._live_vectors = sum(self._rows.values())
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
