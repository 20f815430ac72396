"""The data every step of the pipeline and every action shares: a request, a menu offer, a
candidate answer, a result, and the shape of an action as the engine sees it.

They live below both the pipeline's steps and the actions, so imports run one way: actions use
the pipeline, never the reverse.
"""

from __future__ import annotations

import ast
import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol, TypeVar

from hearth.core.analysis import Finding as Diagnostic
from hearth.core.analysis.checks import Finding
from hearth.core.analysis.context import AnalysisContext
from hearth.core.models.backend import Completion, PromptUse
from hearth.core.pipeline.prompt import ContextSnippet, Prompt
from hearth.core.text import Pos, TextEdit

__all__ = ["Action", "ActionRequest", "ActionResult", "Candidate", "ContextProvider",
           "Diagnostic", "Example", "FileChange", "Finding", "FunctionNode", "Offer", "OnText",
           "Progress", "Ranker", "Validator", "language_of"]

LANGUAGE_BY_SUFFIX = {
    ".py": "python", ".pyi": "python", ".js": "javascript", ".mjs": "javascript",
    ".cjs": "javascript", ".jsx": "javascript", ".ts": "typescript", ".tsx": "typescript",
    ".java": "java", ".c": "c", ".h": "c", ".cc": "cpp", ".cpp": "cpp", ".cxx": "cpp",
    ".hpp": "cpp", ".hh": "cpp", ".go": "go", ".rs": "rust", ".sql": "sql",
}
LSP_LANGUAGE_IDS = {"python": "python", "javascript": "javascript",
                    "javascriptreact": "javascript", "typescript": "typescript",
                    "typescriptreact": "typescript", "java": "java", "c": "c", "cpp": "cpp",
                    "go": "go", "rust": "rust", "sql": "sql"}


def language_of(path: Path | None, language_id: str | None = None) -> str | None:
    if language_id and language_id in LSP_LANGUAGE_IDS:
        return LSP_LANGUAGE_IDS[language_id]
    if path is not None:
        return LANGUAGE_BY_SUFFIX.get(path.suffix.lower())
    return None


@dataclass(frozen=True)
class Example:
    """A check the ranker runs on every candidate: ``call`` (Python source) should evaluate to
    the literal ``expect``, or raise ``raises`` (an exception class name; subclasses count).
    ``line`` is where it was read; ``origin`` is "docstring", "instruction" or "note" (the
    user's own words, in the docstring, the request, or their note on a rejected answer to it,
    mined by pipeline.examples) or "generated" (a test the model wrote,
    pipeline.generated_tests)."""

    call: str
    expect: str | None
    raises: str | None
    line: str
    origin: str = "docstring"

    def describe(self) -> str:
        if self.raises:
            return f"`{self.call}` raises {self.raises}"
        return f"`{self.call}` is `{self.expect}`"


@dataclass
class ActionRequest:
    source: str
    position: Pos
    path: Path | None = None
    language: str = "python"
    end: Pos | None = None  # the end of a selection, when there is one
    instruction: str | None = None
    workspace: Path | None = None
    # The diagnostics the editor shows here (LSP: the code action's context); None: compute.
    diagnostics: list[Diagnostic] | None = None
    # What the offer carried (Offer.data), so that resolve does what the menu said.
    extra: dict[str, Any] = field(default_factory=dict)
    # The workspace's analysis state (policy, jedi); the Session passes its own.
    analysis: AnalysisContext = field(default_factory=AnalysisContext)
    # Tests the model wrote from the docstring (pipeline.generated_tests), set by the engine
    # when the settings ask for them, run by the ranker beside the docstring's own examples.
    generated_checks: tuple[Example, ...] = ()
    # The user's notes on the answers they rejected for this very request (the history), set
    # by the engine: the ranker reads examples in them as it reads the instruction's.
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.analysis.workspace is None and self.workspace is not None:
            self.analysis = AnalysisContext(self.workspace, self.analysis.policy)

    @property
    def selection(self) -> tuple[Pos, Pos] | None:
        if self.end is not None and self.end != self.position:
            return (min(self.position, self.end), max(self.position, self.end))
        return None

    @property
    def tree(self) -> ast.Module | None:
        """The source parsed (None if it does not parse), once per text by the workspace's
        analysis context. Shared by every action listing its menu entries: read it, never
        change it."""
        return self.analysis.parse(self.source)


@dataclass(frozen=True)
class Offer:
    """One entry for the quick-fix menu: its title and what resolving it needs to know."""

    title: str
    data: dict[str, Any] = field(default_factory=dict)
    diagnostics: tuple[Diagnostic, ...] = ()  # the diagnostics a fix addresses


@dataclass
class FileChange:
    """A whole-file change to a file other than the request's (Generate tests' test file)."""

    path: Path
    new_text: str
    old_text: str | None  # None: the file is created


@dataclass
class Candidate:
    """One answer, as edits, with what the checks found in it.

    The shared checks read the typed fields (``function``, ``region``); what only one action
    reports lives in its own dataclass in ``details``.
    """

    completion: Completion | None
    edits: list[TextEdit] = field(default_factory=list)
    new_source: str | None = None
    files: list[FileChange] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    # What speaks for it, in words the user can check ("passes the 2 examples in its
    # docstring"); the findings are what speaks against it.
    evidence: list[str] = field(default_factory=list)
    checks_passed: int = 0  # docstring examples and useful generated tests it passes
    confidence: float = 0.0
    function: str | None = None  # the function the answer (re)writes, by qualified name
    region: tuple[int, int] | None = None  # Fix: 0-based first and last line rewritten
    markdown: str | None = None  # Explain: the answer as a document
    method: str = "model"  # "rule": a textbook answer, no model asked
    self_check: float | None = None  # P(yes) when the model reviewed it (pipeline.review)
    details: Any = None  # the action's own dataclass (FixDetails, TestsDetails, ...)

    @property
    def usable(self) -> bool:
        return not any(f.fatal for f in self.findings)


@dataclass
class ActionResult:
    action: str
    title: str
    edits: list[TextEdit]
    new_source: str | None
    confidence: float | None
    low_confidence: bool
    reasons: list[str]
    samples: int
    tokens: int
    elapsed_s: float
    context: list[ContextSnippet] = field(default_factory=list)
    files: list[FileChange] = field(default_factory=list)
    function: str | None = None
    markdown: str | None = None
    method: str = "model"
    details: Any = None
    evidence: list[str] = field(default_factory=list)
    model: str | None = None  # the model whose answer this is (None: a rule's)
    # The prompt tokens of every model request the run made, and how many of them the
    # backend reused from its cache (None: the model was not asked).
    prompt: PromptUse | None = None
    # The history (core.history): this answer's entry, whether the response cache gave it
    # (and which entry's answer it repeats), and the past answers shown as examples.
    history_id: int | None = None
    cached: bool = False
    cached_from: int | None = None
    examples: list[int] = field(default_factory=list)

    def report(self) -> dict[str, Any]:
        """What the CLI's --json and the LSP command's answer say about the result beyond
        its edits: the method, the prompt tokens evaluated, why it is (or is not) trusted,
        the action's details, the explanation."""
        out: dict[str, Any] = {"method": self.method} if self.method != "model" else {}
        if self.model is not None:
            out["model"] = self.model
        if self.prompt is not None and self.prompt.tokens:
            out["prompt_tokens"] = self.prompt.tokens
            if self.prompt.reused is not None:
                out["prompt_tokens_reused"] = self.prompt.reused
                out["prompt_tokens_evaluated"] = self.prompt.evaluated
        if self.evidence:
            out["evidence"] = list(self.evidence)
        if self.function is not None:
            out["function"] = self.function
        if dataclasses.is_dataclass(self.details):
            out.update(dataclasses.asdict(self.details))
        elif isinstance(self.details, dict):  # a cached result's, as it was stored
            out.update(self.details)
        if self.history_id is not None:
            out["history_id"] = self.history_id
        if self.cached:
            out["cached"] = True
            out["cached_from"] = self.cached_from
        if self.examples:
            out["examples"] = list(self.examples)
        if self.markdown is not None:
            out["markdown"] = self.markdown
        return out


@dataclass(frozen=True)
class TestsRequest:
    """Tests to ask the model for: the prompt, and how to read its answer into checks."""

    prompt: Prompt
    parse: Callable[[str], list[Example]]


Progress = Callable[[str, "int | None"], None]  # (message, percentage)
# Called with the whole answer so far (the action's ``preview`` of it) while the first sample
# is decoded; on the thread that decodes, so it must return at once. Only an action that
# ``streams`` (Explain) has a preview worth showing whole; the others' texts are code that no
# check has seen yet, shown as a progress line at most.
OnText = Callable[[str], None]
ContextProvider = Callable[[ActionRequest], list[ContextSnippet]]
# Checks shared by every action, run on each usable candidate after the action's own.
Validator = Callable[[ActionRequest, Candidate], list[Finding]]
# Orders candidates best first (after scoring); the default is by confidence.
Ranker = Callable[[ActionRequest, list[Candidate]], list[Candidate]]
FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef

T = TypeVar("T")


class Action(Protocol[T]):
    """What the engine, the CLI and the LSP layer may ask of an action; every member is
    declared here (``hearth.core.actions.base.BaseAction`` gives the optional ones defaults).

    ``T`` is the action's target: what ``resolve`` found at the request's position, computed
    once per run and handed to every later step.
    """

    name: ClassVar[str]  # "generate": the CLI subcommand
    command: ClassVar[str]  # "hearth.generate": the LSP command
    title: ClassVar[str]  # "Hearth: Generate implementation"
    kind: ClassVar[str]  # the LSP code action kind: "quickfix", "refactor.rewrite", ...
    languages: ClassVar[frozenset[str]]  # where it is offered
    cli_help: ClassVar[str]  # one line for `hearth --help`
    makes_edits: ClassVar[bool]  # False: the result is a document (Explain), not an edit
    takes_instruction: ClassVar[bool]  # the request may carry a free-text instruction
    # At most this many samples, whatever generation.samples says (None: no limit): Explain's
    # candidates have nothing to be ranked by but their sections, so more of them only cost.
    max_samples: ClassVar[int | None]
    # What the action asks when the settings name no model (``model.name``) and no number of
    # samples (``generation.samples``): the choice measured for it (docs/quality.md). A model
    # name from the manifest; None: the manifest's default.
    default_model: ClassVar[str | None]
    default_samples: ClassVar[int]
    # The answer is a document worth reading while it is written (Explain): run_action's
    # ``on_text`` is handed its ``preview`` as the model goes.
    streams: ClassVar[bool]

    def offers(self, request: ActionRequest) -> list[Offer]:
        """What to list in the quick-fix menu here (often nothing). Must be cheap: no model."""

    def resolve(self, request: ActionRequest) -> T:
        """The target at the request's position; raises HearthError when there is none."""

    def title_for(self, target: T) -> str:
        """The result's title for this target."""

    def rule_answers(self, request: ActionRequest, target: T) -> list[Completion]:
        """Answers known without the model (a textbook fix), checked like the model's."""

    def prompt(self, request: ActionRequest, target: T, context: list[ContextSnippet],
               max_tokens: int) -> Prompt:
        """What to ask the model; raises HearthError when the request cannot be served."""

    def candidate(self, request: ActionRequest, target: T,
                  completion: Completion) -> Candidate:
        """Turn one sample into edits, with the action's own findings."""

    def finish(self, target: T, best: Candidate, context: list[ContextSnippet]) -> None:
        """Last touches to the chosen candidate (Explain lists the context it used)."""

    def preview(self, request: ActionRequest, target: T, text: str) -> str:
        """What to show of an answer the model is still writing (``text``: its text so far,
        the prefill included), for actions that ``stream``. Called for every token on the
        thread that decodes: cheap, and it must not fail on half a sentence."""

    def tests_request(self, request: ActionRequest, target: T) -> TestsRequest | None:
        """What to ask the model for tests of the answer, from the spec alone (None: no
        tests; only Generate on a Python stub has a spec to write them from)."""
