"""The pipeline every action runs: context, prompt, sample, candidates, score, rank, result."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field, replace

from hearth.core.cancel import CancelToken
from hearth.core.errors import HearthError, NoAnswer
from hearth.core.guardrails import (
    AuditLog,
    Redaction,
    check_instruction,
    check_output,
    fence_context,
    redact_secrets,
    refuse_if_blocked,
)
from hearth.core.models.backend import (
    ChatMessage,
    Completion,
    GenerationRequest,
    ModelBackend,
    OnToken,
    PromptUse,
    SamplingParams,
)
from hearth.core.pipeline import review
from hearth.core.pipeline.prompt import (
    ContextSnippet,
    PastAnswer,
    Prompt,
    past_answer_notes,
    past_answer_turns,
    rejected_turns,
)
from hearth.core.pipeline.scoring import RULES
from hearth.core.pipeline.types import (
    Action,
    ActionRequest,
    ActionResult,
    Candidate,
    ContextProvider,
    Example,
    OnText,
    Progress,
    Ranker,
    Validator,
)
from hearth.settings import GuardrailSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EngineOptions:
    samples: int = 1
    max_tokens: int = 384
    confidence_threshold: float = 0.8875  # as the settings; see scoring.THRESHOLD
    seed: int = 0
    validators: tuple[Validator, ...] = ()
    ranker: Ranker | None = None
    guardrails: GuardrailSettings = field(default_factory=GuardrailSettings)
    audit: AuditLog | None = None
    # Ask the model for tests from the docstring (pipeline.generated_tests) for the ranker.
    generated_tests: bool = False
    # When the chosen answer is not trusted, ask the escalation backend (run_action's) once:
    # "low-confidence" (below the threshold) or "unverified" (also when no check passed).
    escalate_when: str = "unverified"
    # When the chosen answer is below the threshold for a reason a check can name (a failed
    # example, a crash, an undefined name), show the model its answer and what was found, and
    # ask again (self-repair with execution feedback): at most this many times.
    repairs: int = 0
    # Ask the model whether each of its answers does what was asked (pipeline.review).
    self_check: bool = False


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


@dataclass
class Guard:
    """The guardrail state of one run: its settings, its audit log, the prompt's redaction."""

    settings: GuardrailSettings
    audit: AuditLog | None
    action: str
    warnings: list[str]  # the prompt side's warnings, shown with the result

    def record(self, findings, subject: str | None = None, *, warn_user: bool = False) -> None:
        if self.audit is not None and findings:
            self.audit.record_findings(self.action, findings, subject=subject)
        if warn_user:
            self.warnings += [f.reason for f in findings if f.decision == "warn"]


def guard_prompt(guard: Guard, request: ActionRequest) -> None:
    """Refuse an instruction that is too long or asks for something destructive."""
    findings = check_instruction(request.instruction, guard.settings)
    guard.record(findings, request.instruction, warn_user=True)
    refuse_if_blocked(findings)


def gather_context(guard: Guard, request: ActionRequest,
                   provider: ContextProvider | None) -> list[ContextSnippet]:
    """Retrieved code, minus any snippet that tries to instruct the model."""
    if provider is None:
        return []
    kept, dropped = fence_context(provider(request), guard.settings)
    guard.record(dropped, warn_user=True)
    return kept


def build_prompt(guard: Guard, action: Action, request: ActionRequest, target: object,
                 context: list[ContextSnippet], max_tokens: int,
                 examples: list[PastAnswer] | None = None) -> tuple[Prompt, Redaction]:
    """The action's prompt with the user's secrets replaced by placeholders, and ``examples``
    (past answers from the history, prompt.py's PastAnswer): the accepted ones as turns after
    the system message; this request's rejected answers, by the user's notes on them at the
    end of the request, or, without a note, as the model's earlier turns after it."""
    prompt = action.prompt(request, target, context, max_tokens)
    if examples:
        if notes := past_answer_notes(examples):
            last = max(i for i, m in enumerate(prompt.messages) if m.role == "user")
            content = prompt.messages[last].content
            prompt.messages[last] = ChatMessage("user", content + "\n\n" + notes)
        prompt.messages += rejected_turns(examples, request.language)
        first = 1 if prompt.messages and prompt.messages[0].role == "system" else 0
        prompt.messages[first:first] = past_answer_turns(examples, request.language)
    redaction = redact_secrets(request.source, guard.settings)
    if redaction.finding is not None:
        guard.record([redaction.finding])
    prompt.messages = [ChatMessage(m.role, redaction.redact(m.content)) for m in prompt.messages]
    prompt.prefill = redaction.redact(prompt.prefill)
    return prompt, redaction


def sample(backend: ModelBackend, prompt: Prompt, options: EngineOptions,
           cancel: CancelToken, report: Progress,
           on_token: OnToken | None = None,
           params: list[SamplingParams] | None = None) -> list[Completion]:
    """The backend's samples for ``prompt`` (``params``: instead of the options' ladder);
    ``on_token`` is handed the first one's text as it is decoded."""
    if not backend.loaded:
        report("Loading the model", 10)
        backend.load(cancel)
    cancel.raise_if_cancelled()
    report(f"Sampling {options.samples} candidate(s)", 20)
    return backend.generate(
        GenerationRequest(messages=prompt.messages,
                          params=params or sampling_ladder(options.samples, prompt.max_tokens,
                                                           options.seed),
                          prefill=prompt.prefill, stop_when=prompt.stop_when,
                          must_continue=prompt.must_continue),
        cancel=cancel, on_token=on_token)


def text_stream(backend: ModelBackend, action: Action, request: ActionRequest, target: object,
                prompt: Prompt, redaction: Redaction,
                on_text: OnText | None) -> OnToken | None:
    """The backend's ``on_token`` when ``on_text`` is given: it gets the action's preview of
    the whole answer so far (Explain's document; the other actions' raw text, for a progress
    line), with the user's secrets put back."""
    if on_text is None:
        return None
    pieces = [prompt.prefill] if backend.prefills else []

    def on_token(piece: str) -> None:
        pieces.append(piece)
        on_text(action.preview(request, target, redaction.restore("".join(pieces))))
    return on_token


def generated_checks(backend: ModelBackend, action: Action, request: ActionRequest,
                     target: object, redaction: Redaction, cancel: CancelToken,
                     report: Progress) -> tuple[list[Example], Completion | None]:
    """Tests the model writes from the spec alone (one greedy sample), read as checks, and
    the completion they were read from (None: the action has no spec to write them from)."""
    wanted = action.tests_request(request, target)
    if wanted is None:
        return [], None
    report("Writing tests from the docstring", 75)
    prompt = wanted.prompt
    messages = [ChatMessage(m.role, redaction.redact(m.content)) for m in prompt.messages]
    completion = backend.generate(
        GenerationRequest(messages=messages,
                          params=[SamplingParams(temperature=0.0, max_tokens=prompt.max_tokens,
                                                 stop=("```",))],
                          prefill=redaction.redact(prompt.prefill)),
        cancel=cancel)[0]
    checks = wanted.parse(redaction.restore(completion.text))
    log.info("%s: %d generated test(s) from %d token(s)", action.name, len(checks),
             completion.tokens)
    return checks, completion


def check(guard: Guard, action: Action, request: ActionRequest, target: object,
          completions: list[Completion], redaction: Redaction,
          options: EngineOptions) -> list[Candidate]:
    """Each sample as a candidate: the action's checks, the shared validators, the output
    guardrails, and a confidence."""
    candidates = []
    for completion in completions:
        completion.text = redaction.restore(completion.text)
        candidate = action.candidate(request, target, completion)
        if candidate.usable:
            for validate in options.validators:
                candidate.findings.extend(validate(request, candidate))
        if candidate.new_source is not None and request.language == "python":
            guarded = check_output(request.source, candidate.new_source,
                                   target_name=candidate.function,
                                   settings=guard.settings)
            guard.record(guarded, candidate.new_source)
            candidate.findings.extend(guarded)
        candidate.confidence = score(candidate)
        candidates.append(candidate)
    return candidates


def run_action(action: Action, request: ActionRequest, backend: ModelBackend,
               options: EngineOptions, *, cancel: CancelToken | None = None,
               progress: Progress | None = None,
               context_provider: ContextProvider | None = None,
               escalation: ModelBackend | None = None,
               on_text: OnText | None = None,
               examples: list[PastAnswer] | None = None) -> ActionResult:
    """Guard the prompt, gather context, prompt, sample, check, rank: the best candidate.
    ``escalation``: a larger model asked once, with the same prompt, when the best answer
    is not trusted (``options.escalate_when``). ``on_text``: handed the answer so far as the
    first sample is decoded (the action's ``preview`` of it; the final answer is the
    result's, which the checks may still change). ``examples``: past answers from the history
    (accepted ones, this request's rejected ones, the user's notes), shown before the
    request."""
    start = time.perf_counter()
    cancel = cancel or CancelToken()
    report = progress or (lambda message, percentage: None)
    if request.language not in action.languages:
        raise HearthError(f"{action.title} does not apply to {request.language} files.",
                          "Place the cursor where the editor offers the action.")
    target = action.resolve(request)  # found once; every later step is handed it
    title = action.title_for(target)
    guard = Guard(options.guardrails, options.audit, action.name, [])
    guard_prompt(guard, request)
    ruled = rule_candidate(guard, action, request, target, options)
    if ruled is not None:
        return result(action, title, ruled, [ruled], guard, [], start, options)
    if context_provider is not None:
        report("Gathering context", 5)
    context = gather_context(guard, request, context_provider)
    prompt, redaction = build_prompt(guard, action, request, target, context,
                                     options.max_tokens, examples)
    request.notes = tuple(past.note for past in examples or ()
                          if past.kind == "rejected" and past.note)
    if action.max_samples is not None and options.samples > action.max_samples:
        options = replace(options, samples=action.max_samples)
    params = None
    if any(past.kind == "rejected" for past in examples or ()):
        # Asked again after a rejection, sampled, not greedy: shown its rejected answer as its
        # own turn, a greedy decode gave it again (11 of 11 Generate retries on bench-memory's
        # two projects), as in a repair.
        params = sampling_ladder(options.samples, prompt.max_tokens, options.seed)
        params[0] = repair_sampling(prompt.max_tokens, options.seed)
    completions = sample(backend, prompt, options, cancel, report,
                         text_stream(backend, action, request, target, prompt, redaction,
                                     on_text), params=params)
    answered_by, extra_tokens = backend.name, 0
    # One prompt evaluation per backend request, shared by its samples.
    prompt_use = completions[0].prompt if completions else PromptUse()
    if options.generated_tests:
        checks, tests_completion = generated_checks(backend, action, request, target,
                                                    redaction, cancel, report)
        request.generated_checks = tuple(checks)
        if tests_completion is not None:
            extra_tokens += tests_completion.tokens
            prompt_use += tests_completion.prompt
    report("Checking candidates", 90)
    candidates = check(guard, action, request, target, completions, redaction, options)
    if options.self_check and review.supported(backend):
        report("Asking the model to review its answer", 90)
        self_check(backend, prompt, candidates, redaction, cancel)
    best = (options.ranker or by_confidence)(request, candidates)[0]
    for _ in range(options.repairs):
        wrong = what_went_wrong(best, options)
        if not wrong:
            break
        report("Repairing the answer", 91)
        # Sampled, not greedy: given its own answer and the same prefill, a greedy decode
        # copied the answer word for word (8 of 8 dev tasks of the quality corpus).
        again = sample(backend, repair_prompt(prompt, best, wrong, redaction), options, cancel,
                       report, params=[repair_sampling(prompt.max_tokens, options.seed)])
        prompt_use += again[0].prompt if again else PromptUse()
        repaired = check(guard, action, request, target, again, redaction, options)
        candidates += repaired
        # Ranked alone, as the cascade's: the first answer is known to be wrong.
        second = (options.ranker or by_confidence)(request, repaired)[0]
        if second.usable and (not best.usable or second.confidence > best.confidence):
            second.method = "repaired"
            second.evidence.insert(0, f"written again after the first answer {wrong[0]}")
            best = second
        else:
            break  # no better: another turn of the same would most likely not be either
    if escalation is not None and untrusted(best, options):
        report("Asking the larger model", 92)
        larger = sample(escalation, prompt, replace(options, samples=1), cancel, report)
        prompt_use += larger[0].prompt if larger else PromptUse()
        extra = check(guard, action, request, target, larger, redaction, options)
        extra_tokens += sum(c.completion.tokens for c in extra if c.completion)
        # Ranked alone: agreement with the smaller model's candidates is no evidence.
        second = (options.ranker or by_confidence)(request, extra)[0]
        if second.usable and (not best.usable or second.confidence >= best.confidence):
            second.method, answered_by = "escalated", escalation.name
            second.evidence.insert(0, f"answered by {escalation.name}, asked because "
                                      + why_untrusted(best))
            best = second
    if not best.usable:
        reasons = sorted({f.reason for c in candidates for f in c.findings if f.fatal})
        raise NoAnswer(
            f"{title}: none of {len(candidates)} candidate(s) passed the checks "
            f"({'; '.join(reasons)}).",
            "Try again, add detail to the docstring, or raise generation.samples.")
    action.finish(target, best, prompt.context)
    return replace(result(action, title, best, candidates, guard, prompt.context, start,
                          options, extra_tokens), model=answered_by, prompt=prompt_use)


def self_check(backend: ModelBackend, prompt: Prompt, candidates: list[Candidate],
               redaction: Redaction, cancel: CancelToken) -> None:
    """Each usable model answer reviewed by the model (pipeline.review): its P(yes) kept on
    the candidate, and a ``self-doubt`` finding when it says no."""
    for candidate in candidates:
        if not candidate.usable or candidate.method != "model":
            continue
        try:
            candidate.self_check = review.review(backend, prompt, candidate, redaction, cancel)
        except HearthError as error:  # the answer stands; only its review is missing
            log.warning("The self-check could not ask the model: %s", error.message)
            return
        if candidate.self_check is None:
            continue
        doubted = review.doubt(candidate.self_check)
        if doubted is not None:
            candidate.findings.append(doubted)
            candidate.confidence = score(candidate)


def repair_sampling(max_tokens: int, seed: int) -> SamplingParams:
    return SamplingParams(temperature=0.7, top_p=0.95, repeat_penalty=1.1,
                          max_tokens=max_tokens, seed=seed + 101)


# Findings that say what is wrong with an answer in terms a second attempt can act on:
# failed examples, crashes, names and calls that do not exist, stubs, a package's helper
# bypassed (and every fatal one of the actions' own checks). Not "unverified" (nothing says
# it is wrong), not the guardrails'.
REPAIRABLE = frozenset({"doctest-failed", "example-failed", "run-error", "raises-on-valid-inputs",
                        "wrong-return-type", "undefined-name", "missing-function",
                        "unknown-attribute", "wrong-arity", "placeholder",
                        "bypasses-helper"})


def what_went_wrong(best: Candidate, options: EngineOptions) -> list[str]:
    """The reasons to show the model with its answer, if the answer is not trusted and a
    check can say why; empty otherwise (nothing to repair, or an answer not the model's)."""
    if best.completion is None or best.method not in ("model", "repaired"):
        return []
    if best.usable and best.confidence >= options.confidence_threshold:
        return []
    reasons = [f.reason for f in best.findings
               if f.rule in REPAIRABLE or (f.rule in RULES and RULES[f.rule].fatal)]
    return list(dict.fromkeys(reasons))


def repair_prompt(prompt: Prompt, best: Candidate, wrong: list[str],
                  redaction: Redaction) -> Prompt:
    """The same conversation, then the model's answer (its prefill included) and what the
    checks found in it, and the same prefill: the backend's cache holds the shared beginning."""
    said = best.completion.text
    if said.count("```") % 2:
        said = said.rstrip() + "\n```"
    feedback = ("That answer is wrong. Checking it found:\n"
                + "\n".join(f"- {reason}" for reason in wrong)
                + "\n\nWrite the whole answer again, corrected, as the first request asked. Do "
                "not repeat the wrong answer: change what the findings point at.")
    return replace(prompt, messages=[
        *prompt.messages, ChatMessage("assistant", redaction.redact(said)),
        ChatMessage("user", redaction.redact(feedback))])


def untrusted(best: Candidate, options: EngineOptions) -> bool:
    if not best.usable or best.confidence < options.confidence_threshold:
        return True
    return options.escalate_when == "unverified" and best.checks_passed == 0


def why_untrusted(best: Candidate) -> str:
    if not best.usable:
        return "no answer of the first model passed the checks"
    if best.checks_passed == 0:
        return "no example or test could check the first model's answer"
    return f"the first model's best answer had confidence {best.confidence:.2f}"


def rule_candidate(guard: Guard, action: Action, request: ActionRequest, target: object,
                   options: EngineOptions) -> Candidate | None:
    """The best answer the action knows without the model (a textbook fix), if it passes
    every check with full confidence: the model is then not asked."""
    completions = action.rule_answers(request, target)
    if not completions:
        return None
    candidates = check(guard, action, request, target, completions,
                       Redaction(request.source, enabled=False), options)
    best = max(candidates, key=lambda c: c.confidence)
    if not best.usable or best.confidence < 1.0:
        log.info("%s: the rule-based answer did not pass (%s); asking the model", action.name,
                 "; ".join(f.reason for f in best.findings))
        return None
    best.method = "rule"
    return best


def result(action: Action, title: str, best: Candidate, candidates: list[Candidate],
           guard: Guard, context: list[ContextSnippet], start: float,
           options: EngineOptions, extra_tokens: int = 0) -> ActionResult:
    """The chosen candidate as the action's result (``extra_tokens``: decoded for other
    requests of the run, such as generated tests)."""
    tokens = extra_tokens + sum(c.completion.tokens for c in candidates if c.completion)
    low = best.confidence < options.confidence_threshold
    reasons = list(dict.fromkeys([f.reason for f in best.findings] + guard.warnings))
    return ActionResult(
        action=action.name, title=title + (" (low confidence)" if low else ""),
        edits=best.edits, new_source=best.new_source, confidence=round(best.confidence, 3),
        low_confidence=low, reasons=reasons,
        samples=len(candidates), tokens=tokens, elapsed_s=time.perf_counter() - start,
        context=context, files=best.files, function=best.function, markdown=best.markdown,
        method=best.method, details=best.details, evidence=list(best.evidence))
