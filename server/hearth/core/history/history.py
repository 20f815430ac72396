"""The history of one workspace as the Session uses it: where it lives, what a request's cache
key is, how a result is stored (redacted) and replayed, and what past answers teach a new
request.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import json
import os
import statistics
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import platformdirs

from hearth import __version__
from hearth.core.analysis.python_targets import function_at
from hearth.core.guardrails import redact_secrets
from hearth.core.history.learn import (
    MAX_EXAMPLES,
    MAX_REJECTED,
    MIN_SIMILARITY,
    function_text,
    repeated_rejection,
    similar_accepted,
)
from hearth.core.history.store import Entry, HistoryStore, Retention
from hearth.core.memory.cache import workspace_key
from hearth.core.pipeline.context import query_for
from hearth.core.pipeline.prompt import ContextSnippet, PastAnswer
from hearth.core.pipeline.scoring import finding
from hearth.core.pipeline.types import (
    ActionRequest,
    ActionResult,
    Candidate,
    Finding,
    Validator,
)
from hearth.core.text import Pos, TextEdit, apply_edits

DATA_ENV = "HEARTH_DATA_DIR"


def data_base() -> Path:
    """The user data folder for "hearth" (platformdirs), or $HEARTH_DATA_DIR."""
    override = os.environ.get(DATA_ENV)
    if override:
        return Path(override).expanduser()
    return platformdirs.user_data_path("hearth", appauthor=False)


def history_path(root: Path | None) -> Path:
    """The database of the workspace at ``root`` (files outside any project share one)."""
    if root is None:
        return data_base() / "history" / "no-project.sqlite3"
    return data_base() / "history" / f"{workspace_key(root)}.sqlite3"


def digest(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def redacted(text: str | None) -> str | None:
    """``text`` with every secret it holds replaced by a placeholder (always: the history
    keeps no secret, whatever the guardrail settings say)."""
    if not text:
        return text
    # The code's own analysis first, then any other secret's format (the same two passes a
    # prompt gets: Redaction.redact adds what the code's analysis left).
    return redact_secrets("").redact(redact_secrets(text).text)


def cache_key(action: str, request: ActionRequest, context: list[ContextSnippet],
              fingerprint: Mapping[str, Any], past: list[PastAnswer] = ()) -> str:
    """What an answer depends on: the action, the document's text and the place in it, the
    instruction and the menu entry's data, the diagnostics the editor showed, the context the
    model would be shown (``context``, and the ``past`` answers and notes from the history),
    and ``fingerprint`` (the settings and the model's identity)."""
    return digest({
        "hearth": __version__, "action": action, "source": digest(request.source),
        "path": str(request.path) if request.path else None, "language": request.language,
        "position": dataclasses.astuple(request.position),
        "end": dataclasses.astuple(request.end) if request.end else None,
        "instruction": request.instruction, "extra": request.extra,
        "diagnostics": [repr(d) for d in request.diagnostics] if request.diagnostics else None,
        "context": [(c.path, c.name, c.start_line, c.end_line, digest(c.text))
                    for c in context],
        "past": [(p.kind, p.name, p.path, digest(p.text), p.note) for p in past],
        "settings": fingerprint})


def function_of(request: ActionRequest, result: ActionResult) -> str | None:
    """The function the answer is about: the result's, else (an instruction on lines of a
    function) the Python function around the request."""
    if result.function or request.language != "python":
        return result.function
    around = function_at(request.source, request.position, request.tree)
    return around.qualname if around is not None else None


def target_of(request: ActionRequest, result: ActionResult) -> str | None:
    if function := function_of(request, result):
        return function
    region = getattr(result.details, "region", None) if result.details is not None else None
    if isinstance(result.details, dict):
        region = result.details.get("region")
    if region:
        return f"lines {region[0] + 1}-{region[1] + 1}"
    return f"line {request.position.line + 1}"


def answer_of(request: ActionRequest, result: ActionResult) -> str | None:
    """The chosen answer's code (the whole function it wrote, where there is one) or
    document, as the user would recognise it."""
    if result.markdown is not None:
        return result.markdown
    if result.new_source is not None:
        whole = function_text(result.new_source, function_of(request, result))
        if whole:
            return whole
    texts = [edit.new_text for edit in result.edits if edit.new_text.strip()]
    texts += [change.new_text for change in result.files]
    return "\n".join(texts) or None


class History:
    """One workspace's history database with the Session's policy: recording, the response
    cache, and learning. ``store`` is None when history is off."""

    def __init__(self, store: HistoryStore | None, *, cache: bool = True, learn: bool = True,
                 example_tokens: int = 512) -> None:
        self.store = store
        self.cache = cache and store is not None
        self.learn = learn and store is not None
        self.example_tokens = example_tokens
        # How alike a past request must be, and how many answers are shown (learn.py's).
        self.min_similarity, self.max_examples = MIN_SIMILARITY, MAX_EXAMPLES

    @classmethod
    def open(cls, root: Path | None, *, enabled: bool, cache: bool, learn: bool,
             example_tokens: int, retention: Retention,
             on_problem: Callable[[str], None] | None = None) -> History:
        store = HistoryStore(history_path(root), retention, on_problem=on_problem) \
            if enabled else None
        return cls(store, cache=cache, learn=learn, example_tokens=example_tokens)

    # -- the response cache ------------------------------------------------------------------
    def lookup(self, key: str, request: ActionRequest) -> ActionResult | None:
        """The stored answer for ``key`` as a result for ``request`` (the same text: the key
        holds its hash), or None; counts the lookup."""
        assert self.store is not None
        entry = self.store.by_cache_key(key)
        self.store.count("cache.lookups")
        if entry is None or entry.result is None:
            return None
        self.store.count("cache.hits")
        result = replay(entry.result, request.source)
        return dataclasses.replace(result, cached=True, cached_from=entry.id)

    # -- recording ---------------------------------------------------------------------------
    def record(self, request: ActionRequest, result: ActionResult, *, key: str | None,
               fingerprint: Mapping[str, Any]) -> int:
        """Store the request and its result (its model, the past answers it was shown), every
        text redacted; the entry's id."""
        assert self.store is not None
        query, _ = query_for(request)
        cacheable = key is not None and not result.files and not result.cached
        entry = Entry(
            action=result.action, title=result.title, source_hash=digest(request.source),
            settings_hash=digest(fingerprint), elapsed_s=result.elapsed_s,
            file=self._shown(request), target=target_of(request, result),
            instruction=redacted(request.instruction), model=result.model,
            cache_key=key, confidence=result.confidence,
            low_confidence=result.low_confidence,
            reasons=[redacted(reason) or "" for reason in result.reasons],
            tokens=result.tokens, target_text=redacted(query),
            answer=redacted(answer_of(request, result)),
            result=stored(result, request.source) if cacheable else None,
            cached=result.cached, used=list(result.examples))
        return self.store.add(entry)

    def record_failure(self, request: ActionRequest, action: str, message: str,
                       elapsed_s: float, fingerprint: Mapping[str, Any]) -> int:
        assert self.store is not None
        query, _ = query_for(request)
        return self.store.add(Entry(
            action=action, title=f"failed: {redacted(message)}",
            source_hash=digest(request.source), settings_hash=digest(fingerprint),
            elapsed_s=elapsed_s, file=self._shown(request),
            target=f"line {request.position.line + 1}",
            instruction=redacted(request.instruction), target_text=redacted(query)))

    @staticmethod
    def _shown(request: ActionRequest) -> str | None:
        if request.path is None:
            return None
        path = request.path.resolve()
        if request.workspace is not None and path.is_relative_to(request.workspace.resolve()):
            return path.relative_to(request.workspace.resolve()).as_posix()
        return str(path)

    # -- learning ----------------------------------------------------------------------------
    def examples(self, action: str, request: ActionRequest) -> list[tuple[Entry, PastAnswer]]:
        """The accepted answers of ``action`` most like the request, each with the user's
        note on it."""
        if not self.learn or self.example_tokens <= 0:
            return []
        assert self.store is not None
        query, _ = query_for(request)
        chosen = similar_accepted(self.store.judged(action), query, self.example_tokens,
                                  exclude_source_hash=digest(request.source),
                                  min_similarity=self.min_similarity,
                                  max_examples=self.max_examples)
        return [(entry, PastAnswer("accepted", f"#{entry.id}, {entry.target}",
                                   entry.file or "another file", entry.taught or "",
                                   note=entry.note))
                for entry in chosen]

    def rejections(self, action: str, request: ActionRequest) -> list[Entry]:
        """The answers the user rejected for this very target (the same file, and the same
        function or lines as text), newest first. Not the same document: while a rejected
        stub stays, the file is unchanged, and the next stub's request was shown the answer
        rejected for another function (bench-memory)."""
        if not self.learn:
            return []
        assert self.store is not None
        file = self._shown(request)
        query, _ = query_for(request)
        text = redacted(query)
        if not text or not text.strip():
            return []
        # A failure (no answer passed the checks) counts when the user said what to do.
        return [entry for entry in self.store.judged(action)
                if entry.rejected and (entry.answer or entry.note) and entry.file == file
                and entry.target_text == text]

    def lessons(self, action: str, request: ActionRequest) -> list[tuple[Entry, PastAnswer]]:
        """The answers the user rejected for this very target, newest first, with their
        notes: shown so that the model does not give them again. (Their notes were also
        shown with similar requests, as rules stated once; on bench-memory that changed as
        many answers for the worse as for the better, for more prompt: docs/history.md.)"""
        if not self.learn:
            return []
        return [(entry, PastAnswer("rejected", f"#{entry.id}, {entry.target}",
                                   entry.file or "another file", entry.answer or "",
                                   note=entry.note, code=entry.action != "explain"))
                for entry in self.rejections(action, request)[:MAX_REJECTED]]

    def rejection_check(self, action: str, request: ActionRequest) -> Validator | None:
        """A validator that marks a candidate repeating an answer the user rejected for this
        target (same file and the same function or lines); None when there is none."""
        rejected = self.rejections(action, request)
        if not rejected:
            return None

        def check(request: ActionRequest, candidate: Candidate) -> list[Finding]:
            code = function_text(candidate.new_source, candidate.function) \
                if candidate.new_source is not None else None
            code = code or candidate.markdown or "\n".join(e.new_text for e in candidate.edits)
            entry = repeated_rejection(redacted(code) or "", rejected)
            if entry is None:
                return []
            return [finding("repeats-rejected",
                            f"repeats answer #{entry.id}, which you marked as "
                            f"{'bad' if entry.feedback == 'bad' else 'undone'}")]
        return check

    def rate(self, entry_id: int, rating: str, note: str | None = None) -> bool:
        """The user's rating of an entry, with their note (redacted: it may quote code);
        False when there is no such entry."""
        assert self.store is not None
        return self.store.set_feedback(entry_id, rating, redacted(note.strip()) if note
                                       and note.strip() else None)

    def favoured(self) -> set[tuple[str, str]]:
        """(file, function) of the answers the user accepted: retrieval ranks them higher."""
        if not self.learn:
            return set()
        assert self.store is not None
        places = set()
        for action in ("generate", "fix"):
            for entry in self.store.judged(action):
                if entry.accepted and entry.file and entry.target \
                        and not entry.target.startswith("line"):
                    places.add((entry.file, entry.target.rsplit(".", 1)[-1]))
        return places

    # -- reading -----------------------------------------------------------------------------
    def stats(self) -> dict[str, Any]:
        if self.store is None:
            return {"enabled": False, "entries": 0, "actions": {},
                    "cache": {"lookups": 0, "hits": 0, "hit_rate": None}}
        entries = self.store.entries()
        actions: dict[str, Any] = {}
        for name in sorted({entry.action for entry in entries}):
            mine = [entry for entry in entries if entry.action == name]
            accepted = sum(entry.accepted for entry in mine)
            rejected = sum(entry.rejected for entry in mine)
            times = [entry.elapsed_s for entry in mine
                     if not entry.cached and not entry.title.startswith("failed")]
            actions[name] = {
                "requests": len(mine), "accepted": accepted, "rejected": rejected,
                "acceptance_rate": round(accepted / (accepted + rejected), 3)
                if accepted + rejected else None,
                "median_s": round(statistics.median(times), 3) if times else None,
                "cached": sum(entry.cached for entry in mine)}
        lookups, hits = self.store.counter("cache.lookups"), self.store.counter("cache.hits")
        return {"enabled": True, "entries": len(entries), "actions": actions,
                "cache": {"lookups": lookups, "hits": hits,
                          "hit_rate": round(hits / lookups, 3) if lookups else None}}

    def close(self) -> None:
        if self.store is not None:
            self.store.close()


def summary(entry: Entry) -> dict[str, Any]:
    """An entry as `hearth history` and the LSP command list it."""
    return {"id": entry.id, "time": datetime.datetime.fromtimestamp(
        entry.time, datetime.timezone.utc).isoformat(timespec="seconds"),
        "action": entry.action, "file": entry.file, "target": entry.target,
        "title": entry.title, "confidence": entry.confidence, "outcome": entry.outcome,
        "feedback": entry.feedback, "cached": entry.cached,
        "elapsed_s": round(entry.elapsed_s, 3), "tokens": entry.tokens,
        "model": entry.model}


def details(entry: Entry) -> dict[str, Any]:
    """Everything stored of an entry (`hearth history show`)."""
    return {**summary(entry), "instruction": entry.instruction, "reasons": entry.reasons,
            "low_confidence": entry.low_confidence, "note": entry.note, "used": entry.used,
            "target_text": entry.target_text, "answer": entry.answer, "final": entry.final,
            "cache_key": entry.cache_key, "source_hash": entry.source_hash}


# -- storing and replaying a result ---------------------------------------------------------
def stored(result: ActionResult, source: str) -> dict[str, Any]:
    """What the response cache needs to give ``result`` again, its texts redacted with the
    placeholders the document's own secrets get (``replay`` puts them back from the same
    document)."""
    redaction = redact_secrets(source)
    return {
        "action": result.action, "title": result.title,
        "edits": [{"start": dataclasses.astuple(e.start), "end": dataclasses.astuple(e.end),
                   "text": redaction.redact(e.new_text)} for e in result.edits],
        "confidence": result.confidence, "low_confidence": result.low_confidence,
        "reasons": [redaction.redact(r) for r in result.reasons], "samples": result.samples,
        "tokens": result.tokens, "elapsed_s": result.elapsed_s,
        "context": [{"path": c.path, "name": c.name, "start_line": c.start_line,
                     "end_line": c.end_line, "score": c.score} for c in result.context],
        "function": result.function,
        "markdown": redaction.redact(result.markdown) if result.markdown is not None else None,
        "method": result.method, "evidence": [redaction.redact(e) for e in result.evidence],
        "model": result.model,
        "details": json.loads(redaction.redact(json.dumps(dataclasses.asdict(result.details))))
        if dataclasses.is_dataclass(result.details) else None,
        "has_new_source": result.new_source is not None}


def replay(data: dict[str, Any], source: str) -> ActionResult:
    """A stored result for ``source`` (the text it was computed for), secrets restored."""
    redaction = redact_secrets(source)
    edits = [TextEdit(Pos(*e["start"]), Pos(*e["end"]), redaction.restore(e["text"]))
             for e in data["edits"]]
    markdown = data.get("markdown")
    return ActionResult(
        action=data["action"], title=data["title"], edits=edits,
        new_source=apply_edits(source, edits) if data.get("has_new_source") else None,
        confidence=data["confidence"], low_confidence=data["low_confidence"],
        reasons=[redaction.restore(r) for r in data["reasons"]], samples=data["samples"],
        tokens=data["tokens"], elapsed_s=data["elapsed_s"],
        context=[ContextSnippet(path=c["path"], name=c["name"], start_line=c["start_line"],
                                end_line=c["end_line"], text="", score=c["score"])
                 for c in data["context"]],
        function=data.get("function"),
        markdown=redaction.restore(markdown) if markdown is not None else None,
        method=data["method"], details=data.get("details"),
        evidence=[redaction.restore(e) for e in data["evidence"]], model=data.get("model"))
