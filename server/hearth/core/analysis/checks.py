"""What a check found in a candidate answer, and what it costs in confidence.

It lives below the guardrails and the pipeline because both make such findings: the pipeline's
checks through ``hearth.core.pipeline.scoring``'s table, the guardrails through their own rules.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Finding:
    """Something the checks found in a candidate, and what it costs in confidence."""

    rule: str
    reason: str
    penalty: float = 0.0
    fatal: bool = False
