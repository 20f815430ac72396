"""What an inline completion is asked and what it answers."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from hearth.core.models.backend import PromptUse
from hearth.core.text import Pos

Mode = Literal["auto", "line", "block"]
Trigger = Literal["automatic", "invoked"]


@dataclass(frozen=True)
class CompletionRequest:
    """Complete ``source`` at ``position`` (0-based line and code point; the LSP layer
    converts from the client's encoding).

    ``mode``: "line" finishes the line, "block" may write several lines, "auto" chooses from
    the syntax at the cursor. ``trigger``: "automatic" as the user types, "invoked" when the
    user asked (the ``completion.trigger`` setting may refuse automatic ones)."""

    source: str
    position: Pos
    path: Path | None = None
    language: str = "python"
    mode: Mode = "auto"
    trigger: Trigger = "automatic"


@dataclass
class InlineSuggestion:
    """The text to insert at the position ("" when there is nothing worth showing), and what
    it cost. ``why_empty`` says why nothing is suggested, for logs and the CLI."""

    text: str
    multiline: bool = False
    cached: bool = False  # served from the suggestions already made (no model call)
    tokens: int = 0  # decoded
    elapsed_s: float = 0.0
    prompt: PromptUse = field(default_factory=PromptUse)
    context: list[str] = field(default_factory=list)  # "path:start-end name" of each snippet
    model: str = ""
    why_empty: str = ""

    def to_json(self) -> dict[str, object]:
        return {"text": self.text, "multiline": self.multiline, "cached": self.cached,
                "tokens": self.tokens, "elapsed_s": round(self.elapsed_s, 4),
                "prompt_tokens": self.prompt.tokens, "prompt_reused": self.prompt.reused,
                "prompt_evaluated": self.prompt.evaluated, "context": list(self.context),
                "model": self.model, "why_empty": self.why_empty}
