"""Split code and prose into search terms: identifiers broken at snake_case and camelCase."""

from __future__ import annotations

import keyword
import re
from collections import Counter

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_CAMEL_PART = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")

STOP_WORDS = frozenset(
    """a an and are as at be by for from has have if in into is it its of on or that the
    this to was were will with self cls none true false return returns""".split()
) | frozenset(word.lower() for word in keyword.kwlist)


def identifiers(text: str) -> list[str]:
    """Every identifier-shaped word of ``text``, in order."""
    return _IDENTIFIER.findall(text)


def split_identifier(word: str) -> list[str]:
    """``parse_HTTPResponse2`` -> ``["parse", "http", "response", "2"]``."""
    parts: list[str] = []
    for piece in word.split("_"):
        parts.extend(part.lower() for part in _CAMEL_PART.findall(piece))
    return parts


def terms(text: str) -> list[str]:
    """BM25 terms: each identifier's parts, plus the whole identifier when it is compound;
    stop words, Python keywords and one-letter parts dropped; a plural "s" folded."""
    found: list[str] = []
    for word in identifiers(text):
        parts = split_identifier(word)
        whole = word.lower().strip("_")
        if len(parts) > 1 and whole:
            found.append(whole)
        found.extend(_fold(part) for part in parts if len(part) > 1 and part not in STOP_WORDS)
    return found


def _fold(term: str) -> str:
    if len(term) > 3 and term.endswith("s") and not term.endswith("ss"):
        return term[:-1]
    return term


def name_counts(text: str) -> Counter[str]:
    """How often each identifier occurs in ``text`` (for reference counts)."""
    return Counter(identifiers(text))
