"""Workspace memory in the server: index every workspace folder in a worker, keep it current,
give every action the retrieved context, and move the indexes to the code-tuned embedder
once it is made (in the background, if need be)."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.uris import to_fs_path

from hearth.core.cancel import Cancelled, CancelToken
from hearth.core.errors import HearthError
from hearth.core.memory import IndexSettings, IndexStats, WorkspaceIndex
from hearth.core.memory.background_tune import BackgroundTuner, TuneOutcome, tuning_refusal
from hearth.core.memory.cache import cache_base
from hearth.core.memory.embed import EmbeddingModel, tuning_hint
from hearth.core.memory.tuner_process import EXIT_BUSY
from hearth.lsp.progress import WorkProgress
from hearth.lsp.server import HearthServer

log = logging.getLogger(__name__)
# Files whose change means the analysis must read the environment afresh.
ENVIRONMENT_FILES = frozenset({"pyvenv.cfg", "setup.cfg", "tox.ini", ".flake8",
                               "pyproject.toml"})
# The background tuning starts this long after the first index is ready: not while the
# server starts (indexing, jedi's warm-up, the first model load), and never in the short-lived
# servers of a demo or a test run, which would only kill it.
TUNE_START_DELAY_S = 120.0


def _path(uri: str) -> Path | None:
    return Path(to_fs_path(uri)) if uri.startswith("file:") else None


def embedder_note(index: WorkspaceIndex, tuning: str | None = None) -> str:
    model = index.embedding_model
    if model.tuned:
        return "code-tuned embedder"
    hint = tuning or tuning_hint(index.settings.embedding_model, model)
    return f"base embedder ({hint})" if hint else "base embedder"


class Memory:
    """One index per workspace folder; every write runs on one worker thread, in order."""

    def __init__(self, server: HearthServer) -> None:
        self.server = server
        self.worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hearth-index")
        self.cancel = CancelToken()
        self.tuning = EmbedderTuning(self)
        self._saving: list[Future] | None = None  # set once closed
        self._close_lock = threading.Lock()

    @property
    def indexes(self) -> dict[Path, WorkspaceIndex]:
        return self.server.session.indexes

    def settings(self) -> IndexSettings:
        return self.server.settings.index.for_core()

    def index_for(self, path: Path | None) -> WorkspaceIndex | None:
        return self.server.session.index_for(path)

    def overlay(self) -> dict[Path, str]:
        """Unsaved text of open documents: searched, never stored."""
        out = {}
        for document in list(self.server.workspace.text_documents.values()):
            path = _path(document.uri)
            if path is not None and self.index_for(path) is not None:
                out[path.resolve()] = document.source
        return out

    async def run(self, job, *args: Any) -> Any:
        try:
            future = asyncio.get_running_loop().run_in_executor(self.worker, job, *args)
        except RuntimeError:  # the worker is shut down: so is the server
            raise Cancelled() from None
        return await future

    async def add_folder(self, root: Path) -> None:
        if not self.server.settings.index.enabled or not root.is_dir():
            return
        # Opening an index loads numpy, hnswlib and pathspec the first time (about 50 ms):
        # on the worker, not the event loop. Folders are opened and forgotten there in the
        # order they were asked for, like every other write.

        def open_index() -> WorkspaceIndex:
            index = self.server.session.open_index(root)
            index.keep_stored_model()  # its vectors answer until a tuned model's are made
            return index

        try:
            index = await self.run(open_index)
        except HearthError as exc:
            self.server.show(f"Hearth: {exc}", types.MessageType.Warning)
            return
        except Cancelled:
            return
        await self.build(index)

    async def settings_changed(self) -> None:
        """Re-open, and bring up to date, every index whose settings the editor changed (an
        exclude pattern, the size caps, the embedding model); the others are left alone."""
        self.tuning.settings_changed()
        wanted = self.settings()
        for root, index in list(self.indexes.items()):
            if index.settings == wanted:
                continue
            log.info("Index settings of %s changed: re-indexing", root)
            await self.remove_folder(root)
            asyncio.ensure_future(self.add_folder(root))

    async def remove_folder(self, root: Path) -> None:
        index = await self.run(self.server.session.forget_index, root)
        if index is not None:
            await self.run(index.close)

    async def build(self, index: WorkspaceIndex) -> IndexStats | None:
        cancel = self.cancel
        async with WorkProgress(self.server, f"Hearth: indexing {index.root.name}",
                                cancel) as progress:
            def report(done: int, total: int) -> None:
                percent = done * 100 // max(total, 1)
                progress.report(f"{done}/{total} files", percent)
                if done == total or done % 20 == 0:
                    self.server.call_soon(self.server.status, "indexing",
                                          f"Indexing {done}/{total}", percentage=percent)
            try:
                stats = await self.run(lambda: index.build(progress=report,
                                                           cancel=lambda: cancel.cancelled))
            except HearthError as exc:
                self.server.show(f"Hearth: indexing {index.root} failed: {exc}",
                                 types.MessageType.Warning)
                return None
            except Cancelled:
                return None
        self.server.status("ready", f"Indexed {stats.files} files, {stats.chunks} chunks")
        if stats.truncated:
            self.server.show(
                f"Hearth indexed only the first {self.settings().max_files:,} files of "
                f"{index.root.name} (hearth.index.maxFiles). Raise it, or leave folders out "
                "with hearth.index.exclude.", types.MessageType.Warning)
        if not stats.cancelled:
            self.tuning.indexed(index)
        self.server.log_to_client(
            f"Hearth indexed {index.root}: {stats.files} files, {stats.chunks} chunks, "
            f"{stats.embedded} embedded, {stats.elapsed_s:.1f} s"
            + (" (rebuilt)" if stats.rebuilt else "")
            + f"; {embedder_note(index, self.tuning.note())}")
        return stats

    async def file_changed(self, path: Path, deleted: bool = False) -> None:
        index = self.index_for(path)
        if index is None:
            return
        try:
            if deleted:
                await self.run(index.remove_file, path.resolve())
            else:
                await self.run(index.update_file, path.resolve())
        except HearthError as exc:
            log.info("Not indexing %s: %s", path, exc)
        except Cancelled:
            pass  # shutting down

    def close(self) -> list[Future]:
        """Stop indexing and save the indexes, without waiting: a build is cancelled at its
        next file, and the worker closes each index after it. Returns the saves' futures;
        callable again, from any thread (`shutdown`, then the exit)."""
        with self._close_lock:
            if self._saving is None:
                self.cancel.cancel()
                self.tuning.close()
                self._saving = [self.worker.submit(index.close)
                                for index in list(self.indexes.values())]
                self.worker.shutdown(wait=False)
            return self._saving


class EmbedderTuning:
    """The code-tuned embedder for one server: made in the background when it is missing
    (core/memory/background_tune.py), then every index moves to it while its old vectors keep
    answering (WorkspaceIndex.stage_model on a thread of its own, then adopt on the writers'
    worker). The tuning process ends with the server (docs/memory.md says why)."""

    def __init__(self, memory: Memory) -> None:
        self.memory = memory
        self.server = memory.server
        self.start_delay_s = TUNE_START_DELAY_S
        self.command: list[str] | None = None  # the tuning program; None: tuner_process
        self.tuner: BackgroundTuner | None = None
        self.state: str | None = None  # what the tuner is doing: "started", "waiting", ...
        self.refusal: str | None = None  # why it does not run, last time it was asked
        self.reindexer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hearth-reindex")
        self._timer: asyncio.TimerHandle | None = None
        self._switching: set[Path] = set()
        self._closed = False

    def note(self) -> str | None:
        """For the index's log line: what is being done about the base model, if anything."""
        if self.state in ("started", "waiting") and self.tuner and self.tuner.running:
            return "the code-tuned one is being made in the background"
        if self._timer is not None:
            return f"the code-tuned one will be made in the background in " \
                   f"{self.start_delay_s:.0f} s"
        if self.refusal:
            return f"not tuning in the background: {self.refusal}; `hearth tune-embedder` " \
                   "makes the code-tuned one"
        return None

    def indexed(self, index: WorkspaceIndex) -> None:
        """After a build: switch to a better model made since, or see that one gets made."""
        if self._closed:
            return
        if (model := index.better_model()) is not None:
            self.switch(index, model)
        elif not index.embedding_model.tuned:
            self.plan()

    def settings_changed(self) -> None:
        if self._closed:
            return
        settings = self.server.settings.index
        refusal = tuning_refusal(settings.tune_in_background, settings.embedding_model)
        if refusal is not None and self.tuner is not None and self.tuner.running:
            self.tuner.stop()
            self.tuner = None
            self.state = None
            self.server.log_to_client(f"Hearth stopped tuning the embedder: {refusal}")
        if refusal is not None:
            self._cancel_timer()
        elif any(not index.embedding_model.tuned for index in self.memory.indexes.values()):
            self.plan()  # turned on again
        self.refusal = refusal

    def plan(self) -> None:
        """Start the tuning after ``start_delay_s``, unless it is refused, running or due."""
        settings = self.server.settings.index
        self.refusal = tuning_refusal(settings.tune_in_background, settings.embedding_model)
        if self.refusal is not None:
            log.info("Not tuning the embedder in the background: %s", self.refusal)
            return
        if self._timer is not None or (self.tuner is not None and self.tuner.running):
            return
        loop = asyncio.get_running_loop()
        self._timer = loop.call_later(self.start_delay_s, self._start)

    def _start(self) -> None:
        self._timer = None
        settings = self.server.settings.index
        self.refusal = tuning_refusal(settings.tune_in_background, settings.embedding_model)
        if self._closed or self.refusal is not None:
            return
        if self.tuner is None:
            self.tuner = BackgroundTuner(
                cache_base(), lambda outcome: self.server.call_soon(self._tuned, outcome),
                command=self.command, backend=self.memory.settings().embedder)
        self.state = self.tuner.start()
        if self.state == "started":
            self.server.log_to_client(
                f"Hearth is making the code-tuned retrieval embedder in the background (pid "
                f"{self.tuner.pid}, lowest priority, once per machine: about 10-20 minutes; "
                f"output in {self.tuner.log_path}). The packaged one answers meanwhile.")
        elif self.state == "waiting":
            self.server.log_to_client(
                "Hearth waits for the code-tuned embedder another process is making.")
        elif self.state == "ready":
            self._tuned(TuneOutcome(None, True, self.tuner.log_path))

    def _tuned(self, outcome: TuneOutcome) -> None:
        """On the event loop, once a tuning ended (ours or another process's)."""
        if self._closed:
            return
        self.state = None
        if outcome.ready:
            for index in list(self.memory.indexes.values()):
                if (model := index.better_model()) is not None:
                    self.switch(index, model)
        elif outcome.code is None or outcome.code == EXIT_BUSY:
            self._start()  # the other tuning ended without a model, or one began meanwhile
        else:
            self.server.log_to_client(
                f"Hearth could not make the code-tuned embedder in the background (exit "
                f"{outcome.code}; see {outcome.log_path}). The packaged one stays in use; "
                "`hearth tune-embedder` makes it by hand.", types.MessageType.Warning)

    def switch(self, index: WorkspaceIndex, model: EmbeddingModel) -> None:
        if index.root in self._switching:
            return
        self._switching.add(index.root)
        asyncio.ensure_future(self._switch(index, model))

    async def _switch(self, index: WorkspaceIndex, model: EmbeddingModel) -> None:
        memory = self.memory

        def stale() -> bool:
            return memory.cancel.cancelled or memory.indexes.get(index.root) is not index

        started = time.perf_counter()
        try:
            staged = await asyncio.get_running_loop().run_in_executor(
                self.reindexer, lambda: index.stage_model(model, cancel=stale))
            if staged is None:
                return
            if stale():
                await memory.run(staged.close)
                return
            await memory.run(index.adopt, staged)
            stats = await memory.run(lambda: index.build(cancel=stale))
        except HearthError as exc:
            self.server.log_to_client(f"Hearth could not move {index.root} to the code-tuned "
                                      f"embedder: {exc}", types.MessageType.Warning)
            return
        except (Cancelled, RuntimeError):  # the server is ending (its workers are shut down)
            return
        finally:
            self._switching.discard(index.root)
        if stats.cancelled:
            return
        self.server.log_to_client(
            f"Hearth now retrieves from {index.root} with the code-tuned embedder "
            f"({stats.chunks} chunks embedded again in {time.perf_counter() - started:.0f} s; "
            "the packaged model's vectors answered until then).")

    def close(self) -> None:
        """From any thread: kill the tuning, stop re-embedding; nothing is reported after."""
        self._closed = True
        if self.tuner is not None:
            self.tuner.stop()
        self.reindexer.shutdown(wait=False, cancel_futures=True)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


def register(server: HearthServer) -> None:
    memory = Memory(server)
    server.memory = memory

    async def start_indexing() -> None:
        folders = server.workspace.folders.values() if server.workspace.folders else []
        roots = [_path(f.uri) for f in folders] or ([server.root] if server.root else [])
        await register_watchers(server)
        for root in roots:
            if root is not None:
                asyncio.ensure_future(memory.add_folder(root))

    server.after_initialized.append(start_indexing)
    server.after_settings_changed.append(memory.settings_changed)

    @server.feature(types.WORKSPACE_DID_CHANGE_WORKSPACE_FOLDERS)
    async def folders_changed(params: types.DidChangeWorkspaceFoldersParams) -> None:
        for folder in params.event.removed:
            if (path := _path(folder.uri)) is not None:
                await memory.remove_folder(path)
        for folder in params.event.added:
            if (path := _path(folder.uri)) is not None:
                asyncio.ensure_future(memory.add_folder(path))

    @server.feature(types.WORKSPACE_DID_CHANGE_WATCHED_FILES)
    async def watched_files(params: types.DidChangeWatchedFilesParams) -> None:
        for change in params.changes:
            if (path := _path(change.uri)) is None:
                continue
            if path.name in ENVIRONMENT_FILES:  # a virtualenv or a linter's settings
                server.session.environment_changed()
            await memory.file_changed(path, change.type == types.FileChangeType.Deleted)

    @server.command("hearth.indexWorkspace")
    async def index_workspace(*args: Any) -> dict[str, Any]:
        if not memory.indexes:
            raise server.user_error(HearthError(
                "There is no workspace folder to index (or index.enabled is false).",
                "Open a folder, or set hearth.index.enabled."))
        results = []
        for index in list(memory.indexes.values()):
            stats = await memory.build(index)
            if stats is not None:
                results.append({"root": str(index.root), "files": stats.files,
                                "chunks": stats.chunks, "embedded": stats.embedded,
                                "elapsed_s": round(stats.elapsed_s, 3)})
        return {"indexes": results}


async def register_watchers(server: HearthServer) -> None:
    """Ask the client to report file changes, when it can register that dynamically."""
    workspace = server.client_capabilities.workspace
    watched = workspace.did_change_watched_files if workspace else None
    if not (watched and watched.dynamic_registration):
        return
    try:
        await server.client_register_capability_async(types.RegistrationParams(registrations=[
            types.Registration(
                id="hearth-watched-files", method=types.WORKSPACE_DID_CHANGE_WATCHED_FILES,
                register_options=types.DidChangeWatchedFilesRegistrationOptions(
                    watchers=[types.FileSystemWatcher(glob_pattern="**/*")]))]))
    except Exception as exc:  # noqa: BLE001 - the index still updates on save
        log.info("The client refused file watching: %s", exc)
