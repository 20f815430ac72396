"""Where the secrets with a known shape are in a text: private key blocks, cloud and service
tokens, passwords in URLs. detect-secrets' regex plugins find most token formats; the patterns
here cover what they miss (PEM blocks whole, OpenAI project keys, fine-grained GitHub tokens,
npm, Google, Azure SAS and connection-string keys, Hugging Face, Stripe test keys)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache

# A private key block from its header to its footer, whatever the key type (RSA, EC, DSA,
# OpenSSH, PKCS#8, encrypted, PGP, SSH2), across real line breaks and "\n" escapes inside a
# string literal alike. 20,000 characters holds an 8192-bit RSA key with room to spare.
_PEM_HEADER = re.compile(r"-{4,5} ?BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)? ?-{4,5}")
_PEM_FOOTER = re.compile(r"-{4,5} ?END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)? ?-{4,5}")
_PEM_LIMIT = 20_000
# Without a footer (a truncated paste), the block runs as long as it looks like key material:
# long base64 runs, the headers of an encrypted key, and the quotes, "+" and "\n" escapes of a
# literal split over lines. Short words (the code that follows) end it.
_PEM_BODY = re.compile(r"(?:\\[nr]|[\s\"'+,]|[A-Za-z0-9+/=]{16,}|(?:Proc-Type|DEK-Info|Comment)"
                       r":[^\n\\]*)*")
_PUTTY_KEY = re.compile(r"PuTTY-User-Key-File-\d:[\s\S]{0,8000}?Private-MAC: ?[0-9a-f]+")

# Formats detect-secrets 1.5 does not know, or knows too narrowly (its OpenAI plugin needs the
# legacy "T3BlbkFJ" marker, its npm plugin only reads .npmrc lines, its Azure plugin wants
# exactly 88 characters).
_HAND_FORMATS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("OpenAI or Anthropic key", re.compile(
        r"(?<![\w-])sk-(?:proj-|svcacct-|admin-|ant-(?:api|admin)\d\d-)?[A-Za-z0-9_-]{32,}")),
    ("GitHub token", re.compile(r"(?<!\w)(?:gh[pousr]_[A-Za-z0-9]{36,}"
                                r"|github_pat_[A-Za-z0-9_]{40,})")),
    ("GitLab token", re.compile(r"(?<!\w)gl(?:pat|dt|rt|ptt|cbt|oas)-[A-Za-z0-9_-]{20,}")),
    ("npm token", re.compile(r"(?<!\w)npm_[A-Za-z0-9]{36}(?!\w)")),
    ("PyPI token", re.compile(r"(?<!\w)pypi-AgE[A-Za-z0-9_-]{50,}")),
    ("Slack token", re.compile(r"(?<!\w)xox[abposr]-[A-Za-z0-9-]{10,}")),
    ("Slack webhook", re.compile(r"https://hooks\.slack\.com/services/[A-Za-z0-9_/]{20,}")),
    ("Google API key", re.compile(r"(?<![\w-])AIza[0-9A-Za-z_-]{35}(?![\w-])")),
    ("Google OAuth client secret", re.compile(r"(?<![\w-])GOCSPX-[A-Za-z0-9_-]{28}")),
    ("Stripe key", re.compile(r"(?<!\w)(?:sk|rk)_(?:live|test)_[0-9A-Za-z]{16,}"
                              r"|(?<!\w)whsec_[0-9A-Za-z]{24,}")),
    ("Hugging Face token", re.compile(r"(?<!\w)hf_[A-Za-z0-9]{34,}")),
    ("AWS access key id", re.compile(r"(?<![A-Z0-9])(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}"
                                     r"(?![A-Z0-9])")),
    ("JSON Web Token", re.compile(
        r"(?<![\w-])eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")),
    # Azure connection strings and SAS URLs: the key is the secret, the rest is an address.
    ("Azure key", re.compile(r"(?i:AccountKey|SharedAccessKey|SharedSecretValue)=\s*"
                             r"(?P<secret>[A-Za-z0-9+/]{30,}={0,2})")),
    ("Azure SAS signature", re.compile(r"[?&;]sig=(?P<secret>[A-Za-z0-9%+/]{30,}(?:%3D|=){0,2})")),
    ("AWS secret access key", re.compile(
        r"(?i:aws_?secret_?(?:access_?)?key)[\"']?\s*[:=]\s*[\"']?(?P<secret>[A-Za-z0-9/+]{40})"
        r"(?![A-Za-z0-9/+])")),
    # scheme://user:password@host; the password may hold anything but the delimiters.
    ("password in a URL", re.compile(
        r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s:/?#@\"'`]+:(?P<secret>[^\s/?#@\"'`]{3,})@[\w.-]+")),
)

# detect-secrets plugins whose patterns name a real secret format. The entropy and keyword
# plugins are left out (hashes in lock files and every `password = ...` line would count),
# and so are the IP-address and Artifactory plugins, whose short patterns match ordinary code.
_DETECT_SECRETS_PLUGINS = (
    "AWSKeyDetector", "AzureStorageKeyDetector", "BasicAuthDetector", "CloudantDetector",
    "DiscordBotTokenDetector", "GitHubTokenDetector", "GitLabTokenDetector",
    "IbmCloudIamDetector", "IbmCosHmacDetector", "JwtTokenDetector", "MailchimpDetector",
    "NpmDetector", "OpenAIDetector", "PypiTokenDetector", "SendGridDetector", "SlackDetector",
    "SoftlayerDetector", "SquareOAuthDetector", "StripeDetector", "TelegramBotTokenDetector",
    "TwilioKeyDetector",
)
# Plugins whose first group is the secret itself (in the others it is a prefix, e.g. "glpat").
_GROUP_IS_SECRET = frozenset({"AWSKeyDetector", "BasicAuthDetector", "CloudantDetector",
                              "IbmCloudIamDetector", "IbmCosHmacDetector", "NpmDetector",
                              "SoftlayerDetector"})
_TOKEN_CHARS = re.compile(r"[A-Za-z0-9_\-+/=]")
_JWT_CHARS = re.compile(r"[A-Za-z0-9_\-+/=.]")

# A real key is random; "ghp_xxxx..." or "AKIA0000000000000000" is a placeholder.
_MIN_DISTINCT_CHARACTERS = 8
_PLACEHOLDER_WORDS = re.compile(r"EXAMPLE|x{6,}|X{6,}|\*{3,}|\.\.\.|<[^>]*>|\$\{|\{\{", re.I)


@cache
def _plugin_patterns() -> tuple[tuple[str, re.Pattern[str]], ...]:
    """(plugin name, pattern) for every detect-secrets plugin used; empty without the package."""
    try:
        from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class
    except ImportError:  # the hand formats still hold the common tokens
        return ()
    classes = {cls.__name__: cls for cls in get_mapping_from_secret_type_to_class().values()}
    return tuple((name, pattern) for name in _DETECT_SECRETS_PLUGINS if name in classes
                 for pattern in classes[name].denylist)


_URL_PLACEHOLDERS = frozenset({"password", "passwd", "pass", "pwd", "secret", "changeme", "pw",
                               "token", "xxx", "user", "username", "mypassword", "yourpassword"})
_URL_TEMPLATE = re.compile(r"[<>{}%$*]|^[A-Z][A-Z0-9_]+$")
_PASSWORD_KINDS = frozenset({"password in a URL", "BasicAuthDetector"})


def _looks_like_url_password(value: str) -> bool:
    return (len(set(value)) >= 3 and value.lower() not in _URL_PLACEHOLDERS
            and _URL_TEMPLATE.search(value) is None)


def _looks_random(token: str) -> bool:
    return (len(set(token)) >= _MIN_DISTINCT_CHARACTERS
            and _PLACEHOLDER_WORDS.search(token) is None)


def private_key_spans(text: str) -> Iterator[tuple[int, int]]:
    """(start, end) of every private key block in ``text``, header to footer."""
    position = 0
    while (header := _PEM_HEADER.search(text, position)) is not None:
        footer = _PEM_FOOTER.search(text, header.end(), header.end() + _PEM_LIMIT)
        if footer is not None:
            end = footer.end()
        else:
            body = _PEM_BODY.match(text, header.end())
            end = body.end() if body else header.end()
            # Trailing quotes, spaces and escapes belong to the code around the key.
            while end > header.end() and (text[end - 1] in " \t\r\n\"'+," or
                                          text[end - 2:end] in ("\\n", "\\r")):
                end -= 2 if text[end - 2:end] in ("\\n", "\\r") else 1
        yield header.start(), end
        position = end
    for match in _PUTTY_KEY.finditer(text):
        yield match.span()


def _widen(text: str, start: int, end: int, chars: re.Pattern[str]) -> tuple[int, int]:
    """The span grown to the whole run of token characters around it, so that a plugin pattern
    that stops early (a JWT without its signature) still covers the whole token."""
    while start > 0 and chars.fullmatch(text[start - 1]):
        start -= 1
    while end < len(text) and chars.fullmatch(text[end]):
        end += 1
    return start, end


def _plugin_spans(line: str) -> Iterator[tuple[str, int, int]]:
    for name, pattern in _plugin_patterns():
        for match in pattern.finditer(line):
            if name in _GROUP_IS_SECRET and match.lastindex:
                group = next((i for i in range(match.lastindex, 0, -1) if match.group(i)), 0)
                yield name, match.start(group), match.end(group)
                continue
            start, end = match.span()
            while start < end and not _TOKEN_CHARS.fullmatch(line[start]):
                start += 1
            while end > start and not _TOKEN_CHARS.fullmatch(line[end - 1]):
                end -= 1
            chars = _JWT_CHARS if name == "JwtTokenDetector" else _TOKEN_CHARS
            yield (name, *_widen(line, start, end, chars))


def _hand_spans(line: str) -> Iterator[tuple[str, int, int]]:
    for kind, pattern in _HAND_FORMATS:
        for match in pattern.finditer(line):
            group = "secret" if "secret" in pattern.groupindex else 0
            yield kind, match.start(group), match.end(group)


def token_spans(text: str, *, use_plugins: bool = True,
                use_hand_rules: bool = True) -> list[tuple[int, int]]:
    """(start, end) of every key, token and URL password in ``text``, private key blocks
    included, without overlaps. The two switches exist to measure each source alone."""
    spans = list(private_key_spans(text))
    offset = 0
    for line in text.splitlines(keepends=True):
        found = []
        if use_plugins:
            found += _plugin_spans(line)
        if use_hand_rules:
            found += _hand_spans(line)
        for kind, start, end in found:
            value = line[start:end]
            if (_looks_like_url_password(value) if kind in _PASSWORD_KINDS
                    else end - start >= 8 and _looks_random(value)):
                spans.append((offset + start, offset + end))
        offset += len(line)
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def tokens_in(text: str, **sources: bool) -> list[str]:
    """The texts of ``token_spans``, each once, in order."""
    return list(dict.fromkeys(text[start:end] for start, end in token_spans(text, **sources)))
