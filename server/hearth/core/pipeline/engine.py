"""The pipeline every action runs: context, prompt, sample, candidates, score, rank, result."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from hearth.core.actions.base import Action, ActionRequest, ActionResult, Candidate, Finding
from hearth.core.cancel import CancelToken
from hearth.core.errors import HearthError
from hearth.core.models.backend import GenerationRequest, ModelBackend, SamplingParams
from hearth.core.pipeline.prompt import ContextSnippet

log = logging.getLogger(__name__)

Progress = Callable[[str, int | None], None]  # (message, percentage)
ContextProvider = Callable[[ActionRequest], list[ContextSnippet]]
# Checks shared by every action, run on each usable candidate after the action's own.
Validator = Callable[[ActionRequest, Candidate], list[Finding]]
# Orders candidates best first (after scoring); the default is by confidence.
Ranker = Callable[[ActionRequest, list[Candidate]], list[Candidate]]


@dataclass(frozen=True)
class EngineOptions:
    samples: int = 1
    max_tokens: int = 384
    confidence_threshold: float = 0.6
    seed: int = 0
    validators: tuple[Validator, ...] = ()
    ranker: Ranker | None = None

    @classmethod
    def from_settings(cls, settings) -> EngineOptions:  # noqa: ANN001 - hearth.settings.Settings
        generation = settings.generation
        return cls(samples=generation.samples, max_tokens=generation.max_tokens,
                   confidence_threshold=generation.confidence_threshold)


def by_confidence(request: ActionRequest, candidates: list[Candidate]) -> list[Candidate]:
    """Highest confidence first; among equals the earlier sample (the greedy one) wins."""
    return sorted(candidates, key=lambda c: -c.confidence)


def sampling_ladder(samples: int, max_tokens: int, seed: int = 0) -> list[SamplingParams]:
    """One greedy sample, then a ladder of temperatures from 0.2 to 0.9 for the others."""
    if samples <= 1:
        return [SamplingParams(temperature=0.0, max_tokens=max_tokens, seed=seed)]
    rest = samples - 1
    temps = [0.2 + 0.7 * i / max(1, rest - 1) for i in range(rest)]
    return [SamplingParams(temperature=0.0, max_tokens=max_tokens, seed=seed)] + [
        SamplingParams(temperature=round(t, 3), top_p=0.9, repeat_penalty=1.1,
                       max_tokens=max_tokens, seed=seed + 1 + i)
        for i, t in enumerate(temps)]


def score(candidate: Candidate) -> float:
    """Confidence in [0, 1]: 1 minus the findings' penalties; any fatal finding makes it 0."""
    if not candidate.usable:
        return 0.0
    return max(0.0, 1.0 - sum(f.penalty for f in candidate.findings))


def run_action(action: Action, request: ActionRequest, backend: ModelBackend,
               options: EngineOptions, *, cancel: CancelToken | None = None,
               progress: Progress | None = None,
               context_provider: ContextProvider | None = None) -> ActionResult:
    start = time.perf_counter()
    cancel = cancel or CancelToken()
    report = progress or (lambda message, percentage: None)
    offers = action.offers(request)
    if not offers:
        raise HearthError(f"{action.title} does not apply at this position.",
                          "Place the cursor where the editor offers the action.")
    title = offers[0].title
    context: list[ContextSnippet] = []
    if context_provider is not None:
        report("Gathering context", 5)
        context = context_provider(request)
    prompt = action.prompt(request, context, options.max_tokens)
    if not backend.loaded:
        report("Loading the model", 10)
        backend.load(cancel)
    cancel.raise_if_cancelled()
    report(f"Sampling {options.samples} candidate(s)", 20)
    completions = backend.generate(
        GenerationRequest(messages=prompt.messages,
                          params=sampling_ladder(options.samples, prompt.max_tokens,
                                                 options.seed),
                          prefill=prompt.prefill, stop_when=prompt.stop_when),
        cancel=cancel)
    report("Checking candidates", 90)
    candidates = [action.candidate(request, completion) for completion in completions]
    for candidate in candidates:
        if candidate.usable:
            for validate in options.validators:
                candidate.findings.extend(validate(request, candidate))
        candidate.confidence = score(candidate)
    best = (options.ranker or by_confidence)(request, candidates)[0]
    tokens = sum(c.completion.tokens for c in candidates if c.completion)
    if not best.usable:
        reasons = sorted({f.reason for c in candidates for f in c.findings if f.fatal})
        raise HearthError(
            f"{title}: none of {len(candidates)} candidate(s) passed the checks "
            f"({'; '.join(reasons)}).",
            "Try again, add detail to the docstring, or raise generation.samples.")
    if "markdown" in best.payload and prompt.context:
        best.payload["markdown"] += "\n## Context used\n" + "".join(
            f"- `{c.path}` lines {c.start_line}-{c.end_line} ({c.name})\n" for c in prompt.context)
    low = best.confidence < options.confidence_threshold
    return ActionResult(
        action=action.name, title=title + (" (low confidence)" if low else ""),
        edits=best.edits, new_source=best.new_source, confidence=round(best.confidence, 3),
        low_confidence=low, reasons=[f.reason for f in best.findings],
        samples=len(candidates), tokens=tokens, elapsed_s=time.perf_counter() - start,
        context=prompt.context, payload=best.payload, files=best.files)
