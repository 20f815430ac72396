"""Inline completion (ghost text): the engine behind ``textDocument/inlineCompletion`` and
``hearth complete``."""

from hearth.core.completion.engine import Completer
from hearth.core.completion.types import CompletionRequest, InlineSuggestion

__all__ = ["Completer", "CompletionRequest", "InlineSuggestion"]
