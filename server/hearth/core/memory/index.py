"""The workspace index and its writing side: crawl, chunk, embed and store a workspace, and
keep it current file by file; searches go to memory.search, which reads the same stores."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from hearth.core.errors import HearthError
from hearth.core.memory import tokens
from hearth.core.memory.cache import cache_base, workspace_cache_dir
from hearth.core.memory.catalogue import Catalogue, CatalogueError, FileRecord, NewChunk
from hearth.core.memory.chunk import (
    chunk_digest,
    chunk_file,
    chunk_terms,
    content_hash,
    embedding_text,
)
from hearth.core.memory.crawl import (
    CrawledFile,
    IgnoreRules,
    crawl,
    decode_indexable,
    read_indexable,
    relative_path,
)
from hearth.core.memory.embed import (
    DIMENSION,
    EmbeddingModel,
    load_embedder,
    loads_at_once,
    resolve_model,
)
from hearth.core.memory.embed import model_id as embedder_model_id
from hearth.core.memory.lexical import Bm25Index
from hearth.core.memory.records import Chunk, Hit, IndexStats
from hearth.core.memory.search import IndexSearcher
from hearth.core.memory.settings import IndexSettings
from hearth.core.memory.vectors import VectorIndex

if TYPE_CHECKING:  # numpy loads with the first embedding, not with the server
    import numpy as np

    from hearth.core.memory.embed import Embedder

logger = logging.getLogger(__name__)

CATALOGUE_FILE = "catalogue.sqlite"
STAGING_FOLDER = "next-model"  # inside the cache folder: the store being made with a new model
_EMBED_GROUP_CHUNKS = 64  # chunks embedded between cancellation checks and commits
_VECTOR_SAVE_INTERVAL_S = 60.0


class EmbedderPool:
    """One embedder per configuration (each takes seconds and memory to load), shared by the
    indexes of one owner: the Session passes its pool to every folder's index."""

    def __init__(self) -> None:
        self._embedders: dict[tuple[str, int, int, Path, EmbeddingModel], Embedder] = {}
        self._lock = threading.Lock()

    def get(self, backend: str, max_tokens: int, batch_size: int = 32,
            model: EmbeddingModel | None = None) -> Embedder:
        base = cache_base()
        model = model or resolve_model("base", base)
        key = (backend, max_tokens, batch_size, base, model)
        with self._lock:
            if key not in self._embedders:
                self._embedders[key] = load_embedder(backend, base, max_tokens, batch_size,
                                                     model)
            return self._embedders[key]


@dataclass
class _PreparedFile:
    """A changed file, read and chunked, waiting for embeddings."""

    record: FileRecord
    names: Counter[str]
    chunks: list[Chunk]
    hashes: list[str]


class WorkspaceIndex:
    """A persistent, incrementally updated vector + BM25 index of one workspace folder.

    Opening is cheap; the embedding model loads on the first call that needs it. All
    public methods are safe to call from several threads (one lock guards the state; the
    embedding of chunks and queries happens outside it)."""

    def __init__(
        self,
        root: Path,
        *,
        cache_dir: Path | None = None,
        settings: IndexSettings | None = None,
        embedder: Embedder | None = None,
        embedders: EmbedderPool | None = None,
    ) -> None:
        """``embedder``: the one to use; else one from ``embedders`` (the owner's pool, so
        that several indexes share it), else from a pool of this index's own."""
        self.root = Path(root).resolve()
        if not self.root.is_dir():
            raise HearthError(
                f"Cannot index {root}: it is not a folder.", "Open a workspace folder."
            )
        self.settings = settings or IndexSettings()
        self.cache_dir = Path(cache_dir) if cache_dir else workspace_cache_dir(self.root)
        self._embedder = embedder
        self._fixed_embedder = embedder is not None
        self._embedders = embedders if embedders is not None else EmbedderPool()
        self._model: EmbeddingModel | None = None
        self._keep_stored = False
        self._model_lock = threading.Lock()
        self._embedder_lock = threading.Lock()
        self._lock = threading.RLock()
        self._rules = IgnoreRules(self.settings)
        self._catalogue: Catalogue | None = None
        self._vectors = VectorIndex(
            DIMENSION if embedder is None else embedder.dim, self.settings.hnsw_m,
            self.settings.hnsw_ef_construction, self.settings.hnsw_ef_search,
        )
        self._lexical = Bm25Index()
        self._names: Counter[str] = Counter()
        self._vectors_dirty = False
        self._last_vector_save = time.monotonic()
        self._rebuilt = False
        self._searcher = self._new_searcher()

    def _new_searcher(self) -> IndexSearcher:
        """The reader of the current stores (a new one after a switch of models: its cache
        of unsaved text's vectors belongs to the old model)."""
        return IndexSearcher(
            self.root, self.settings, rules=self._rules, lock=self._lock,
            catalogue=self._open, vectors=self._vectors, lexical=self._lexical,
            names=lambda: self._names, embedder=self._embedder_instance,
            embed_chunks=self._embed_chunks,
        )

    # -- public API -----------------------------------------------------------------------

    @property
    def model_id(self) -> str:
        if self._embedder is not None:
            return self._embedder.model_id
        return embedder_model_id(self.settings.embedder, self.settings.max_embed_tokens,
                                 self.embedding_model.tag)

    @property
    def embedding_model(self) -> EmbeddingModel:
        """The weights this index embeds with, chosen once (``auto`` picks the code-tuned
        model if it exists when first asked), so one store never mixes two models."""
        with self._model_lock:
            if self._model is None:
                self._model = resolve_model(self.settings.embedding_model, cache_base())
            return self._model

    def build(
        self,
        progress: Callable[[int, int], None] | None = None,
        cancel: Callable[[], bool] | None = None,
    ) -> IndexStats:
        """Bring the index up to date with the files on disk: embed only new or changed
        chunks, forget deleted files. ``progress(done, total)`` is called per file;
        ``cancel()`` is polled and stops the build early (what was done is kept)."""
        started = time.perf_counter()
        cancelled = cancel or (lambda: False)
        with self._lock:
            catalogue = self._open()
            known = catalogue.files()
        found = crawl(self.root, self.settings, cancelled)
        on_disk = {item.rel_path for item in found}
        embedded = 0
        pending: list[_PreparedFile] = []
        for done, item in enumerate(found, start=1):
            if cancelled():
                break
            prepared = self._prepare(item, known.get(item.rel_path))
            if prepared is not None:
                pending.append(prepared)
            if sum(len(entry.chunks) for entry in pending) >= _EMBED_GROUP_CHUNKS:
                embedded += self._store(pending)
                pending = []
            if progress is not None:
                progress(done, len(found))
        embedded += self._store(pending)
        # Forgotten last, so that a renamed file's chunks find their embeddings above.
        removed = [] if cancelled() else [path for path in known if path not in on_disk]
        self._forget(removed)
        with self._lock:
            self._save_vectors()
            stats = IndexStats(
                files=len(catalogue.files()), chunks=len(self._vectors), embedded=embedded,
                elapsed_s=time.perf_counter() - started, removed=len(removed),
                cancelled=cancelled(), rebuilt=self._rebuilt,
                truncated=len(found) >= self.settings.max_files,
            )
            self._rebuilt = False
        logger.info(
            "Indexed %s: %d files, %d chunks, %d embedded in %.1f s%s", self.root,
            stats.files, stats.chunks, stats.embedded, stats.elapsed_s,
            " (cancelled)" if stats.cancelled else "",
        )
        return stats

    def update_file(self, path: Path, text: str | None = None) -> int:
        """Re-index one file (``text`` if given, else its content on disk); only chunks
        whose content changed are embedded. Returns how many were. A file that is gone,
        excluded or not indexable is forgotten instead."""
        rel_path = relative_path(self.root, path)
        absolute = self.root / rel_path
        with self._lock:
            self._open()
        if self._rules.excludes(self.root, rel_path):
            self.remove_file(absolute)
            return 0
        try:
            stat = absolute.stat()
            mtime_ns, size = stat.st_mtime_ns, stat.st_size
        except OSError:
            if text is None:
                self.remove_file(absolute)
                return 0
            mtime_ns, size = 0, len(text.encode("utf-8"))
        if text is None:
            text = read_indexable(absolute, self.settings)
        else:
            text = decode_indexable(text.encode("utf-8"), self.settings)
        if text is None:
            self.remove_file(absolute)
            return 0
        with self._lock:
            known = self._open().files().get(rel_path)
        prepared = self._prepare_text(rel_path, text, mtime_ns, size, known)
        if prepared is None:
            return 0
        embedded = self._store([prepared])
        with self._lock:
            if time.monotonic() - self._last_vector_save > _VECTOR_SAVE_INTERVAL_S:
                self._save_vectors()
        return embedded

    def remove_file(self, path: Path) -> None:
        """Forget a file, or every indexed file below ``path`` if it names a folder."""
        rel_path = relative_path(self.root, path)
        with self._lock:
            known = self._open().files()
        prefix = f"{rel_path}/" if rel_path else ""
        self._forget([item for item in known if item == rel_path or item.startswith(prefix)])

    def search(self, query: str, k: int = 8, *, mode: str = "hybrid") -> list[Hit]:
        """The ``k`` best chunks for ``query``; ``mode`` is "vector", "bm25" or "hybrid"
        (which ranks test code below the code it tests, see ``IndexSettings.test_demotion``)."""
        return self._searcher.search(query, k, mode=mode)

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
        """Chunks for a prompt: hybrid-ranked, without the chunk being edited (lines
        ``exclude_lines`` of ``exclude_path``) or copies of it, without duplicates, within
        ``budget_tokens``. ``overlay`` maps open files to unsaved text that is searched in
        place of the stored version, without being stored. Test code is demoted unless
        ``exclude_path`` is itself a test file; chunks named in ``favoured`` (relative path,
        name: code the user accepted) are promoted."""
        return self._searcher.context_for(
            query, budget_tokens=budget_tokens, exclude_path=exclude_path,
            exclude_lines=exclude_lines, overlay=overlay, favoured=favoured,
        )

    def close(self) -> None:
        """Save the vectors if they changed and release the catalogue."""
        with self._lock:
            if self._catalogue is None:
                return
            self._save_vectors()
            self._catalogue.close()
            self._catalogue = None

    def __enter__(self) -> WorkspaceIndex:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- switching to a better model while answering -------------------------------------

    def keep_stored_model(self) -> None:
        """Call before the index is first used. With ``embedding_model`` "auto", a store
        embedded with the packaged model keeps answering with it when the code-tuned model
        has appeared since, instead of being cleared and re-embedded before it can answer;
        ``better_model`` then names the tuned model, and ``stage_model`` and ``adopt`` switch
        to it while the old vectors serve. The language server asks for this; the CLI
        re-embeds at once."""
        self._keep_stored = True

    def better_model(self) -> EmbeddingModel | None:
        """With "auto": the model a fresh choice would take now, when it differs from the one
        in use and loads at once (its ONNX export is made): the code-tuned model, made since
        this index chose. Cheap (a few stat calls)."""
        if self._fixed_embedder or self.settings.embedding_model != "auto":
            return None
        base = cache_base()
        try:
            latest = resolve_model("auto", base)
        except HearthError:
            return None
        if latest == self.embedding_model or not loads_at_once(latest, self.settings.embedder,
                                                               base):
            return None
        return latest

    def stage_model(
        self,
        model: EmbeddingModel,
        progress: Callable[[int, int], None] | None = None,
        cancel: Callable[[], bool] | None = None,
    ) -> WorkspaceIndex | None:
        """A copy of this index embedded with ``model``, built beside it (in
        ``<cache folder>/next-model``, resuming a copy cut short before) while this index
        keeps answering and updating. None if ``cancel()`` stopped it. Run it off the
        writers' thread, then ``adopt`` the copy on it."""
        embedder = self._embedders.get(self.settings.embedder, self.settings.max_embed_tokens,
                                       self.settings.batch_size, model)
        staged = WorkspaceIndex(self.root, cache_dir=self.cache_dir / STAGING_FOLDER,
                                settings=self.settings, embedder=embedder)
        staged._model = model
        try:
            stats = staged.build(progress, cancel)
        except BaseException:
            staged.close()
            raise
        if stats.cancelled:
            staged.close()
            return None
        return staged

    def adopt(self, staged: WorkspaceIndex) -> None:
        """Answer from ``staged`` (made by ``stage_model``) from now on: its store replaces
        this one in one step under the lock. Then ``build`` catches up with the files changed
        while it was made. Killed half-way, the vector file has been replaced first: the old
        catalogue finds it fails its checksum and rebuilds its vectors from its own
        embeddings, or the new catalogue is in place whole (``os.replace``)."""
        with self._lock:
            staged.close()
            if self._catalogue is not None:
                self._catalogue.close()  # its unsaved vectors are not worth saving now
                self._catalogue = None
            for old in (*self.cache_dir.glob(f"{CATALOGUE_FILE}-*"),
                        *self.cache_dir.glob("vectors-*.hnsw")):
                old.unlink(missing_ok=True)
            incoming = sorted(staged.cache_dir.iterdir(),
                              key=lambda path: path.name == CATALOGUE_FILE)  # catalogue last
            for path in incoming:
                os.replace(path, self.cache_dir / path.name)
            staged.cache_dir.rmdir()
            with self._model_lock:
                self._model = staged.embedding_model
            with self._embedder_lock:
                self._embedder = staged._embedder
            self._vectors = VectorIndex(
                staged._vectors.dim, self.settings.hnsw_m, self.settings.hnsw_ef_construction,
                self.settings.hnsw_ef_search,
            )
            self._lexical = Bm25Index()
            self._names = Counter()
            self._vectors_dirty = False
            self._searcher = self._new_searcher()
            self._open()
        logger.info("%s now answers with %s", self.root, self.model_id)

    # -- opening and recovery ------------------------------------------------------------

    def _open(self) -> Catalogue:
        """Open (once) the catalogue and bring the in-memory indexes in line with it; an
        unreadable or mismatched store is discarded and rebuilt, with a warning."""
        if self._catalogue is not None:
            return self._catalogue
        try:
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            catalogue = self._open_catalogue()
        except OSError as exc:
            raise HearthError(
                f"Cannot write the index cache at {self.cache_dir}: {exc}.",
                "Make it writable or point $HEARTH_CACHE_DIR at a writable folder.",
            ) from exc
        self._adopt_model(catalogue)
        self._catalogue = catalogue
        for chunk_id, terms in catalogue.all_terms():
            self._lexical.add(chunk_id, terms)
        self._names = catalogue.name_counts()
        self._load_vectors(catalogue)
        return catalogue

    def _open_catalogue(self) -> Catalogue:
        path = self.cache_dir / CATALOGUE_FILE
        try:
            return Catalogue(path)
        except CatalogueError as exc:
            logger.warning("The index at %s is unreadable (%s); rebuilding it.", path, exc)
            self._discard_store()
            return Catalogue(path)

    def _adopt_model(self, catalogue: Catalogue) -> None:
        stored_model = catalogue.get_meta("model_id")
        stored_dim = catalogue.get_meta("dimension")
        if self._keep_stored and stored_model is not None:
            self._keep_packaged_model(stored_model)
        dim = str(self._vectors.dim)
        if stored_model is not None and (stored_model, stored_dim) != (self.model_id, dim):
            logger.warning(
                "The index at %s was built with %s (dimension %s), not %s (dimension %s); "
                "rebuilding it.", self.cache_dir, stored_model, stored_dim, self.model_id, dim,
            )
            with catalogue.transaction():
                catalogue.clear()
            self._rebuilt = True
        if stored_model != self.model_id or stored_dim != dim:
            with catalogue.transaction():
                catalogue.set_meta("model_id", self.model_id)
                catalogue.set_meta("dimension", dim)

    def _keep_packaged_model(self, stored_model: str) -> None:
        """``keep_stored_model``: answer with the packaged model if the store holds its
        vectors (and no embedder has been made yet, which would be the other model's)."""
        if self._embedder is not None or self.settings.embedding_model != "auto":
            return
        packaged = resolve_model("base", cache_base())
        if stored_model == embedder_model_id(self.settings.embedder,
                                             self.settings.max_embed_tokens, packaged.tag):
            with self._model_lock:
                self._model = packaged

    def _discard_store(self) -> None:
        self._rebuilt = True
        for pattern in (f"{CATALOGUE_FILE}*", "vectors-*.hnsw", ".vectors-*.tmp"):
            for stale in self.cache_dir.glob(pattern):
                stale.unlink(missing_ok=True)

    def _load_vectors(self, catalogue: Catalogue) -> None:
        for leftover in self.cache_dir.glob(".vectors-*.tmp"):  # from a killed writer
            leftover.unlink(missing_ok=True)
        live = catalogue.chunk_rows(self._vectors.dim * 4)
        name = catalogue.get_meta("vectors_file")
        digest = catalogue.get_meta("vectors_sha256")
        if name and digest and self._vectors.load(self.cache_dir / name, digest, live):
            return
        if live:
            logger.info("Rebuilding the vector index of %s from stored embeddings", self.root)
        self._add_stored_vectors(catalogue)
        self._vectors_dirty = bool(live)
        self._save_vectors()

    def _add_stored_vectors(self, catalogue: Catalogue) -> None:
        ids: list[int] = []
        blocks: list[np.ndarray] = []
        for chunk_id, blob in catalogue.all_embeddings():
            ids.append(chunk_id)
            blocks.append(self._vectors.block(blob))
            if len(ids) == 4096:
                self._vectors.add(ids, blocks)
                ids, blocks = [], []
        self._vectors.add(ids, blocks)

    def _save_vectors(self) -> None:
        """Write the vector file for the catalogue's next generation, then point the
        catalogue at it; a crash in between leaves it pointing nowhere, which a reopen
        repairs from the stored embeddings."""
        if not self._vectors_dirty or self._catalogue is None:
            return
        catalogue = self._catalogue
        generation = int(catalogue.get_meta("generation") or 0) + 1
        name, digest = self._vectors.save(self.cache_dir, generation)
        with catalogue.transaction():
            catalogue.set_meta("generation", str(generation))
            catalogue.set_meta("vectors_file", name)
            catalogue.set_meta("vectors_sha256", digest)
        for stale in self.cache_dir.glob("vectors-*.hnsw"):
            if stale.name != name:
                stale.unlink(missing_ok=True)
        self._vectors_dirty = False
        self._last_vector_save = time.monotonic()

    # -- writing --------------------------------------------------------------------------

    def _prepare(self, item: CrawledFile, known: FileRecord | None) -> _PreparedFile | None:
        if known is not None and (known.mtime_ns, known.size) == (item.mtime_ns, item.size):
            return None
        text = read_indexable(item.path, self.settings)
        if text is None:
            if known is not None:
                self._forget([item.rel_path])
            return None
        return self._prepare_text(item.rel_path, text, item.mtime_ns, item.size, known)

    def _prepare_text(
        self, rel_path: str, text: str, mtime_ns: int, size: int, known: FileRecord | None
    ) -> _PreparedFile | None:
        file_hash = content_hash(text)
        if known is not None and known.content_hash == file_hash:
            with self._lock:
                catalogue = self._open()
                with catalogue.transaction():
                    catalogue.touch_file(rel_path, mtime_ns)
            return None
        chunks = chunk_file(rel_path, text, self.settings)
        return _PreparedFile(
            FileRecord(rel_path, file_hash, mtime_ns, size), tokens.name_counts(text), chunks,
            [chunk_digest(chunk) for chunk in chunks],
        )

    def _store(self, prepared: list[_PreparedFile]) -> int:
        """Embed what is new in ``prepared`` (outside the lock), then replace each file's
        chunks in one transaction and in the in-memory indexes."""
        if not prepared:
            return 0
        hashes = [digest for entry in prepared for digest in entry.hashes]
        with self._lock:
            known = self._open().embeddings_by_hash(hashes)
        todo: dict[str, Chunk] = {}
        for entry in prepared:
            for chunk, digest in zip(entry.chunks, entry.hashes):
                if digest not in known:
                    todo.setdefault(digest, chunk)
        embedded = self._embed_chunks(todo)
        known.update((digest, block.tobytes()) for digest, block in embedded.items())
        with self._lock:
            for entry in prepared:
                self._replace_file(entry, known)
        return len(todo)

    def _embed_chunks(self, chunks: Mapping[str, Chunk]) -> dict[str, np.ndarray]:
        """Embed each chunk's code and, when it has one, its label, in one model call;
        return digest -> float32 block (one row per slot)."""
        import numpy as np

        if not chunks:
            return {}
        texts = [embedding_text(chunk) for chunk in chunks.values()]
        labelled = [digest for digest, chunk in chunks.items() if chunk.label]
        texts += [chunks[digest].label for digest in labelled]
        vectors = self._embedder_instance().embed(texts).astype(np.float32)
        blocks = {digest: vectors[row:row + 1] for row, digest in enumerate(chunks)}
        for row, digest in enumerate(labelled, start=len(chunks)):
            blocks[digest] = np.vstack([blocks[digest], vectors[row:row + 1]])
        return blocks

    def _replace_file(self, entry: _PreparedFile, embeddings: dict[str, bytes]) -> None:
        catalogue = self._open()
        path = entry.record.path
        new_chunks = [
            NewChunk(chunk, digest, chunk_terms(chunk), embeddings[digest])
            for chunk, digest in zip(entry.chunks, entry.hashes)
        ]
        old_names = catalogue.file_names(path)
        with catalogue.transaction():
            self._mark_vectors_dirty(catalogue)
            old_ids = catalogue.delete_file(path)
            catalogue.put_file(entry.record, entry.names)
            new_ids = catalogue.add_chunks(new_chunks)
        self._vectors.remove(old_ids)
        for chunk_id in old_ids:
            self._lexical.remove(chunk_id)
        self._vectors.add(new_ids, [self._vectors.block(new.embedding) for new in new_chunks])
        for chunk_id, new in zip(new_ids, new_chunks):
            self._lexical.add(chunk_id, new.terms)
        self._names.subtract(old_names)
        self._names.update(entry.names)

    def _forget(self, paths: Iterable[str]) -> None:
        paths = list(paths)
        if not paths:
            return
        with self._lock:
            catalogue = self._open()
            names = [catalogue.file_names(path) for path in paths]
            with catalogue.transaction():
                self._mark_vectors_dirty(catalogue)
                removed = [chunk_id for path in paths for chunk_id in catalogue.delete_file(path)]
            self._vectors.remove(removed)
            for chunk_id in removed:
                self._lexical.remove(chunk_id)
            for counts in names:
                self._names.subtract(counts)

    def _mark_vectors_dirty(self, catalogue: Catalogue) -> None:
        """Called inside the data transaction: until the vectors are saved again the
        catalogue names no vector file, so a crash cannot pair new chunks with old vectors."""
        if not self._vectors_dirty:
            catalogue.set_meta("vectors_file", "")
            self._vectors_dirty = True

    def _embedder_instance(self) -> Embedder:
        if self._keep_stored and self._embedder is None:
            with self._lock:
                self._open()  # the store decides which model embeds (keep_stored_model)
        with self._embedder_lock:
            if self._embedder is None:
                self._embedder = self._embedders.get(
                    self.settings.embedder, self.settings.max_embed_tokens,
                    self.settings.batch_size, self.embedding_model,
                )
            return self._embedder
