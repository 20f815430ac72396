"""The SQLite catalogue: the durable truth of the index (files with content hashes and
mtimes, chunks with spans, names, importance facts, terms and embeddings, and the
embedding model's id and dimension). SQLite transactions make every write atomic."""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from hearth.core.memory.records import Chunk

logger = logging.getLogger(__name__)

SCHEMA_VERSION = "3"  # 3: an embedding blob holds one float32 row per vector slot

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files (
    path TEXT PRIMARY KEY, content_hash TEXT NOT NULL, mtime_ns INTEGER NOT NULL,
    size INTEGER NOT NULL, names TEXT NOT NULL);
-- AUTOINCREMENT: a chunk id is an hnswlib label and must never be handed out twice.
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY AUTOINCREMENT, path TEXT NOT NULL, kind TEXT NOT NULL,
    name TEXT NOT NULL,
    defined_name TEXT NOT NULL, start_line INTEGER NOT NULL, end_line INTEGER NOT NULL,
    has_docstring INTEGER NOT NULL, content_hash TEXT NOT NULL, text TEXT NOT NULL,
    terms TEXT NOT NULL, embedding BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS chunks_by_path ON chunks(path);
CREATE INDEX IF NOT EXISTS chunks_by_hash ON chunks(content_hash);
"""


class CatalogueError(Exception):
    """The catalogue file is unreadable or not ours; the caller rebuilds it."""


@dataclass(frozen=True)
class FileRecord:
    path: str
    content_hash: str
    mtime_ns: int
    size: int


@dataclass(frozen=True)
class StoredChunk:
    id: int
    chunk: Chunk
    content_hash: str


@dataclass(frozen=True)
class NewChunk:
    """A chunk ready to store: its content hash, BM25 terms and embedding bytes."""

    chunk: Chunk
    content_hash: str
    terms: list[str]
    embedding: bytes


class Catalogue:
    """One SQLite connection, used under the owner's lock (hence check_same_thread off)."""

    def __init__(self, path: Path) -> None:
        import sqlite3  # loaded with the first index, not with the server

        self.path = path
        try:
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            check = self._db.execute("PRAGMA quick_check").fetchone()
            if check is None or check[0] != "ok":
                raise CatalogueError(f"integrity check failed: {check}")
            self._db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            self.close()
            raise CatalogueError(str(exc)) from exc
        stored = self.get_meta("schema")
        if stored is None:
            self.set_meta("schema", SCHEMA_VERSION)
        elif stored != SCHEMA_VERSION:
            self.close()
            raise CatalogueError(f"schema {stored} is not {SCHEMA_VERSION}")

    def close(self) -> None:
        db = getattr(self, "_db", None)
        if db is not None:
            db.close()
            self._db = None

    @contextmanager
    def transaction(self) -> Iterator[None]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def get_meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def files(self) -> dict[str, FileRecord]:
        rows = self._db.execute("SELECT path, content_hash, mtime_ns, size FROM files")
        return {row[0]: FileRecord(*row) for row in rows}

    def content_hash_of(self, path: str) -> str | None:
        """The stored text's hash of one file (None: not indexed)."""
        row = self._db.execute("SELECT content_hash FROM files WHERE path = ?",
                               (path,)).fetchone()
        return row[0] if row else None

    def name_counts(self) -> Counter[str]:
        totals: Counter[str] = Counter()
        for (names,) in self._db.execute("SELECT names FROM files"):
            totals.update(json.loads(names))
        return totals

    def file_names(self, path: str) -> Counter[str]:
        row = self._db.execute("SELECT names FROM files WHERE path = ?", (path,)).fetchone()
        return Counter(json.loads(row[0])) if row else Counter()

    def put_file(self, record: FileRecord, names: Counter[str]) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?)",
            (record.path, record.content_hash, record.mtime_ns, record.size,
             json.dumps(dict(names))),
        )

    def touch_file(self, path: str, mtime_ns: int) -> None:
        self._db.execute("UPDATE files SET mtime_ns = ? WHERE path = ?", (mtime_ns, path))

    def delete_file(self, path: str) -> list[int]:
        """Forget a file and its chunks; return the removed chunk ids."""
        ids = [row[0] for row in self._db.execute("SELECT id FROM chunks WHERE path = ?", (path,))]
        self._db.execute("DELETE FROM chunks WHERE path = ?", (path,))
        self._db.execute("DELETE FROM files WHERE path = ?", (path,))
        return ids

    def chunks_of(self, path: str) -> list[StoredChunk]:
        rows = self._db.execute(f"SELECT {_CHUNK_COLUMNS} FROM chunks WHERE path = ?", (path,))
        return [_stored_chunk(row) for row in rows]

    def chunks_by_id(self, ids: Iterable[int]) -> dict[int, StoredChunk]:
        wanted = list(ids)
        found: dict[int, StoredChunk] = {}
        for begin in range(0, len(wanted), 500):
            part = wanted[begin:begin + 500]
            marks = ",".join("?" * len(part))
            rows = self._db.execute(
                f"SELECT {_CHUNK_COLUMNS} FROM chunks WHERE id IN ({marks})", part
            )
            found.update((row[0], _stored_chunk(row)) for row in rows)
        return found

    def embeddings_by_hash(self, hashes: Iterable[str]) -> dict[str, bytes]:
        wanted = list(set(hashes))
        found: dict[str, bytes] = {}
        for begin in range(0, len(wanted), 500):
            part = wanted[begin:begin + 500]
            marks = ",".join("?" * len(part))
            rows = self._db.execute(
                f"SELECT content_hash, embedding FROM chunks WHERE content_hash IN ({marks})",
                part,
            )
            found.update(rows)
        return found

    def add_chunks(self, chunks: Iterable[NewChunk]) -> list[int]:
        ids = []
        for new in chunks:
            chunk = new.chunk
            cursor = self._db.execute(
                "INSERT INTO chunks (path, kind, name, defined_name, start_line, end_line, "
                "has_docstring, content_hash, text, terms, embedding) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (chunk.path, chunk.kind, chunk.name, chunk.defined_name, chunk.start_line,
                 chunk.end_line, int(chunk.has_docstring), new.content_hash, chunk.text,
                 " ".join(new.terms), new.embedding),
            )
            ids.append(int(cursor.lastrowid))
        return ids

    def all_embeddings(self) -> Iterator[tuple[int, bytes]]:
        yield from self._db.execute("SELECT id, embedding FROM chunks")

    def all_terms(self) -> Iterator[tuple[int, list[str]]]:
        for chunk_id, terms in self._db.execute("SELECT id, terms FROM chunks"):
            yield chunk_id, terms.split()

    def chunk_ids(self) -> set[int]:
        return {row[0] for row in self._db.execute("SELECT id FROM chunks")}

    def chunk_rows(self, row_bytes: int) -> dict[int, int]:
        """Each chunk id with the number of vectors its embedding blob holds."""
        rows = self._db.execute("SELECT id, length(embedding) FROM chunks")
        return {chunk_id: size // row_bytes for chunk_id, size in rows}

    def clear(self) -> None:
        self._db.execute("DELETE FROM chunks")
        self._db.execute("DELETE FROM files")
        self._db.execute("DELETE FROM meta WHERE key != 'schema'")


_CHUNK_COLUMNS = (
    "id, path, kind, name, start_line, end_line, text, has_docstring, defined_name, content_hash"
)


def _stored_chunk(row: tuple) -> StoredChunk:
    chunk = Chunk(row[1], row[2], row[3], row[4], row[5], row[6], bool(row[7]), row[8])
    return StoredChunk(row[0], chunk, row[9])
