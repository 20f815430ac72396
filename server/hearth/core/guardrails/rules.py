"""The guardrail rules (HG2xx-HG4xx), the finding each reports, and how the policy setting turns
a match into a decision: block, warn or nothing."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

from hearth.core.analysis.checks import Finding
from hearth.core.analysis import RULES as SECURITY_RULES
from hearth.settings import GuardrailSettings

Decision = Literal["block", "warn", "allow"]

# What a warned (not blocked) output problem costs a candidate's confidence.
WARN_PENALTY = 0.3


@dataclass(frozen=True)
class GuardRule:
    id: str
    name: str
    summary: str  # completes "the instruction/answer ..." in a message


_RULE_LIST = (
    GuardRule("HG201", "instruction-too-long", "is longer than guardrails.maxInstructionChars"),
    GuardRule("HG202", "destructive-sql",
              "asks for destructive SQL (DROP, TRUNCATE, or DELETE without WHERE)"),
    GuardRule("HG203", "recursive-delete",
              "asks to delete recursively from the root, home or working directory"),
    GuardRule("HG204", "disk-wipe", "asks to format or overwrite a disk"),
    GuardRule("HG205", "fork-bomb", "asks for a fork bomb"),
    GuardRule("HG206", "security-disabled",
              "asks to disable a security check (TLS verification, authentication, CSRF, "
              "firewall, SELinux, world-writable permissions)"),
    GuardRule("HG207", "secret-exfiltration",
              "asks to send secrets (environment variables, SSH keys, credential files) to a "
              "remote destination"),
    GuardRule("HG301", "secret-redacted",
              "had secrets replaced by placeholders before the model saw them"),
    GuardRule("HG302", "secret-misplaced",
              "puts a redacted secret where the user's code had none (left as a placeholder)"),
    GuardRule("HG311", "context-injection",
              "contains text that tries to instruct the model (snippet dropped)"),
    GuardRule("HG401", "network-in-pure-function", "adds a network call to a pure function"),
    GuardRule("HG402", "file-deletion-in-pure-function",
              "adds file deletion to a pure function"),
    GuardRule("HG403", "disguised-dangerous-call",
              "adds a dangerous call the security rules cannot see by name (getattr or "
              "__import__ of os or subprocess, shell=True through a dict, deletion of the root or "
              "home folder, unpickling network data)"),
)

RULES: Mapping[str, GuardRule] = MappingProxyType({rule.id: rule for rule in _RULE_LIST})


@dataclass
class GuardFinding(Finding):
    """A guardrail's verdict on one rule; a ``Finding`` so the engine can add it to a candidate.

    ``decision`` is what the policy made of the match: ``block`` (refused, or the candidate is
    rejected: ``fatal``), ``warn`` (allowed; a candidate loses ``penalty`` confidence and the
    ``reason`` is shown), or ``allow`` (recorded only).
    """

    decision: Decision = "allow"


def unknown_rule_ids(rule_ids: Iterable[str]) -> list[str]:
    """The ids in ``rule_ids`` that name neither a guardrail rule nor a security rule."""
    known = RULES.keys() | SECURITY_RULES.keys()
    return [rule_id for rule_id in rule_ids if rule_id.strip().upper() not in known]


def is_enabled(rule_id: str, settings: GuardrailSettings) -> bool:
    """False when the policy is ``off`` or ``rule_id`` is listed in ``disabledRules``."""
    disabled = {rule_id.strip().upper() for rule_id in settings.disabled_rules}
    return settings.policy != "off" and rule_id not in disabled


def verdict(rule_id: str, reason: str, settings: GuardrailSettings, *,
            penalty: float = WARN_PENALTY) -> GuardFinding:
    """The finding for a match of ``rule_id`` under ``settings.policy`` (``block`` or ``warn``).

    ``penalty`` is what a warning costs a candidate (0 for checks that score nothing); a block
    is fatal and costs everything.
    """
    if settings.policy == "block":
        return GuardFinding(rule_id, reason, penalty=1.0 if penalty else 0.0, fatal=True,
                            decision="block")
    return GuardFinding(rule_id, reason, penalty=penalty, fatal=False, decision="warn")


def excerpt(text: str, limit: int = 60) -> str:
    """``text`` on one line, cut to ``limit`` characters, for a message."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


# Zero-width and bidirectional-control characters hide words from a pattern without changing
# what a reader (or a model) sees.
_INVISIBLE = re.compile("[\u00ad\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")


def normalise(text: str) -> str:
    """``text`` as the patterns read it: NFKC-folded (fullwidth letters, ligatures) and without
    invisible characters, so look-alike spellings cannot slip past a rule."""
    return _INVISIBLE.sub("", unicodedata.normalize("NFKC", text))
