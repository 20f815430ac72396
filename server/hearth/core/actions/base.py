"""The shape every action shares: a request, a target found cheaply, a prompt, candidates, a result.

Generate, Fix, Explain and Generate tests differ only in the methods of ``Action``; the engine in
``core.pipeline.engine`` runs the same steps for all of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from hearth.core.analysis import Finding as Diagnostic
from hearth.core.models.backend import Completion
from hearth.core.pipeline.prompt import ContextSnippet, Prompt
from hearth.core.text import Pos, TextEdit

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

    @property
    def selection(self) -> tuple[Pos, Pos] | None:
        if self.end is not None and self.end != self.position:
            return (min(self.position, self.end), max(self.position, self.end))
        return None


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
class Finding:
    """Something the checks found in a candidate, and what it costs in confidence."""

    rule: str
    reason: str
    penalty: float = 0.0
    fatal: bool = False


@dataclass
class Candidate:
    completion: Completion | None
    edits: list[TextEdit] = field(default_factory=list)
    new_source: str | None = None
    files: list[FileChange] = field(default_factory=list)
    payload: dict[str, Any] = field(default_factory=dict)  # action-specific (markdown, tests)
    findings: list[Finding] = field(default_factory=list)
    confidence: float = 0.0

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
    payload: dict[str, Any] = field(default_factory=dict)
    files: list[FileChange] = field(default_factory=list)


class Action(Protocol):
    name: str  # "generate"
    command: str  # "hearth.generate"
    title: str  # "Hearth: Generate implementation"
    kind: str  # the LSP code action kind: "quickfix", "refactor.rewrite", ...
    languages: frozenset[str]  # where it is offered
    cli_help: str  # one line for `hearth --help`; the CLI subcommand is ``name``

    def offers(self, request: ActionRequest) -> list[Offer]:
        """What to list in the quick-fix menu here (often nothing). Must be cheap: no model."""

    def prompt(self, request: ActionRequest, context: list[ContextSnippet],
               max_tokens: int) -> Prompt:
        """What to ask the model; raises HearthError when the request cannot be served."""

    def candidate(self, request: ActionRequest, completion: Completion) -> Candidate:
        """Turn one sample into edits (and payload), with the action's own findings."""
