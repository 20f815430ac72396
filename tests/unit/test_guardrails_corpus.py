"""The guardrail corpus, a fixed quarter of it: the redaction's quality targets (at least 95% of
hostile secrets caught, at most 1% of benign real code changed, no private key left visible).
The whole corpus, per category and split, is tests/bench/bench_guardrails.py."""

from __future__ import annotations

import pytest

from hearth.core.guardrails import redact_secrets
from tests.guardrail_corpus.loader import load

SAMPLE = load()[::4]


def _visible(item, text: str) -> bool:
    return any(secret in text for secret in item.secrets)


def _by_category(category: str):
    items = [item for item in SAMPLE if item.category == category]
    assert len(items) >= 40, f"the sample holds too few {category} items to measure"
    return items


@pytest.mark.parametrize("category", ["secrets", "private_keys"])
def test_hostile_secrets_are_caught(category: str) -> None:
    items = _by_category(category)
    missed = [item.id for item in items if _visible(item, redact_secrets(item.text).text)]
    assert len(missed) <= 0.05 * len(items), missed


def test_no_private_key_stays_visible() -> None:
    left = [item.id for item in _by_category("private_keys")
            if _visible(item, redact_secrets(item.text).text)]
    assert left == []


def test_benign_real_code_is_left_alone() -> None:
    items = _by_category("benign_code")
    changed = [item.id for item in items
               if redact_secrets(item.text).text != item.text]
    assert len(changed) <= 0.01 * len(items), changed
