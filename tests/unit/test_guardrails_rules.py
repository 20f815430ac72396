"""Tests for the guardrail rule table, the policy helpers and the documentation of the rules."""

from __future__ import annotations

from pathlib import Path

from hearth.core.pipeline.types import Candidate
from hearth.core.guardrails import RULES, GuardFinding, unknown_rule_ids
from hearth.core.guardrails.rules import is_enabled, normalise, verdict
from hearth.core.pipeline.engine import score
from hearth.settings import GuardrailSettings

DOCS = Path(__file__).resolve().parents[2] / "docs" / "guardrails.md"


def test_every_rule_is_documented_with_its_name() -> None:
    text = DOCS.read_text(encoding="utf-8")
    for rule in RULES.values():
        assert f"| {rule.id} | {rule.name} |" in text


def test_unknown_rule_ids_knows_guard_and_security_rules() -> None:
    assert unknown_rule_ids(["HG203", "hs101", " HG311 ", "HG999", "XX1"]) == ["HG999", "XX1"]


def test_is_enabled_follows_policy_and_disabled_rules() -> None:
    assert is_enabled("HG202", GuardrailSettings())
    assert not is_enabled("HG202", GuardrailSettings(policy="off"))
    assert not is_enabled("HG202", GuardrailSettings(disabled_rules=["hg202"]))


def test_guard_findings_score_like_the_engines_own_findings() -> None:
    warned = verdict("HG401", "network", GuardrailSettings(policy="warn"))
    blocked = verdict("HG401", "network", GuardrailSettings(policy="block"))
    assert isinstance(warned, GuardFinding)
    assert score(Candidate(None, findings=[warned])) == 0.7
    assert score(Candidate(None, findings=[blocked])) == 0.0


def test_normalise_folds_lookalikes_and_drops_invisible_characters() -> None:
    assert normalise("ｒｍ\u200b -rf\u202e") == "rm -rf"
