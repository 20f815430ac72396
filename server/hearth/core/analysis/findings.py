"""The plain record every analyser in Hearth reports (`Finding`), and helpers to compare sets of
findings and to turn Python's positions into the code-point positions findings use."""

from __future__ import annotations

import enum
import io
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

FindingSource = Literal["flake8", "hearth"]


class Severity(str, enum.Enum):
    """How loudly a finding should be shown (the names match LSP's DiagnosticSeverity)."""

    ERROR = "error"
    WARNING = "warning"
    INFORMATION = "information"
    HINT = "hint"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class Finding:
    """One problem found in a source text.

    Lines and columns are 0-based; columns count Unicode code points within the line (Python
    ``str`` indices), so the LSP layer can convert them to UTF-16 or UTF-8 as the client asks.
    The range is half-open: ``end_column`` is the first column after the problem.
    """

    code: str
    message: str
    line: int
    column: int
    end_line: int
    end_column: int
    severity: Severity
    source: FindingSource
    url: str | None = None
    explanation: str | None = None


def codes(findings: Iterable[Finding]) -> Counter[str]:
    """How many findings there are of each code."""
    return Counter(finding.code for finding in findings)


# Some messages name a line ("redefinition of unused 'x' from line 3"); an edit that moves
# code shifts that number without making the finding new.
_LINE_REFERENCE = re.compile(r"\bline \d+")


def _identity(finding: Finding) -> tuple[str, str]:
    return finding.code, _LINE_REFERENCE.sub("line N", finding.message)


def new_findings(before: Iterable[Finding], after: Iterable[Finding]) -> list[Finding]:
    """The findings in ``after`` that ``before`` does not already have.

    Findings are matched by code and message, not by position, so code that merely moved
    (lines inserted above it) does not count as new; each finding in ``before`` matches at
    most one in ``after``, so a second copy of an old problem does count.
    """
    unmatched = Counter(_identity(finding) for finding in before)
    added = []
    for finding in after:
        identity = _identity(finding)
        if unmatched[identity] > 0:
            unmatched[identity] -= 1
        else:
            added.append(finding)
    return added


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def without_lone_surrogates(source: str) -> str:
    """``source`` with each lone surrogate (which a client's JSON can carry, and which no
    UTF-8 file can hold) as U+FFFD: compile() refuses the text otherwise. One code point for
    one, and the same length in UTF-8 and UTF-16, so every position stays where it was."""
    return _LONE_SURROGATE.sub("\ufffd", source) if _LONE_SURROGATE.search(source) else source


def source_lines(source: str) -> list[str]:
    """Split ``source`` into lines the way Python's tokenizer and LSP clients do.

    ``\\r\\n``, ``\\r`` and ``\\n`` each end a line (and come back as ``\\n``); other
    characters that ``str.splitlines`` would split on (form feed, U+2028...) do not.
    """
    return io.StringIO(source, newline=None).readlines()


def utf8_offset_to_column(line: str, byte_offset: int) -> int:
    """Convert a UTF-8 byte offset within ``line`` (what ``ast`` reports) to a code-point index."""
    if byte_offset <= 0:
        return 0
    prefix = line.encode("utf-8", errors="surrogatepass")[:byte_offset]
    return len(prefix.decode("utf-8", errors="ignore"))
