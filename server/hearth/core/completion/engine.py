"""Inline completion: the text the user is about to type, from the local model, at the speed
of typing.

One pass per request: the settings may refuse it; nothing is suggested inside a string that
looks like a secret; a suggestion the user is typing through is served from the cache; else a
fill-in-the-middle prompt (the workspace's code that names what the cursor's code uses, then
the document's window) goes to the model's completion lane, greedy, stopped at the end of the
line or the block; the answer is cut to its shape and checked by the output guardrails.
"""

from __future__ import annotations

import logging
import re
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path

from hearth.core.analysis.python_targets import function_at
from hearth.core.analysis.security import _is_secret_name
from hearth.core.cancel import CancelToken
from hearth.core.completion import prompt as fim
from hearth.core.completion.cache import SuggestionCache
from hearth.core.completion.follow import Decoding, Decodings
from hearth.core.completion.shape import shape_at, stop_rule, trim
from hearth.core.completion.types import CompletionRequest, InlineSuggestion
from hearth.core.guardrails.context import fence_context
from hearth.core.guardrails.output import check_output
from hearth.core.guardrails.secrets import PLACEHOLDER, find_secrets, redact_secrets
from hearth.core.models.backend import GenerationRequest, ModelBackend, SamplingParams
from hearth.core.pipeline.prompt import ContextSnippet
from hearth.core.text import Pos, offset_of, split_lines
from hearth.settings import Settings

log = logging.getLogger(__name__)

CONTEXT_ENTRIES = 16  # regions whose context is kept
REGION_LINES = 32  # outside a function, the context is chosen once per this many lines
LINE_TOKENS = 48  # decoded at most for one line
BLOCK_LINE_TOKENS = 24  # and per line of a block
# Worth a look by the output guardrails (the whole document is checked then): names of the
# constructs they reject. Anything else cannot add one.
_RISKY = re.compile(r"system|exec|eval|popen|subprocess|shell|rmtree|remove|unlink|pickle|"
                    r"marshal|getattr|__import__|compile|socket|request|urlopen|chmod|kill|"
                    r"yaml|tempfile|mktemp|hashlib|md5|sha1|random|assert|input|open",
                    re.IGNORECASE)
# An opening quote after a secret-sounding name: `api_key = "`, `"password": '`, `token=f"`.
_SECRET_STRING = re.compile(
    r"(?P<name>[A-Za-z_][\w.-]*)[\"'\]]*\s*(?::=|=>|=|:)\s*[rRbBuUfF]{0,2}[\"'`][^\"'`]*$")

# What the prompt stops before: the word or symbol that ends the typed text, or, on a line
# with nothing but indentation typed, the line break and the indentation (the model writes the
# break and the indentation as one token; a prompt ending in the spaces alone made it indent
# deeper than the line in 5 of 20 line starts of the benchmark).
_HEAL = re.compile(r"(?:\r?\n[ \t]*|\w+|[^\w\s])?$")

ContextSource = Callable[[CompletionRequest], Sequence[ContextSnippet]]


class Completer:
    """Inline completion for one Session: the suggestions made and the context chosen per
    region of a document are kept here (bounded), nowhere else."""

    def __init__(self, order: fim.Order = "psm") -> None:
        # The prompt's order (prompt.py); "psm" measured best (docs/completion.md).
        self.order = order
        self.cache = SuggestionCache()
        # The answers being written, which a request typed along them may wait for.
        self.decodings = Decodings()
        # (document, budget, first line, last line) -> the context files and their labels
        self._context: OrderedDict[tuple, tuple[list[fim.ContextFile], list[str]]] = \
            OrderedDict()

    def forget(self, path: Path | None) -> None:
        """The document closed: drop what was kept for it."""
        document = _document(path)
        self.cache.forget(document)
        for key in [key for key in self._context if key[0] == document]:
            del self._context[key]

    def answer_at_once(self, request: CompletionRequest,
                       settings: Settings) -> InlineSuggestion | None:
        """The answer when it needs no model: refused by the settings, inside a secret-named
        string, or a suggestion being typed through (the cache); None otherwise. Cheap and
        safe from any thread: the language server asks it before it queues the model."""
        start = time.perf_counter()
        refusal = refused(request, settings)
        if refusal:
            return InlineSuggestion("", why_empty=refusal)
        if secret_string_at(request.source, request.position):
            return InlineSuggestion("", why_empty="inside a string that looks like a secret")
        options = settings.completion
        before, after = fim.window(request.source, request.position, options.prefix_lines,
                                   options.suffix_lines)
        hit = self.cache.get(_document(request.path), before, after)
        if hit is None:
            return None
        text, multiline = hit
        return InlineSuggestion(text, multiline=multiline, cached=True,
                                elapsed_s=time.perf_counter() - start)

    def following(self, request: CompletionRequest, settings: Settings) -> Decoding | None:
        """The model answer in flight that ``request`` continues: asked at an earlier point
        of the same line, and what was typed since agrees with what it has written so far.
        The caller waits for it to end, then asks ``answer_at_once`` (its cache) for the rest;
        if the model writes something else than what was typed, it is cancelled at once."""
        options = settings.completion
        before, after = fim.window(request.source, request.position, options.prefix_lines,
                                   options.suffix_lines)
        return self.decodings.following(_document(request.path), before, after)

    def complete(self, request: CompletionRequest, *, backend: ModelBackend,
                 settings: Settings, context: ContextSource | None = None,
                 workspace: Path | None = None,
                 cancel: CancelToken | None = None) -> InlineSuggestion:
        start = time.perf_counter()
        early = self.answer_at_once(request, settings)
        if early is not None:
            early.model = backend.name if early.cached else ""
            return early
        options = settings.completion
        shape = shape_at(request.source, request.position, request.mode, options.max_lines)
        before, after = fim.window(request.source, request.position, options.prefix_lines,
                                   options.suffix_lines)
        document = _document(request.path)
        files, labels = self._context_for(request, context, options.context_tokens, settings)
        redaction = redact_secrets(before + after, settings.guardrails)
        files = [fim.ContextFile(f.path, redaction.redact(f.text)) for f in files]
        shown = redaction.redact(before)
        # Token healing: the prompt stops before the word (or indentation) being typed, and
        # the model must write it again first; a prompt that ends inside one of its tokens
        # reads to it like text it has never seen.
        heal = _HEAL.search(shown).group() if getattr(backend, "heals", False) else ""
        prompt = fim.build(shown[:len(shown) - len(heal)], redaction.redact(after),
                           path=_shown_path(request.path, workspace), context=files,
                           order=self.order, repo=workspace.name if workspace else "")
        budget = LINE_TOKENS if not shape.multiline else BLOCK_LINE_TOKENS * shape.max_lines
        # A single line ends at its line break: said as a stop as well as by ``stop_when``, a
        # server ends the answer itself and then reports its usage, which a stream the client
        # breaks off never carries.
        stops = fim.STOPS if shape.multiline or heal else (*fim.STOPS, "\n")
        params = SamplingParams(temperature=0.0, repeat_penalty=1.0, max_tokens=budget,
                                stop=stops)
        decoding = Decoding(document, before, after, heal=heal, cancel=cancel,
                            multiline=shape.multiline)
        self.decodings.start(decoding)
        try:
            answer = backend.generate(GenerationRequest(
                messages=[], params=[params], raw_prompt=prompt.text, lane="completion",
                heal=heal, stop_when=stop_rule(shape, heal)), cancel=cancel,
                on_token=decoding.wrote)[0]
        finally:
            self.decodings.end(decoding)
        written = answer.text
        if heal:
            written = written[len(heal):] if written.startswith(heal) else ""
        text = trim(written, shape)
        why = ""
        if text:
            why = self._unsafe(text, request, settings)
            if why:
                text = ""
        else:
            why = "the model suggested nothing new here"
        if text:
            self.cache.put(document, before, after, text, shape.multiline)
        return InlineSuggestion(text, multiline=shape.multiline and "\n" in text,
                                tokens=answer.tokens, elapsed_s=time.perf_counter() - start,
                                prompt=answer.prompt, context=labels, model=backend.name,
                                why_empty=why)

    # -- context ------------------------------------------------------------------------------
    def _context_for(self, request: CompletionRequest, source: ContextSource | None,
                     budget: int, settings: Settings,
                     ) -> tuple[list[fim.ContextFile], list[str]]:
        """The workspace code for the cursor's region, chosen once per region: a context that
        changed with every key would make the model evaluate the whole prompt again."""
        if source is None or budget <= 0:
            return [], []
        document, line = _document(request.path), request.position.line
        # A region already chosen that holds the cursor's line is reused without parsing the
        # file again (a few lines of slack: the function grows as the user types in it).
        for key in reversed(self._context):
            if key[0] == document and key[1] == budget and key[2] <= line <= key[3] + 2:
                self._context.move_to_end(key)
                return self._context[key]
        first, last = _region(request)
        try:
            found = source(request)
        except Exception:  # noqa: BLE001 - a suggestion without context beats none at all
            log.warning("Inline completion goes on without workspace context", exc_info=True)
            found = []
        snippets, _ = fence_context(found, settings.guardrails)
        files = [fim.ContextFile(s.path, s.text) for s in snippets]
        labels = [f"{s.path}:{s.start_line}-{s.end_line} {s.name}" for s in snippets]
        self._context[(document, budget, first, last)] = (files, labels)
        while len(self._context) > CONTEXT_ENTRIES:
            self._context.popitem(last=False)
        return files, labels

    # -- output -------------------------------------------------------------------------------
    def _unsafe(self, text: str, request: CompletionRequest, settings: Settings) -> str:
        """Why ``text`` must not be shown, or "": never a secret (the user's, redacted, or one
        the model saw elsewhere in the workspace), never what the output guardrails block."""
        if PLACEHOLDER.search(text) or find_secrets(text, python=False):
            return "the suggestion held a secret"
        if request.language != "python" or settings.guardrails.policy == "off" \
                or not _RISKY.search(text):
            return ""
        offset = offset_of(split_lines(request.source), request.position)
        after = request.source[:offset] + text + request.source[offset:]
        blocked = [f for f in check_output(request.source, after, pure=False,
                                           settings=settings.guardrails) if f.fatal]
        return f"blocked by the guardrails: {blocked[0].reason}" if blocked else ""


def refused(request: CompletionRequest, settings: Settings) -> str:
    """Why the settings refuse ``request``, or ""."""
    options = settings.completion
    if not options.enabled:
        return "completion.enabled is off"
    if request.language in options.disabled_languages:
        return f"completion is off for {request.language} (completion.disabledLanguages)"
    if options.trigger == "onRequest" and request.trigger == "automatic":
        return "completion.trigger is onRequest"
    return ""


def secret_string_at(source: str, position: Pos) -> bool:
    """Whether the cursor is inside a string assigned to a secret-sounding name."""
    lines = split_lines(source)
    if position.line >= len(lines):
        return False
    before = lines[position.line][:position.col]
    match = _SECRET_STRING.search(before)
    if match is None:
        return False
    name = re.split(r"[.$-]", match.group("name"))[-1]
    return _is_secret_name(name)


def _document(path: Path | None) -> str:
    return str(path) if path is not None else "<untitled>"


def _region(request: CompletionRequest) -> tuple[int, int]:
    """The lines (0-based, inclusive) whose context is the same as the cursor's: its
    function's, or a band of REGION_LINES lines outside one (or in another language)."""
    if request.language == "python":
        try:
            target = function_at(request.source, request.position, None)
        except (SyntaxError, ValueError):  # text mid-edit need not parse
            target = None
        if target is not None:
            return target.def_line, target.end_line
    first = request.position.line // REGION_LINES * REGION_LINES
    return first, first + REGION_LINES - 1


def _shown_path(path: Path | None, workspace: Path | None) -> str:
    if path is None:
        return "untitled"
    if workspace is not None:
        try:
            return str(path.resolve().relative_to(workspace.resolve()))
        except ValueError:
            pass
    return path.name
