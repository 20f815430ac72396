"""A Session is Hearth for one workspace: the settings, the model backend, the workspace
indexes, the analysis context and the diagnostics policy, assembled once.

The CLI and the language server are thin adapters over it: they turn their input into an
``ActionRequest`` with ``request`` and ask ``run`` for the result.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import astuple, dataclass, replace
from pathlib import Path
from typing import Any

from hearth.core.actions import all_actions
from hearth.core.analysis import Finding as Diagnostic
from hearth.core.analysis.context import AnalysisContext, DiagnosticsPolicy
from hearth.core.cancel import CancelToken
from hearth.core.completion import Completer, CompletionRequest, InlineSuggestion
from hearth.core.errors import HearthError, NoAnswer
from hearth.core.guardrails import AuditLog
from hearth.core.history import History, Retention, cache_key
from hearth.core.history.learn import already_shown
from hearth.core.history.store import errors as history_errors
from hearth.core.memory import WorkspaceIndex
from hearth.core.memory.index import EmbedderPool
from hearth.core.models.backend import ModelBackend
from hearth.core.models.manifest import load_manifest, model_file
from hearth.core.models.registry import make_backend
from hearth.core.pipeline.context import memory_context
from hearth.core.pipeline.defaults import engine_options, warm_up
from hearth.core.pipeline.engine import EngineOptions, run_action
from hearth.core.pipeline.prompt import ContextSnippet
from hearth.core.pipeline.types import (
    Action,
    ActionRequest,
    ActionResult,
    ContextProvider,
    OnText,
    Progress,
    language_of,
)
from hearth.core.text import Pos
from hearth.settings import ModelSettings, Settings, unstructure_settings

log = logging.getLogger(__name__)
Overlay = Callable[[], Mapping[Path, str]]


def diagnostics_policy(settings: Settings) -> DiagnosticsPolicy:
    """The user's diagnostics toggles and disabled security rules (the HG rules are the
    guardrails', not diagnostics)."""
    return DiagnosticsPolicy(
        flake8=settings.diagnostics.flake8, security=settings.diagnostics.security,
        security_in_tests=settings.diagnostics.security_in_tests,
        disabled_rules=tuple(r for r in settings.guardrails.disabled_rules
                             if r.startswith("HS")))


def action_model(settings: Settings, action: Action) -> ModelSettings:
    """The model settings ``action`` runs with: ``model.name`` (or ``model.path``) when the
    user chose one, else the model measured best for the action (``Action.default_model``)."""
    model = settings.model
    if model.backend != "llama-cpp" or model.path:
        return model
    return replace(model, name=model.name or action.default_model or load_manifest().default)


def models_in_use(settings: Settings) -> dict[str, list[str]]:
    """Each local model the actions run on under ``settings`` (``escalateTo`` included), with
    the actions that use it: what `make setup` pulls and `hearth doctor` checks."""
    used: dict[str, list[str]] = {}
    for action in all_actions():
        model = action_model(settings, action)
        if model.backend == "llama-cpp" and not model.path and model.name:
            used.setdefault(model.name, []).append(action.name)
    larger = settings.generation.escalate_to
    if larger and settings.model.backend == "llama-cpp":
        used.setdefault(larger, []).append("escalation")
    model = completion_model(settings)
    if settings.completion.enabled and model.backend == "llama-cpp" and not model.path \
            and model.name:
        used.setdefault(model.name, []).append("completion")
    return used


# Inline completion's model when the settings name none: measured on the completion corpus
# (docs/BENCHMARKS.md, "Inline completion"): the 1.5B model matched the first line 45.0% of 40
# dev positions against the 0.5B model's 22.5%, at 1.7x the cold latency; held out, 46.7% of 30
# against 16.7%.
COMPLETION_MODEL = "qwen2.5-coder-1.5b"


def completion_model(settings: Settings) -> ModelSettings:
    """The model inline completion runs on: ``completion.model``, else ``model.name`` (or
    ``model.path``) when the user chose one for everything, else ``COMPLETION_MODEL``."""
    model = settings.model
    if model.backend != "llama-cpp":
        return model
    if settings.completion.model:
        return replace(model, name=settings.completion.model, path=None)
    if model.path:
        return model
    return replace(model, name=model.name or COMPLETION_MODEL)


@dataclass
class _Held:
    """A backend the session built, for ``model``, and when an action last finished with it
    (``time.monotonic``)."""

    backend: ModelBackend
    model: ModelSettings
    last_used: float
    users: int = 0  # actions running on it now


class Session:
    def __init__(self, settings: Settings, root: Path | None, *,
                 audit: AuditLog | None = None, backend: ModelBackend | None = None,
                 on_problem: Callable[[str], None] | None = None) -> None:
        """``backend``: one the caller made and closes (a benchmark's, shared across runs);
        by default the session builds the backend the settings name, on first use.
        ``on_problem``: told, in a sentence for the user, when the history had to be set
        aside or cannot be written (the action goes on)."""
        self.root = root
        self.audit = audit if audit is not None else AuditLog()
        self.actions: list[Action] = all_actions()
        self._settings = settings
        self.analysis = AnalysisContext(root, diagnostics_policy(settings))
        self.indexes: dict[Path, WorkspaceIndex] = {}
        self.embedders = EmbedderPool()  # shared by the indexes of every folder
        self._given_backend = backend
        # One backend per model the actions use (Generate and Fix may differ), by settings.
        self._backends: dict[tuple, _Held] = {}
        self._pruned_for: Settings | None = None  # the settings _close_unused last ran for
        self.completer = Completer()
        self.on_problem = on_problem or (lambda message: log.warning("%s", message))
        self._history: History | None = None
        self._history_problem: str | None = None  # the last one told to the user

    # -- settings -----------------------------------------------------------------------------
    @property
    def settings(self) -> Settings:
        return self._settings

    def update_settings(self, settings: Settings) -> None:
        """New settings take effect at the next request; the backend is rebuilt when its own
        settings changed, the analysis when the policy did."""
        if self._history is not None and settings.history != self._settings.history:
            self._history.close()
            self._history = None
        self._settings = settings
        policy = diagnostics_policy(settings)
        if policy != self.analysis.policy:
            self.analysis = AnalysisContext(self.root, policy)

    def environment_changed(self) -> None:
        """A virtualenv or the project's configuration changed: analyse afresh."""
        self.analysis.invalidate()

    # -- actions ------------------------------------------------------------------------------
    def action(self, name: str) -> Action:
        for action in self.actions:
            if action.name == name:
                return action
        raise HearthError(f"Unknown Hearth action {name!r}.",
                          "One of: " + ", ".join(a.name for a in self.actions))

    def request(self, source: str, position: Pos, *, path: Path | None = None,
                language_id: str | None = None, end: Pos | None = None,
                instruction: str | None = None, extra: dict[str, Any] | None = None,
                diagnostics: list[Diagnostic] | None = None) -> ActionRequest:
        """A request on this session's workspace, analysed with its policy."""
        return ActionRequest(
            source=source, position=position, end=end, path=path,
            language=language_of(path, language_id) or "text", instruction=instruction,
            workspace=self.root, extra=dict(extra or {}), diagnostics=diagnostics,
            analysis=self.analysis)

    def engine_options(self, action: Action | str | None = None) -> EngineOptions:
        """The settings' options for ``action`` (its own number of samples unless the
        settings name one)."""
        if isinstance(action, str):
            action = self.action(action)
        return engine_options(self.settings, self.audit, self.root, action)

    def run(self, action: Action | str, request: ActionRequest, *,
            cancel: CancelToken | None = None, progress: Progress | None = None,
            overlay: Overlay = dict, use_context: bool = True,
            options: EngineOptions | None = None, on_text: OnText | None = None,
            use_cache: bool = True) -> ActionResult:
        """Run one action to its result (on the inference thread: it loads the model).
        ``options``: instead of the settings' (a benchmark comparing configurations).
        ``on_text``: the answer so far, for an action that streams (run_action's).
        ``use_cache`` False: ask the model even if the history holds this very answer.

        With the history on, the request and its result are stored (result.history_id); the
        same request on the same text, context, settings and model is answered from it
        (result.cached); accepted answers like this one are shown to the model as examples
        and a candidate repeating a rejected one is penalised (docs/history.md)."""
        if isinstance(action, str):
            action = self.action(action)
        start = time.perf_counter()
        options = options or self.engine_options(action)
        history = self.history
        context = self.context_provider(overlay, favoured=self._guarded(history.favoured, set())
                                        ) if use_context else None
        examples = self._guarded(lambda: history.examples(action.name, request), [])
        if examples:
            # An accepted answer kept in the workspace is shown by retrieval already.
            gathered = context(request) if context is not None else []
            context = _fixed(gathered) if context is not None else None
            texts = [request.source] + [snippet.text for snippet in gathered]
            examples = [(entry, past) for entry, past in examples
                        if past.note or not already_shown(past.text, texts)]
        examples += self._guarded(lambda: history.lessons(action.name, request), [])
        shown = [past for _, past in examples]
        check = self._guarded(lambda: history.rejection_check(action.name, request), None)
        if check is not None:
            options = replace(options, validators=options.validators + (check,))
        fingerprint = self.fingerprint(action, options)
        key = None
        if history.cache and use_cache:
            # The context is part of what the answer depends on: gather it once, here.
            snippets = context(request) if context is not None else []
            context = _fixed(snippets) if context is not None else None
            key = cache_key(action.name, request, snippets, fingerprint, shown)
            hit = self._guarded(lambda: history.lookup(key, request), None)
            if hit is not None:
                hit = replace(hit, elapsed_s=time.perf_counter() - start)
                return self._recorded(request, hit, key, fingerprint)
        backend, escalation = self.backend(action), self.escalation_backend(action)
        try:
            with self._using(backend, escalation):
                result = run_action(action, request, backend, options, cancel=cancel,
                                    progress=progress, context_provider=context,
                                    escalation=escalation, on_text=on_text, examples=shown)
        except HearthError as exc:
            message, elapsed = exc.message, time.perf_counter() - start
            entry_id = self._guarded(lambda: history.record_failure(
                request, action.name, message, elapsed, fingerprint), None)
            if isinstance(exc, NoAnswer):
                exc.history_id = entry_id  # the user may say what to do, and ask again
            raise
        if history.store is None:
            return result
        used = [entry.id for entry, _ in examples if entry.id is not None]
        return self._recorded(request, replace(result, examples=used), key, fingerprint)

    def _recorded(self, request: ActionRequest, result: ActionResult, key: str | None,
                  fingerprint: dict[str, Any]) -> ActionResult:
        """``result`` with the id of its new history entry."""
        history = self.history
        if history.store is None:
            return result
        entry_id = self._guarded(lambda: history.record(request, result, key=key,
                                                        fingerprint=fingerprint), None)
        return replace(result, history_id=entry_id)

    def fingerprint(self, action: Action, options: EngineOptions) -> dict[str, Any]:
        """What an action's answer depends on besides the request: the settings that shape
        it and the identity of the models that write it (a model file replaced in place
        changes its size or time)."""
        settings = unstructure_settings(self.settings)
        models = [self.model_for(action)]
        if (larger := self._escalation_model(action)) is not None:
            models.append(larger)
        identity = []
        for model in models:
            if model.backend == "openai":
                identity.append([self.settings.openai.base_url, self.settings.openai.model])
                continue
            try:
                path = Path(model.path).expanduser() if model.path \
                    else model_file(load_manifest().get(model.name or ""))
                stat = path.stat()
                identity.append([str(path), stat.st_size, stat.st_mtime_ns])
            except (HearthError, OSError):
                identity.append([model.name, model.path])
        return {"settings": {name: settings[name] for name in (
                    "model", "openai", "generation", "guardrails", "diagnostics")},
                "options": [options.samples, options.max_tokens, options.confidence_threshold,
                            options.seed, options.generated_tests, options.escalate_when,
                            options.repairs, options.self_check,
                            len(options.validators), options.ranker is not None],
                "models": identity, "given_backend": self._given_backend is not None
                and self._given_backend.name}

    # -- history ------------------------------------------------------------------------------
    @property
    def history(self) -> History:
        """This workspace's history under the current settings (opened on first use)."""
        if self._history is None:
            wanted = self.settings.history
            self._history = History.open(
                self.root, enabled=wanted.enabled, cache=wanted.cache, learn=wanted.learn,
                example_tokens=wanted.example_tokens,
                retention=Retention(wanted.max_age_days, wanted.max_entries,
                                    wanted.max_megabytes),
                on_problem=self.on_problem)
        return self._history

    def _guarded(self, call: Callable[[], Any], default: Any) -> Any:
        """``call()``, or ``default`` when the history cannot be read or written: a full disk
        or a locked file costs the user the history, never the answer."""
        if self.history.store is None:
            return default
        try:
            return call()
        except history_errors() as exc:
            message = (f"Hearth's history is not available ({exc}); actions go on without "
                       "it.")
            if message != self._history_problem:  # once, not for every step of every action
                self._history_problem = message
                self.on_problem(message)
            return default

    def complete(self, request: CompletionRequest, *, cancel: CancelToken | None = None,
                 overlay: Overlay = dict, use_context: bool = True) -> InlineSuggestion:
        """An inline completion at ``request.position`` (on the inference thread: it may load
        the model). ``use_context`` False: the document's window alone, no workspace code."""
        backend = self._given_backend or self._backend_for(completion_model(self.settings))
        provider = self.context_provider(overlay, self.settings.completion.context_tokens) \
            if use_context and self.settings.completion.context_tokens > 0 else None

        def workspace_code(completion: CompletionRequest):
            assert provider is not None
            return provider(self.request(completion.source, completion.position,
                                         path=completion.path, language_id=completion.language))

        with self._using(backend):
            return self.completer.complete(request, backend=backend, settings=self.settings,
                                           context=workspace_code if provider else None,
                                           workspace=self.root, cancel=cancel)

    # -- the model ----------------------------------------------------------------------------
    def model_for(self, action: Action | str) -> ModelSettings:
        return action_model(self.settings, self.action(action) if isinstance(action, str)
                            else action)

    def backend(self, action: Action | str) -> ModelBackend:
        """The backend ``action`` runs on, built on first use and shared by the actions that
        use the same model."""
        if self._given_backend is not None:
            return self._given_backend
        return self._backend_for(self.model_for(action))

    def escalation_backend(self, action: Action | str) -> ModelBackend | None:
        """The larger local model of ``generation.escalateTo`` (built on first use), or None
        when there is none to ask (no setting, a server backend, or the model the action
        already runs on)."""
        if isinstance(action, str):
            action = self.action(action)
        larger = self._escalation_model(action)
        return self._backend_for(larger) if larger is not None else None

    def _escalation_model(self, action: Action) -> ModelSettings | None:
        name = self.settings.generation.escalate_to
        model = self.model_for(action)
        if not name or model.backend != "llama-cpp" or (name == model.name and not model.path):
            return None
        return replace(model, name=name, path=None)

    def _key(self, model: ModelSettings) -> tuple:
        server = astuple(self.settings.openai) if model.backend == "openai" else None
        # How long an unused model stays loaded is no part of which model it is: a change of
        # unloadAfter must not rebuild (and reload) the backends.
        return (astuple(replace(model, unload_after=0)), server)

    def _backend_for(self, model: ModelSettings) -> ModelBackend:
        if self._pruned_for is not self._settings:
            self._close_unused()
            self._pruned_for = self._settings
        key = self._key(model)
        if key not in self._backends:
            self._backends[key] = _Held(make_backend(model, self.settings.openai), model,
                                        time.monotonic())
        return self._backends[key].backend

    def _close_unused(self) -> None:
        """Free the models no action uses under the current settings: at the first use of a
        backend after a change, on the thread that runs the actions, never from the change
        itself while a model may be decoding."""
        wanted = {self._key(self.model_for(a)) for a in self.actions}
        wanted |= {self._key(m) for m in map(self._escalation_model, self.actions) if m}
        wanted.add(self._key(completion_model(self.settings)))
        # One in use is left alone: a completion may run inside another job's checkpoint.
        for key in [key for key, held in self._backends.items()
                    if key not in wanted and not held.users]:
            self._backends.pop(key).backend.close()

    @contextmanager
    def _using(self, *backends: ModelBackend | None) -> Iterator[None]:
        """Mark the session's own ``backends`` busy while an action runs on them, and used
        when it ends: a model's idle time counts from when an action last needed it."""
        held = [h for h in self._backends.values() if any(h.backend is b for b in backends)]
        for h in held:
            h.users += 1
        try:
            yield
        finally:
            now = time.monotonic()
            for h in held:
                h.users -= 1
                h.last_used = now

    def unload_idle(self, now: float | None = None) -> float | None:
        """Free every loaded model that no action has used for ``model.unloadAfter`` seconds
        (its backend stays, and the next action that needs it loads it again).

        Returns the seconds until another loaded model would have been unused that long, when
        to look again; None when no model would (none loaded, or unloadAfter 0). Call it on
        the thread that runs the actions, as the language server does: a model is never
        unloaded while it decodes. A backend given to the session is the caller's, and stays.
        """
        after = self.settings.model.unload_after
        if after <= 0:
            return None
        now = time.monotonic() if now is None else now
        due: list[float] = []
        for held in self._backends.values():
            if not held.backend.loaded:
                continue
            idle = 0.0 if held.users else now - held.last_used
            if idle < after:
                due.append(after - idle)
                continue
            log.info("Unloading %s: unused for %.0f s (model.unloadAfter %d s)",
                     held.model.name or held.model.path or held.model.backend, idle, after)
            held.backend.close()
        return min(due, default=None)

    # -- analysis -----------------------------------------------------------------------------
    def diagnostics(self, source: str, path: Path | None,
                    on_flake8_error: Callable[[HearthError], None] | None = None,
                    ) -> list[Diagnostic]:
        """Every finding the policy asks for in one Python document."""
        return self.analysis.diagnostics(source, path, on_flake8_error)

    def warm_up(self) -> None:
        warm_up(self.analysis)

    # -- workspace memory ---------------------------------------------------------------------
    def open_index(self, root: Path) -> WorkspaceIndex:
        """The index of ``root`` with the current index settings (not yet built)."""
        index = WorkspaceIndex(root, settings=self.settings.index.for_core(),
                               embedders=self.embedders)
        self.indexes[index.root] = index
        return index

    def forget_index(self, root: Path) -> WorkspaceIndex | None:
        """Stop using the index of ``root``; the caller closes it."""
        return self.indexes.pop(root.resolve(), None)

    def index_for(self, path: Path | None) -> WorkspaceIndex | None:
        if path is None:
            return None
        resolved = path.resolve()
        roots = [root for root in self.indexes if resolved.is_relative_to(root)]
        return self.indexes[max(roots, key=lambda r: len(r.parts))] if roots else None

    def context_provider(self, overlay: Overlay = dict,
                         budget_tokens: int | None = None,
                         favoured: set[tuple[str, str]] | None = None,
                         ) -> ContextProvider | None:
        """``favoured``: (file, function) whose code the user accepted, ranked higher."""
        index_settings = self.settings.index
        # The names the code uses need no index; retrieval does (memory_context skips it
        # when there is none).
        return memory_context(self.index_for if index_settings.enabled else lambda path: None,
                              index_settings.context_tokens if budget_tokens is None
                              else budget_tokens, overlay, index_settings.for_core(),
                              favoured=favoured)

    def close(self) -> None:
        if self._history is not None:
            self._history.close()
            self._history = None
        for index in self.indexes.values():
            index.close()
        self.indexes.clear()
        for held in self._backends.values():
            held.backend.close()
        self._backends.clear()


def _fixed(snippets: list[ContextSnippet]) -> ContextProvider:
    """A provider that gives the snippets already gathered (for the cache key)."""
    return lambda request: list(snippets)
