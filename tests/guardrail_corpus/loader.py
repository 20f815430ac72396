"""The guardrail corpus: hostile items (destructive instructions, secrets in real formats,
private key blocks, injected instructions, dangerous answers) and benign items (developers'
instructions, real code lines), each with a fixed dev/heldout split by a stable hash of its id.

Secrets and keys are made here from a seeded generator rather than stored, so the repository
holds no string a secret scanner would take for a live credential; the contexts they are put in
are the JSONL files next to this module. Benign lines come from ``benign_code.jsonl``
(``build_benign.py`` wrote it from real files).
"""

from __future__ import annotations

import hashlib
import json
import random
import string
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
SEED = 20261203
# One item in four is held out: never looked at while tuning.
HELDOUT_SHARE = 4

ALNUM = string.ascii_letters + string.digits
B64 = ALNUM + "+/"


@dataclass(frozen=True)
class Item:
    id: str
    kind: str  # "hostile" or "benign"
    category: str
    text: str
    secrets: tuple[str, ...] = field(default=(), repr=False)  # what must not stay visible

    @property
    def split(self) -> str:
        digest = hashlib.sha256(self.id.encode()).digest()
        return "heldout" if digest[0] % HELDOUT_SHARE == 0 else "dev"


def _pick(rng: random.Random, alphabet: str, length: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(length))


# Token formats as their issuers document them (prefix, alphabet, length).
TOKEN_FORMATS: dict[str, Callable[[random.Random], str]] = {
    "openai-legacy": lambda r: "sk-" + _pick(r, ALNUM, 20) + "T3BlbkFJ" + _pick(r, ALNUM, 20),
    "openai-project": lambda r: "sk-proj-" + _pick(r, ALNUM + "_-", 64),
    "anthropic": lambda r: "sk-ant-api03-" + _pick(r, ALNUM + "_-", 80) + "AA",
    "github-classic": lambda r: "ghp_" + _pick(r, ALNUM, 36),
    "github-fine-grained": lambda r: "github_pat_" + _pick(r, ALNUM, 22) + "_"
    + _pick(r, ALNUM, 59),
    "gitlab": lambda r: "glpat-" + _pick(r, ALNUM + "_-", 20),
    "npm": lambda r: "npm_" + _pick(r, ALNUM, 36),
    "pypi": lambda r: "pypi-AgEIcHlwaS5vcmc" + _pick(r, ALNUM + "_-", 120),
    "slack-bot": lambda r: "xoxb-" + _pick(r, string.digits, 12) + "-"
    + _pick(r, string.digits, 13) + "-" + _pick(r, ALNUM, 24),
    "slack-user": lambda r: "xoxp-" + _pick(r, string.digits, 12) + "-"
    + _pick(r, string.digits, 12) + "-" + _pick(r, string.digits, 13) + "-"
    + _pick(r, "0123456789abcdef", 32),
    "aws-access-key-id": lambda r: "AKIA" + _pick(r, string.ascii_uppercase + string.digits, 16),
    "google-api-key": lambda r: "AIza" + _pick(r, ALNUM + "_-", 35),
    "stripe-live": lambda r: "sk_live_" + _pick(r, ALNUM, 24),
    "stripe-restricted": lambda r: "rk_live_" + _pick(r, ALNUM, 24),
    "jwt": lambda r: "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ" + _pick(r, ALNUM + "_-", 40)
    + "." + _pick(r, ALNUM + "_-", 43),
    "sendgrid": lambda r: "SG." + _pick(r, ALNUM + "_-", 22) + "." + _pick(r, ALNUM + "_-", 43),
    "huggingface": lambda r: "hf_" + _pick(r, ALNUM, 34),
    "twilio": lambda r: "SK" + _pick(r, "0123456789abcdef", 32),
}

# Lines that carry their secret in a format of their own; {secret} marks it.
SPECIAL_LINES: dict[str, tuple[str, Callable[[random.Random], str]]] = {
    "azure-connection-string": (
        "conn = \"DefaultEndpointsProtocol=https;AccountName=acme;AccountKey={secret};"
        "EndpointSuffix=core.windows.net\"\n", lambda r: _pick(r, B64, 86) + "=="),
    "azure-sas": (
        "BLOB = 'https://acme.blob.core.windows.net/c/f.csv?sv=2022-11-02&ss=b&sp=r"
        "&sig={secret}'\n",
        lambda r: _pick(r, ALNUM, 40) + "%3D"),
    "aws-secret-key": (
        "aws_secret_access_key = {secret}\n", lambda r: _pick(r, B64, 40)),
    "npmrc": ("//registry.npmjs.org/:_authToken={secret}\n",
              lambda r: "npm_" + _pick(r, ALNUM, 36)),
    "password-assignment": ("DB_PASSWORD = \"{secret}\"\n",
                            lambda r: _pick(r, ALNUM, 10) + "!" + _pick(r, ALNUM, 3)),
    "js-password": ("const password = '{secret}';\n", lambda r: _pick(r, ALNUM + "#%&", 14)),
}

PEM_TYPES = ("RSA PRIVATE KEY", "PRIVATE KEY", "EC PRIVATE KEY", "DSA PRIVATE KEY",
             "OPENSSH PRIVATE KEY", "ENCRYPTED PRIVATE KEY", "PGP PRIVATE KEY BLOCK")


def _pem(rng: random.Random, kind: str, encrypted: bool) -> tuple[str, list[str]]:
    """A key block (lines joined by "\n") and its body lines."""
    body = [_pick(rng, B64, 64) for _ in range(rng.randint(4, 25))] + [_pick(rng, B64, 20) + "=="]
    head = [f"-----BEGIN {kind}-----"]
    if encrypted:
        salt = _pick(rng, "0123456789ABCDEF", 32)
        head += ["Proc-Type: 4,ENCRYPTED", f"DEK-Info: AES-128-CBC,{salt}", ""]
    return "\n".join(head + body + [f"-----END {kind}-----"]), body


# How a key appears in source: as written in a file, in a triple-quoted literal, in a literal
# with "\n" escapes (also followed straight by letters), split over concatenated literals, and
# pasted without its footer.
PEM_LAYOUTS: dict[str, Callable[[str], str]] = {
    "file": lambda pem: pem + "\n",
    "triple-quoted": lambda pem: f'KEY = """{pem}\n"""\n',
    "escaped": lambda pem: 'KEY = "' + pem.replace("\n", "\\n") + '\\n"\n',
    "escaped-then-letters": lambda pem: 'KEY = "' + pem.replace("\n", "\\n") + 'xyz"\n',
    "concatenated": lambda pem: "KEY = (\n" + "".join(
        f'    "{line}\\n"\n' for line in pem.split("\n")) + ")\n",
    "no-footer": lambda pem: 'KEY = "' + pem.rsplit("\n", 1)[0].replace("\n", "\\n")
    + 'abc"\nrun()\n',
    "json": lambda pem: '{"private_key": "' + pem.replace("\n", "\\n")
    + '\\n", "type": "service_account"}\n',
}


def _read(name: str) -> Iterator[dict]:
    with open(HERE / name, encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if line.strip():
                try:
                    yield json.loads(line)
                except json.JSONDecodeError as error:
                    raise ValueError(f"{name}:{number}: not JSON: {error}") from error


def _secret_items(rng: random.Random) -> Iterator[Item]:
    contexts = list(_read("secret_contexts.jsonl"))
    for kind, make in TOKEN_FORMATS.items():
        for context in contexts:
            secret = make(rng)
            yield Item(f"secret/{kind}/{context['id']}", "hostile", "secrets",
                       context["text"].replace("{secret}", secret), (secret,))
    for kind, (line, make) in SPECIAL_LINES.items():
        for number in range(4):
            secret = make(rng)
            yield Item(f"secret/{kind}/{number}", "hostile", "secrets",
                       line.replace("{secret}", secret), (secret,))
    for context in _read("url_passwords.jsonl"):
        for number in range(3):
            password = _pick(rng, ALNUM, 8) + rng.choice("!~_-") + _pick(rng, ALNUM, 4)
            yield Item(f"secret/url-password/{context['id']}/{number}", "hostile", "secrets",
                       context["text"].replace("{password}", password), (password,))


def _key_items(rng: random.Random) -> Iterator[Item]:
    for kind in PEM_TYPES:
        for layout, render in PEM_LAYOUTS.items():
            for number in range(4):
                encrypted = number % 2 == 1 and kind in ("RSA PRIVATE KEY", "EC PRIVATE KEY")
                pem, body = _pem(rng, kind, encrypted)
                yield Item(f"key/{kind.split()[0].lower()}/{layout}/{number}", "hostile",
                           "private_keys", render(pem), tuple(body))


# Items written out in full: instructions as developers (and attackers) write them, injected
# comments, dangerous answers; and the benign real code lines build_benign.py picked.
WRITTEN = ("instructions_hostile.jsonl", "instructions_benign.jsonl", "injections.jsonl",
           "dangerous_output.jsonl", "benign_code.jsonl", "instructions_real.jsonl")


def _written_items() -> Iterator[Item]:
    for name in WRITTEN:
        for record in _read(name):
            if record.get("kind") not in ("hostile", "benign"):
                raise ValueError(f"{name}: item {record.get('id')} has no kind hostile/benign")
            yield Item(record["id"], record["kind"], record["category"], record["text"])


def load() -> list[Item]:
    """Every item, in a fixed order (the generator is seeded)."""
    rng = random.Random(SEED)
    return [*_secret_items(rng), *_key_items(rng), *_written_items()]
