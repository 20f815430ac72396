"""``textDocument/inlineCompletion`` (LSP 3.18): ghost text as the user types.

Advertised only to clients that declare the capability. A newer request for a document answers
the older one with nothing (the editor's own ``$/cancelRequest`` does the same). The model
answer being written is kept when the newer request was typed along it (the keys typed agree
with what the model has written so far: core.completion.follow): the newer request waits for
it and takes the rest from the suggestion cache. Otherwise the answer is cancelled (its
decoding stops within a step), as it is once no request has waited for it for
ORPHAN_GRACE_S. The job runs first on the inference queue, and between the decode steps of an
action already running (core.inference). An answer computed for a document that changed
meanwhile is dropped.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from pathlib import Path

from lsprotocol import types
from pygls.uris import to_fs_path

from hearth.core.cancel import Cancelled, CancelToken
from hearth.core.completion import CompletionRequest, InlineSuggestion
from hearth.core.errors import HearthError
from hearth.core.inference import Priority
from hearth.core.pipeline.types import LSP_LANGUAGE_IDS
from hearth.core.text import split_lines
from hearth.lsp.convert import to_core
from hearth.lsp.server import MAX_DOCUMENT_CHARS, HearthServer, request_failed
from hearth.lsp.typing_rhythm import TypingRhythm
from hearth.lsp.workspace import document_key

log = logging.getLogger(__name__)

# While keys come in a burst, a request waits half the usual gap between them (at most this
# long) before it starts the model: one that the next key would cancel costs nothing then.
# After a pause it starts at once.
MAX_WAIT_S = 0.08
BURST_GAP_S = 0.6
GAPS_KEPT = 6
RECENT_KEPT = 1000
STATS_METHOD = "hearth/completionStats"
# A model answer no request waits for any more is cancelled after this long: an editor cancels
# the request of the previous key just before it sends the next one, which may follow it.
ORPHAN_GRACE_S = 0.2


class _Job:
    """A model answer being written for one document, and how many requests wait for it."""

    def __init__(self, future: asyncio.Future, cancel: CancelToken) -> None:
        self.future = future
        self.cancel = cancel
        self.waiters = 0
        self.orphaned: asyncio.TimerHandle | None = None

    def adopted(self) -> None:
        self.waiters += 1
        if self.orphaned is not None:
            self.orphaned.cancel()
            self.orphaned = None

    def released(self) -> None:
        self.waiters -= 1
        if self.waiters <= 0 and not self.future.done() and self.orphaned is None:
            self.orphaned = asyncio.get_running_loop().call_later(ORPHAN_GRACE_S, self._orphan)

    def _orphan(self) -> None:
        self.orphaned = None
        if self.waiters <= 0:
            self.cancel.cancel()


class Completions:
    """The server's inline completion state: the request in flight per document and the
    rhythm of requests (owned by the server, forgotten with the document)."""

    def __init__(self) -> None:
        self.in_flight: dict[str, CancelToken] = {}  # the newest request per document
        self.jobs: dict[str, _Job] = {}  # the model answer being written per document
        self._rhythm = TypingRhythm(pause_s=BURST_GAP_S, kept=GAPS_KEPT)
        # The last answers' figures, for `hearth/completionStats` (the benchmark reads them).
        self.recent: deque[dict[str, object]] = deque(maxlen=RECENT_KEPT)

    def record(self, result: InlineSuggestion, followed: bool = False) -> None:
        self.recent.append({"cached": result.cached, "followed": followed,
                            "tokens": result.tokens,
                            "elapsedMs": round(result.elapsed_s * 1000, 1),
                            "promptTokens": result.prompt.tokens,
                            "promptEvaluated": result.prompt.evaluated,
                            "chars": len(result.text), "whyEmpty": result.why_empty})

    def wait_for(self, key: str, now: float) -> float:
        median = self._rhythm.record(key, now)
        return 0.0 if median is None else min(MAX_WAIT_S, median / 2)

    def supersede(self, key: str, token: CancelToken) -> None:
        previous = self.in_flight.get(key)
        self.in_flight[key] = token
        if previous is not None:
            previous.cancel()

    def done(self, key: str, token: CancelToken) -> None:
        if self.in_flight.get(key) is token:
            del self.in_flight[key]

    def start(self, key: str, job: _Job) -> None:
        """``job`` writes the document's answer now: the one it replaces is cancelled."""
        previous = self.jobs.get(key)
        self.jobs[key] = job
        job.adopted()
        if previous is not None:
            previous.cancel.cancel()
        job.future.add_done_callback(lambda _: self._ended(key, job))

    def adopt(self, key: str, cancel: CancelToken | None) -> _Job | None:
        """The document's job, if it is still writing the answer whose token is ``cancel``."""
        job = self.jobs.get(key)
        if job is None or job.future.done() or job.cancel is not cancel or cancel.cancelled:
            return None
        job.adopted()
        return job

    def stop_job(self, key: str) -> None:
        job = self.jobs.get(key)
        if job is not None:
            job.cancel.cancel()

    def _ended(self, key: str, job: _Job) -> None:
        if self.jobs.get(key) is job:
            del self.jobs[key]
        if job.orphaned is not None:
            job.orphaned.cancel()
        if not job.future.cancelled():
            job.future.exception()  # read by the requests that waited, or by nobody

    def forget(self, key: str) -> None:
        token = self.in_flight.pop(key, None)
        if token is not None:
            token.cancel()
        self.stop_job(key)
        self._rhythm.forget(key)


async def _until_done(future: asyncio.Future, cancel: CancelToken) -> None:
    """Wait for ``future``, or for ``cancel`` (this request's), whichever comes first."""
    if cancel.cancelled:
        return
    loop = asyncio.get_running_loop()
    stopped = loop.create_future()

    def wake() -> None:
        if not stopped.done():
            stopped.set_result(None)

    def woken() -> None:
        try:
            loop.call_soon_threadsafe(wake)
        except RuntimeError:  # the loop has closed: nobody is waiting
            pass

    cancel.on_cancel(woken)
    await asyncio.wait({future, stopped}, return_when=asyncio.FIRST_COMPLETED)


def client_declares(server: HearthServer) -> bool:
    text_document = server.client_capabilities.text_document
    return text_document is not None and text_document.inline_completion is not None


def register(server: HearthServer) -> None:
    server.completions = Completions()

    @server.feature(types.TEXT_DOCUMENT_INLINE_COMPLETION, types.InlineCompletionOptions())
    async def inline_completion(params: types.InlineCompletionParams,
                                ) -> types.InlineCompletionList | None:
        uri = params.text_document.uri
        document = server.document(uri)
        if document is None:
            raise request_failed(f"{uri} is not open in the editor.")
        source = document.source
        if len(source) > MAX_DOCUMENT_CHARS:
            return None
        key = document_key(uri)
        state: Completions = server.completions
        cancel = CancelToken()
        state.supersede(key, cancel)
        job_id = server.track_job(cancel)
        try:
            invoked = params.context.trigger_kind == types.InlineCompletionTriggerKind.Invoked
            wait = 0.0 if invoked else state.wait_for(key, time.monotonic())
            encoding = server.workspace.position_encoding or types.PositionEncodingKind.Utf16
            path = Path(to_fs_path(uri)) if uri.startswith("file:") else None
            request = CompletionRequest(
                source=source, position=to_core(split_lines(source), params.position, encoding),
                path=path, language=LSP_LANGUAGE_IDS.get(document.language_id,
                                                         document.language_id or "text"),
                trigger="invoked" if invoked else "automatic")
            session = server.session
            # A suggestion being typed through (or a refusal) is answered at once, before
            # any wait and without the inference queue.
            result: InlineSuggestion | None = session.completer.answer_at_once(
                request, session.settings)
            followed = False
            decoding = session.completer.following(request, session.settings) \
                if result is None else None
            job = state.adopt(key, decoding.cancel) if decoding is not None else None
            if job is None:
                state.stop_job(key)  # an answer for text the user did not type
            else:
                # Typed along the answer being written: wait for it, then take the rest
                # from the cache (nothing when the model wrote something else).
                try:
                    await _until_done(job.future, cancel)
                finally:
                    job.released()
                if cancel.cancelled:
                    return None
                result = session.completer.answer_at_once(request, session.settings)
                followed = result is not None
            if result is None:
                if wait:
                    await asyncio.sleep(wait)
                if cancel.cancelled:
                    return None
                overlay = server.memory.overlay if server.memory is not None else dict
                job_cancel = CancelToken()
                job = _Job(asyncio.ensure_future(server.run_inference(
                    lambda token: session.complete(request, cancel=token, overlay=overlay),
                    job_cancel, priority=Priority.URGENT)), job_cancel)
                state.start(key, job)
                try:
                    await _until_done(job.future, cancel)
                finally:
                    job.released()
                if cancel.cancelled or job.future.cancelled():
                    return None
                try:
                    result = job.future.result()
                except Cancelled:
                    return None
                except HearthError as exc:
                    raise server.user_error(exc) from None
        finally:
            server.untrack_job(job_id)
            state.done(key, cancel)
        now = server.document(uri)
        if now is None or now.version != document.version or now.source != source:
            return None  # the user typed on: this answer is for text that is gone
        log.debug("Inline completion %s: %r (%s, %.0f ms, prompt %d tokens, %s evaluated)",
                  uri, result.text[:80], "cached" if result.cached else result.why_empty or
                  "model", result.elapsed_s * 1000, result.prompt.tokens,
                  result.prompt.evaluated)
        state.record(result, followed)
        if not result.text:
            return types.InlineCompletionList(items=[])
        return types.InlineCompletionList(items=[types.InlineCompletionItem(
            insert_text=result.text,
            range=types.Range(params.position, params.position))])

    @server.feature(STATS_METHOD)
    def completion_stats(*params: object) -> dict[str, object]:
        """The figures of the latest answers (at most RECENT_KEPT), oldest first."""
        return {"recent": list(server.completions.recent)}
