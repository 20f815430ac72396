"""Static analysis shared by diagnostics and the AI pipeline's validation: flake8 and Hearth's
security rules, both reporting plain `Finding`s."""

from hearth.core.analysis.findings import Finding, Severity, codes, new_findings
from hearth.core.analysis.flake8_runner import run_flake8
from hearth.core.analysis.security import RULES, SecurityRule, scan, unknown_rule_ids

__all__ = [
    "RULES",
    "Finding",
    "SecurityRule",
    "Severity",
    "codes",
    "new_findings",
    "run_flake8",
    "scan",
    "unknown_rule_ids",
]
