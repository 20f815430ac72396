"""The model asked whether its own answer does what was asked: one word, Yes or No, read as a
probability from the logits after the question, nothing decoded (``generation.selfCheck``).

Small models are often wrong yet sure, and a wrong answer that passes every example its
docstring gives looks right to every other check. Asking the model that wrote it is the
P(True) self-evaluation of Kadavath et al. (2022, "Language Models (Mostly) Know What They
Know"). It costs one prompt evaluation per answer: the conversation, the answer and the
question, of which the conversation is most often still in the model's prompt cache.
Evaluating a prompt costs about a quarter of decoding as many tokens here (docs/sampling.md).
Whether the answer is worth that is measured, not assumed (docs/quality.md, "Self-check").
"""

from __future__ import annotations

import logging

from hearth.core.cancel import CancelToken
from hearth.core.guardrails import Redaction
from hearth.core.models.backend import ChatMessage, GenerationRequest, ModelBackend
from hearth.core.pipeline.scoring import finding
from hearth.core.pipeline.prompt import Prompt
from hearth.core.pipeline.types import Candidate, Finding

log = logging.getLogger(__name__)

QUESTION = ("Review your answer against the request above. Does it do exactly what was "
            "asked, for every input the request describes, edge cases included? Reply with "
            "one word: Yes or No.")
CHOICES = ("Yes", "No")


def supported(backend: ModelBackend) -> bool:
    """Whether the backend can read a choice's probability (the local one can; an
    OpenAI-compatible server can when it returns ``top_logprobs``)."""
    return callable(getattr(backend, "choice_probabilities", None))


def review(backend: ModelBackend, prompt: Prompt, candidate: Candidate,
           redaction: Redaction, cancel: CancelToken | None = None) -> float | None:
    """The probability that the model answers Yes when asked whether ``candidate`` (its own
    answer to ``prompt``) does what was asked; None when it cannot be asked."""
    if candidate.completion is None or not supported(backend):
        return None
    said = candidate.completion.text
    if said.count("```") % 2:
        said = said.rstrip() + "\n```"
    request = GenerationRequest(messages=[
        *prompt.messages, ChatMessage("assistant", redaction.redact(said)),
        ChatMessage("user", QUESTION)])
    probabilities = backend.choice_probabilities(  # type: ignore[attr-defined]
        request, CHOICES, cancel)
    return None if probabilities is None else probabilities["Yes"]


def doubt(yes: float) -> Finding | None:
    """The finding of a model that answered No about its own answer (P(yes) below 0.5)."""
    if yes >= 0.5:
        return None
    return finding("self-doubt", "asked whether this answer does what was asked, the model "
                                 f"that wrote it says no (P(yes) {yes:.2f})")
