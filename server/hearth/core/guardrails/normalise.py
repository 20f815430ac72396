"""The readings of a text that the instruction and context rules check: the text folded
(NFKC, look-alike letters from other scripts, invisible characters), the same with words
spelled out letter by letter or split by punctuation joined ("r.m -r-f", "d e l e t e"), and
any base64 or hex span in it decoded. A rule that matches any reading matches the text."""

from __future__ import annotations

import base64
import binascii
import re

from hearth.core.guardrails.rules import normalise

# Cyrillic and Greek letters drawn like Latin ones (the Unicode confusables a reader cannot tell
# apart in a code editor's font); NFKC keeps them, since they are different letters.
_HOMOGLYPHS = str.maketrans({
    "а": "a", "е": "e", "о": "o", "р": "p", "с": "c", "у": "y", "х": "x", "і": "i", "ј": "j",
    "ѕ": "s", "ԁ": "d", "һ": "h", "ԛ": "q", "ԝ": "w", "ɡ": "g", "ⅼ": "l", "ı": "i",
    "А": "A", "В": "B", "Е": "E", "К": "K", "М": "M", "Н": "H", "О": "O", "Р": "P", "С": "C",
    "Т": "T", "Х": "X", "У": "Y", "І": "I", "Ј": "J", "Ѕ": "S",
    "α": "a", "ο": "o", "ρ": "p", "ν": "v", "τ": "t", "κ": "k", "ι": "i", "υ": "u",
    "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M", "Ν": "N",
    "Ο": "O", "Ρ": "P", "Τ": "T", "Υ": "Y", "Χ": "X",
})
# Letters spelled out one by one: "d e l e t e", "r.m", "r-f", "d_r_o_p".
_SPELLED = re.compile(r"(?<![^\W_])[^\W_](?:[ .\-_*·][^\W_])+(?![^\W_])")
_BASE64 = re.compile(r"(?<![A-Za-z0-9+/=_-])[A-Za-z0-9+/_-]{8,}={0,2}(?![A-Za-z0-9+/=_-])")
_HEX = re.compile(r"(?<![0-9A-Fa-f])(?:[0-9A-Fa-f]{2}){6,}(?![0-9A-Fa-f])"
                  r"|(?:\\x[0-9A-Fa-f]{2}){6,}")
# At most this many spans are decoded, so a huge text cannot make the check slow.
_MAX_DECODED = 20


def fold(text: str) -> str:
    """NFKC, without invisible characters, with look-alike Cyrillic and Greek letters Latin."""
    return normalise(text).translate(_HOMOGLYPHS)


# Words cut by hyphens or dots inside them: "de-lete", "ig-nore pre-vious in-structions".
_CUT_WORD = re.compile(r"(?<=[^\W\d_])[-.·*](?=[^\W\d_])")


def _joined(text: str) -> str:
    # A joined reading is only ever checked in addition to the text itself, so joining
    # ordinary pieces ("e.g", "x-y", "in-memory") costs nothing.
    spelled = _SPELLED.sub(lambda match: re.sub(r"[ .\-_*·]", "", match.group()), text)
    return _CUT_WORD.sub("", spelled)


def _printable(data: bytes) -> str | None:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    readable = sum(ch.isprintable() or ch.isspace() for ch in text)
    return text if text and readable >= 0.9 * len(text) and re.search(r"[A-Za-z]{2}", text) \
        else None


def decoded_spans(text: str) -> list[str]:
    """The texts that base64 and hex spans of ``text`` decode to, when they decode to text."""
    found = []
    for match in _BASE64.finditer(text):
        span = match.group()
        try:
            data = base64.b64decode(span + "=" * (-len(span) % 4), altchars=b"-_"
                                    if "-" in span or "_" in span else None, validate=True)
        except (binascii.Error, ValueError):
            continue
        if (decoded := _printable(data)) is not None:
            found.append(decoded)
        if len(found) >= _MAX_DECODED:
            return found
    for match in _HEX.finditer(text):
        digits = match.group().replace("\\x", "")
        if (decoded := _printable(bytes.fromhex(digits))) is not None:
            found.append(decoded)
        if len(found) >= _MAX_DECODED:
            break
    return found


def readings(text: str) -> list[str]:
    """Every reading of ``text`` to check, the folded text first."""
    folded = fold(text)
    result = [folded]
    joined = _joined(folded)
    if joined != folded:
        result.append(joined)
    result += [fold(decoded) for decoded in decoded_spans(folded)]
    return result
