"""Guardrails in both directions: what may go to the model, and what may come back from it.

Every check takes the ``GuardrailSettings`` (policy ``block`` / ``warn`` / ``off`` and
``disabledRules``) and reports ``GuardFinding``s: a ``Finding`` (rule, reason, penalty, fatal)
with the policy's ``decision``. The engine runs them in this order::

    findings = check_instruction(request.instruction, settings)   # HG201-HG207
    refuse_if_blocked(findings)                                   # HearthError under "block"
    context, dropped = fence_context(context, settings)           # HG311: injected snippets
    redaction = redact_secrets(request.source, settings)          # HG301
    # build the prompt, then: message.content = redaction.redact(message.content) (and prefill)
    completion.text = redaction.restore(completion.text)          # before action.candidate()
    candidate.findings += check_output(request.source, candidate.new_source,
                                       target_name=..., settings=settings)  # HS1xx, HG302, HG4xx
    audit.record_findings(action.name, findings, subject=text)    # every decision, hashed

``AuditLog`` writes the decisions as JSON lines (docs/guardrails.md has the rules and the
format). Nothing here imports pygls.
"""

from hearth.core.guardrails.audit import AuditLog, default_audit_path, subject_digest
from hearth.core.guardrails.context import fence_context, injection_in
from hearth.core.guardrails.output import check_output, looks_pure
from hearth.core.guardrails.prompt import check_instruction, refuse_if_blocked
from hearth.core.guardrails.rules import (
    RULES,
    WARN_PENALTY,
    GuardFinding,
    GuardRule,
    unknown_rule_ids,
)
from hearth.core.guardrails.secrets import PLACEHOLDER, Redaction, find_secrets, redact_secrets

__all__ = [
    "PLACEHOLDER",
    "RULES",
    "WARN_PENALTY",
    "AuditLog",
    "GuardFinding",
    "GuardRule",
    "Redaction",
    "check_instruction",
    "check_output",
    "default_audit_path",
    "fence_context",
    "find_secrets",
    "injection_in",
    "looks_pure",
    "redact_secrets",
    "refuse_if_blocked",
    "subject_digest",
    "unknown_rule_ids",
]
