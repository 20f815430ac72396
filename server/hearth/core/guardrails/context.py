"""The context guard: code retrieved from other files is quoted data for the model, so a snippet
with text that tries to instruct the model (prompt injection) is dropped before the prompt is
built."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Protocol, TypeVar

from hearth.core.guardrails.normalise import readings
from hearth.core.guardrails.rules import RULES, GuardFinding, excerpt, is_enabled
from hearth.settings import GuardrailSettings

_I = re.IGNORECASE

# "Ignore previous messages/rules/orders" is ordinary in chat, firewall and shop code, so only
# the words that address a model count.
_EARLIER = (r"(?:all\s+|any\s+|the\s+|your\s+|of\s+the\s+)*(?:previous|prior|above|earlier|"
            r"preceding|foregoing|former|original|initial)")
_ORDERS = r"(?:instructions?|prompts?|directions|directives|guidelines|constraints|guardrails)"
_NOT_ORDERS = (r"(?!\s+(?:values?|lines?|rows?|items?|cases?|checks?|thresholds?|limits?|"
               r"warnings?|errors?|results?|code|block|function|steps?)\b)")

_INJECTION = (
    re.compile(r"\b(?:ignore|disregard|forget|override|overrule|abandon|bypass)\s+"
               + _EARLIER + r"\s+" + _ORDERS + r"\b", _I),
    # "forget your guidelines", "ignore all your rules": the model's own orders, by owner.
    re.compile(r"\b(?:ignore|disregard|forget|override|overrule|abandon|bypass)\s+(?:all\s+)?"
               r"(?:of\s+)?your\s+(?:\w+\s+)?(?:instructions?|prompts?|directions|directives|"
               r"guidelines|constraints|guardrails|rules|programming|training)\b", _I),
    re.compile(r"\bdisregard\s+(?:all\s+|everything\s+)?(?:of\s+)?(?:the\s+|that\s+)?"
               r"(?:above|foregoing|preceding)\b" + _NOT_ORDERS, _I),
    re.compile(r"\b(?:ignore|forget)\s+(?:all\s+(?:of\s+)?|everything\s+)(?:the\s+|that\s+)?"
               r"(?:above|foregoing|preceding)\b" + _NOT_ORDERS, _I),
    re.compile(r"\b(?:ignore|forget)\s+(?:the\s+)?above\s*(?:,|\.|and)\s*(?:instead|now|from\s+now"
               r"\s+on|say|write|print|output|respond|reply|tell|obey|follow|act|return)\b", _I),
    re.compile(r"\byou\s+are\s+now\s+(?:a\s+|an\s+|the\s+|my\s+|in\s+)?(?:\w+\s+){0,2}?"
               r"(?:assistant|ai|model|language\s+model|llm|chat\s*bot|bot|dan|jailbroken|"
               r"unrestricted|unfiltered|uncensored|developer\s+mode|god\s+mode|free\s+of|"
               r"no\s+longer|hacker|agent)\b", _I),
    re.compile(r"\bfrom\s+now\s+on,?\s+you\s+(?:are|will|must|should|shall)\b", _I),
    re.compile(r"\b(?:reveal|print|show|repeat|output|leak|disclose|display|dump|ignore|override|"
               r"replace|change|forget)\s+(?:\w+\s+){0,2}?system\s+prompt\b", _I),
    re.compile(r"\b(?:new|updated|real|actual|true|hidden|secret|important|additional)\s+"
               r"(?:system\s+)?(?:instructions?|prompt|directives?)\s*:", _I),
    re.compile(r"^\W*(?:system\s+prompt|system|instructions?)\s*:\s*you\s+(?:are|must|will)\b",
               _I | re.MULTILINE),
    re.compile(r"\b(?:note|instructions?|attention)\s+(?:to|for)\s+(?:the\s+|any\s+|all\s+)?"
               r"(?:ai|llms?|copilot|chatgpt|claude|(?:ai|code)\s+(?:assistants?|agents?|models?)|"
               r"language\s+models?)\b", _I),
    re.compile(r"\b(?:if|when)\s+you\s+are\s+an?\s+(?:ai|llm|language\s+model|assistant|ai\s+"
               r"assistant|code\s+assistant)\b", _I),
    re.compile(r"\b(?:do\s+not|don't|never)\s+(?:tell|inform|warn|alert)\s+the\s+user\b", _I),
    # Chat-template role markers of the common model families.
    re.compile(r"<\|(?:im_start|im_end|system|user|assistant|endoftext|begin_of_text|"
               r"start_header_id|end_header_id|eot_id|fim_prefix|fim_middle|fim_suffix)\|>"
               r"|\[/?INST\]|<</?SYS>>|<start_of_turn>|<end_of_turn>|^###\s*(?:System|Instruction)"
               r"\s*:", _I | re.MULTILINE),
    # Orders addressed to the model by its role: "the assistant must ...", "SYSTEM: ignore ...".
    re.compile(r"\b(?:the\s+)?(?:ai|assistant|model|llm|copilot|code\s+assistant|language\s+model)"
               r"\s+(?:must|should|shall|will|has\s+to|is\s+required\s+to)\s+(?:now\s+|always\s+|"
               r"also\s+|silently\s+|secretly\s+)?(?:ignore|disregard|delete|remove|run|execute|"
               r"send|"
               r"output|write|insert|add|include|reveal|print|upload|obey|follow|respond|reply)\b",
               _I),
    re.compile(r"^\W*(?:system|assistant|developer)\s*:\s*(?:you\b|ignore\b|disregard\b|forget\b|"
               r"from\s+now\b|new\s+instructions?\b|always\b|never\b|do\s+not\b|override\b)",
               _I | re.MULTILINE),
    # The same in the major European languages: "ignore the previous instructions", "you are
    # now ...".
    re.compile(r"\b(?:ignorier|vergiss|vergesst|missacht|ignore[rz]|ignore(?=\s+(?:as|todas)\b)|"
               r"oublie[rz]?|ignora|olvida|dimentica|esqueça|esqueca|desconsidere|negeer|vergeet|"
               r"zignoruj|ignoruj|zapomnij)"
               r"\w*\s+[^\n]{0,40}?\b(?:anweisung|instruktion|vorgabe|instruction|consigne|"
               r"instrucci|instruç|instruc|istruzion|indicazion|instructie|opdracht|instrukcj|"
               r"polece)\w*", _I),
    re.compile(r"\b(?:du\s+bist\s+(?:jetzt|nun|ab\s+sofort)|ihr\s+seid\s+jetzt|tu\s+es\s+"
               r"maintenant|vous\s+êtes\s+maintenant|ahora\s+eres|ahora\s+(?:usted\s+)?es\s+un|"
               r"ora\s+sei|adesso\s+sei|agora\s+(?:você|voce|tu)\s+(?:é|e|és)|je\s+bent\s+nu|"
               r"jesteś\s+teraz|jestes\s+teraz)\s+(?:\w+\s+){0,3}?(?:ki|assistent\w*|modell|"
               r"modèle|modelo|modello|model|ia|ai|bot|agent\w*|dan|sin\s+restricciones|"
               r"ohne\s+einschränkungen|sans\s+restrictions|senza\s+restrizioni|sem\s+restrições|"
               r"zonder\s+beperkingen|bez\s+ograniczeń)\b", _I),
    # Hearth's own fence: a snippet that closes it would put the rest of its text outside.
    re.compile(r"</?context\s*>", _I),
)


class Snippet(Protocol):
    path: str
    name: str
    text: str


S = TypeVar("S", bound=Snippet)


def injection_in(text: str) -> re.Match[str] | None:
    """The first piece of ``text`` that tries to instruct the model, if any."""
    texts = readings(text)
    return next((m for pattern in _INJECTION for reading in texts
                 if (m := pattern.search(reading))), None)


def fence_context(snippets: Iterable[S],
                  settings: GuardrailSettings) -> tuple[list[S], list[GuardFinding]]:
    """The snippets that may go into the prompt as quoted data, and a finding for each dropped.

    A snippet is dropped whenever the rule is on, under ``block`` and ``warn`` alike: leaving out
    a piece of context costs the answer little, keeping one that hijacks the model costs a lot.
    The findings are never fatal; the request goes on without the snippet.
    """
    snippets = list(snippets)
    if not is_enabled("HG311", settings):
        return snippets, []
    kept: list[S] = []
    findings = []
    for snippet in snippets:
        match = injection_in(f"{snippet.name}\n{snippet.text}")
        if match is None:
            kept.append(snippet)
            continue
        rule = RULES["HG311"]
        findings.append(GuardFinding(
            "HG311",
            f"HG311 {rule.name}: context from {snippet.path} ({snippet.name}) {rule.summary}: "
            f"\"{excerpt(match.group())}\"",
            decision="block"))
    return kept, findings
