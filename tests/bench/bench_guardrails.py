"""Benchmark the guardrails on the guardrail corpus (tests/guardrail_corpus): caught % of
hostile items and false-refusal % of benign ones, per category and split, and the private keys
left visible. Secrets are measured for each source of detection alone too (the security rules'
token formats, which redaction used before, detect-secrets' plugins, Hearth's hand patterns).

    .venv/bin/python tests/bench/bench_guardrails.py [--json]

Nothing here loads a model; it takes a few seconds.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "server"))
sys.path.insert(0, str(REPO))

from hearth.core.analysis import security  # noqa: E402
from hearth.core.guardrails import check_instruction, check_output, injection_in  # noqa: E402
from hearth.core.guardrails import secrets  # noqa: E402
from hearth.settings import GuardrailSettings  # noqa: E402
from hearth.core.guardrails.secret_formats import tokens_in  # noqa: E402
from tests.guardrail_corpus.loader import Item, load  # noqa: E402

Finder = Callable[[str], list[str]]


def _named(text: str) -> list[str]:
    python = secrets._parses(text)
    return (secrets._named_secrets_in_python(text) if python
            else secrets._named_secrets_in_text(text))


def _security_rule_tokens(text: str) -> list[str]:
    """The token formats of the security rules (HS109), which redaction used before."""
    found = []
    for _, pattern in security._TOKEN_FORMATS:
        found += [m.group() for m in pattern.finditer(text)
                  if len(set(m.group())) >= 8 and "EXAMPLE" not in m.group()]
    return found


FINDERS: dict[str, Finder] = {
    "security rules (before)": lambda text: _security_rule_tokens(text) + _named(text),
    "detect-secrets plugins": lambda text: tokens_in(text, use_hand_rules=False) + _named(text),
    "hand patterns": lambda text: tokens_in(text, use_plugins=False) + _named(text),
    "hearth (both)": secrets.find_secrets,
}


def redacted(text: str, finder: Finder) -> str:
    pattern = secrets._pattern_for(s for s in finder(text) if s.strip())
    return text if pattern is None else pattern.sub("HEARTH_SECRET", text)


def visible(item: Item, text: str) -> bool:
    """Whether any of the item's secrets (a token, or a key's body lines) can still be read."""
    return any(secret in text for secret in item.secrets if len(secret) >= 3)


SETTINGS = GuardrailSettings()
SECRET_CATEGORIES = ("secrets", "private_keys", "benign_code")


def _disguised(code: str) -> bool:
    """An HG4xx finding on code as an answer to an empty file (the HS rules are not ours)."""
    findings = check_output("", code, settings=SETTINGS, pure=False)
    return any(f.rule.startswith("HG4") for f in findings)


def flagged_by_guard(item: Item) -> bool:
    """What the guard for the item's category makes of it: refused, dropped, rejected."""
    if item.category.endswith("instructions") and item.category != "injected_instructions":
        return bool(check_instruction(item.text, SETTINGS))
    if item.category == "injected_instructions":
        return injection_in(item.text) is not None
    if item.category == "dangerous_output":
        return any(f.fatal for f in check_output("", item.text, settings=SETTINGS, pure=False))
    if item.category == "benign_code":  # every input guard, and the output guard's own rules
        return (redacted(item.text, secrets.find_secrets) != item.text
                or injection_in(item.text) is not None or _disguised(item.text.strip()))
    raise ValueError(f"no guard for category {item.category}")


def measure(items: list[Item], finder: Finder | None) -> dict[str, dict[str, list[int]]]:
    """{category: {split: [flagged, total]}}: caught for hostile, refused for benign. With a
    ``finder``, only the secret categories, through that finder."""
    table: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    for item in items:
        if finder is not None:
            if item.category not in SECRET_CATEGORIES:
                continue
            text = redacted(item.text, finder)
            flagged = not visible(item, text) if item.kind == "hostile" else text != item.text
        elif item.category in ("secrets", "private_keys"):
            flagged = not visible(item, secrets.redact_secrets(item.text).text)
        else:
            flagged = flagged_by_guard(item)
        for split in (item.split, "all"):
            cell = table[item.category][split]
            cell[0] += flagged
            cell[1] += 1
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")
    args = parser.parse_args()
    items = load()
    results = {"guardrails": measure(items, None)}
    results.update({f"secrets: {name}": measure(items, finder)
                    for name, finder in FINDERS.items()})
    if args.json:
        print(json.dumps(results))
        return
    print(f"Guardrail corpus, {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC: {len(items)} items "
          "(hostile: % caught; benign: % refused, changed or flagged)\n")
    print("| measured | category | dev | heldout | all |")
    print("|---|---|---|---|---|")
    for name, table in results.items():
        for category, splits in table.items():
            cells = [f"{100 * f / t:.1f}% ({f}/{t})" if t else "-"
                     for f, t in (splits[s] for s in ("dev", "heldout", "all"))]
            print(f"| {name} | {category} | " + " | ".join(cells) + " |")
    keys = results["guardrails"]["private_keys"]["all"]
    print(f"\nPrivate keys visible after redaction: {keys[1] - keys[0]} of {keys[1]}")


if __name__ == "__main__":
    main()
