"""Secret redaction: keys, tokens and passwords in the code become placeholders before the model
sees them, and come back in its answer only on lines the user's own code already had.

What counts as a secret: text with the format of a real key, token or URL password
(``secret_formats``: detect-secrets' plugins and Hearth's own patterns, anywhere in the text,
comments included; a private key block whole, header to footer), and a non-placeholder
string assigned to a secret-sounding name (HS110: through ``analysis.scan`` when the code is
Python, so ``# noqa: HS110`` declares a literal not secret; by the same name and placeholder
tests over ``name = "value"`` / ``name: "value"`` text otherwise).

The restore rule: a line of the answer that holds placeholders gets its secrets back only if
(1) every placeholder on it stands for a secret from the user's code (not one found in retrieved
context), and (2) the line, compared without whitespace, with ``'`` read as ``"`` and without a
trailing ``,`` or ``;``, is a line of the redacted code the model was shown. Restoring it thus
reproduces a line the user already wrote. Anything else (say the model copies a placeholder into
a log call) stays a placeholder; ``check_output`` reports it as HG302.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

# Private helpers of the security rules, reused so that "secret" means one thing in Hearth.
from hearth.core.analysis.findings import source_lines
from hearth.core.analysis.security import RULES as SECURITY_RULES
from hearth.core.analysis.security import _is_placeholder, _is_secret_name, scan
from hearth.core.guardrails.rules import RULES, GuardFinding, is_enabled
from hearth.core.guardrails.secret_formats import tokens_in
from hearth.settings import GuardrailSettings

PLACEHOLDER = re.compile(r"\bHEARTH_SECRET_\d+\b")

# A hard cap on how many secrets one text may yield, so a pathological input cannot loop long.
_MAX_SECRETS = 500
# Secrets this long are matched without word boundaries (see _pattern_for).
_BOUNDED_LENGTH = 20

_ONLY_HS110 = tuple(rule_id for rule_id in SECURITY_RULES if rule_id != "HS110")

_STRING_LITERAL = re.compile(r"[rRbBuUfF]{0,2}(?P<quote>'''|\"\"\"|'|\")(?P<body>.*)(?P=quote)",
                             re.DOTALL)

# name = "value", name: "value", name := "value", name => "value", cfg["name"] = "value"
_NAMED_LITERAL = re.compile(
    r"(?<![\w$.-])(?P<name>[A-Za-z_$][\w$.-]*+)[\"'\]]*\s*(?::=|=>|=(?!=)|:)\s*"
    r"(?P<quote>[\"'`])(?P<value>(?:(?!(?P=quote))[^\\\n]|\\.){1,500})(?P=quote)"
)


def _tokens_in(text: str) -> list[str]:
    """Every substring of ``text`` with the format of a real key or token (secret_formats)."""
    return tokens_in(text)[:_MAX_SECRETS]


def _literal_body(code: str, line: int, column: int, end_line: int, end_column: int) -> str | None:
    """The text between the quotes of the string literal at this span, as written."""
    lines = source_lines(code)
    if line == end_line:
        segment = lines[line][column:end_column]
    else:
        segment = (lines[line][column:] + "".join(lines[line + 1:end_line])
                   + lines[end_line][:end_column])
    match = _STRING_LITERAL.fullmatch(segment)
    return match.group("body") if match else None


def _named_secrets_in_python(code: str) -> list[str]:
    secrets = []
    for finding in scan(code, disabled=_ONLY_HS110):
        body = _literal_body(code, finding.line, finding.column, finding.end_line,
                             finding.end_column)
        if body and body in code:
            secrets.append(body)
    return secrets


def _named_secrets_in_text(text: str) -> list[str]:
    secrets = []
    for match in _NAMED_LITERAL.finditer(text):
        name = re.split(r"[.$-]", match.group("name"))[-1]
        value = match.group("value")
        if _is_secret_name(name) and not _is_placeholder(value) and not tokens_in(value):
            secrets.append(value)
    return secrets


def _parses(code: str) -> bool:
    try:
        ast.parse(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return True


def find_secrets(text: str, *, python: bool | None = None) -> list[str]:
    """The secrets in ``text``, each once, in order of first appearance.

    ``python`` says whether to read named secrets through the AST (None: if ``text`` parses).
    """
    if python is None:
        python = _parses(text)
    named = _named_secrets_in_python(text) if python else _named_secrets_in_text(text)
    unique = dict.fromkeys(secret for secret in (*_tokens_in(text), *named) if secret.strip())
    return sorted(unique, key=text.find)


def _line_key(line: str) -> str:
    """A line as the restore rule compares it: no whitespace, one kind of quote, no trailing
    separator."""
    return "".join(line.split()).replace("'", '"').rstrip(",;")


def _pattern_for(secrets: Iterable[str]) -> re.Pattern[str] | None:
    """One pattern for every secret, longest first, so that a secret inside another is not
    replaced first; a short secret that starts or ends with a word character must not be part of
    a longer word there. A long one is random enough to be replaced wherever it stands (a key
    block ending in "\\n" right before more text must still go)."""
    parts = []
    for secret in sorted(set(secrets), key=len, reverse=True):
        short = len(secret) < _BOUNDED_LENGTH
        head = r"(?<!\w)" if short and re.match(r"\w", secret) else ""
        tail = r"(?!\w)" if short and re.search(r"\w$", secret) else ""
        parts.append(head + re.escape(secret) + tail)
    return re.compile("|".join(parts)) if parts else None


@dataclass
class Redaction:
    """The code with its secrets replaced, and what it takes to put them back.

    ``text`` is ``original`` redacted; ``mapping`` goes from placeholder to secret. ``redact``
    applies the same placeholders to the other texts of a prompt (surrounding code, retrieved
    context) and gives any further secrets found there placeholders of their own, which
    ``restore`` never puts back. Secrets stay out of ``repr``, hence out of logs and tracebacks.
    """

    original: str = field(repr=False)
    enabled: bool = True
    text: str = field(init=False)
    mapping: dict[str, str] = field(init=False, default_factory=dict, repr=False)
    _from_code: frozenset[str] = field(init=False, default=frozenset(), repr=False)
    _code_lines: frozenset[str] = field(init=False, default=frozenset(), repr=False)

    def __post_init__(self) -> None:
        self.text = self.original
        if not self.enabled:
            return
        self._add(find_secrets(self.original), taken=self.original)
        self.text = self._replace(self.original)
        self._from_code = frozenset(self.mapping)
        self._code_lines = frozenset(
            _line_key(line) for line in self.text.splitlines() if PLACEHOLDER.search(line))

    @property
    def finding(self) -> GuardFinding | None:
        """The HG301 record that secrets were redacted (decision ``allow``), or None."""
        count = len(self._from_code)
        if not count:
            return None
        rule = RULES["HG301"]
        return GuardFinding("HG301", f"HG301 {rule.name}: {count} secret(s) in the code were "
                                     "replaced by placeholders before the model saw them")

    def _placeholder(self, taken: str) -> str:
        number = len(self.mapping) + 1
        while f"HEARTH_SECRET_{number}" in self.mapping or f"HEARTH_SECRET_{number}" in taken:
            number += 1
        return f"HEARTH_SECRET_{number}"

    def _add(self, secrets: Iterable[str], taken: str) -> None:
        known = set(self.mapping.values())
        for secret in secrets:
            if secret not in known:
                self.mapping[self._placeholder(taken)] = secret
                known.add(secret)

    def _replace(self, text: str) -> str:
        pattern = _pattern_for(self.mapping.values())
        if pattern is None:
            return text
        placeholders = {secret: placeholder for placeholder, secret in self.mapping.items()}
        return pattern.sub(lambda match: placeholders[match.group()], text)

    def redact(self, text: str) -> str:
        """``text`` with every known secret, and any new one it holds, replaced.

        Named secrets that the code itself holds are left to the code's own analysis, which
        may have judged them placeholders or seen them waived with ``# noqa: HS110``.
        """
        if not self.enabled:
            return text
        new = [secret for secret in find_secrets(text, python=False)
               if secret not in self.original]
        self._add(new, taken=text + self.original)
        return self._replace(text)

    def restore(self, output: str) -> str:
        """``output`` with secrets put back on the lines the restore rule allows (module doc)."""
        if not self._from_code:
            return output
        restored = []
        for line in output.splitlines(keepends=True):
            placeholders = set(PLACEHOLDER.findall(line))
            if (placeholders and placeholders <= self._from_code
                    and _line_key(line) in self._code_lines):
                line = PLACEHOLDER.sub(lambda match: self.mapping[match.group()], line)
            restored.append(line)
        return "".join(restored)


def redact_secrets(code: str, settings: GuardrailSettings | None = None) -> Redaction:
    """Replace the secrets in ``code`` by placeholders (``HEARTH_SECRET_1``, ...).

    The same secret always gets the same placeholder; numbers already used in ``code`` are
    skipped. With the policy ``off`` or HG301 in ``disabledRules`` nothing is replaced.
    """
    return Redaction(code, enabled=settings is None or is_enabled("HG301", settings))
