"""Reading the security corpus: the vulnerable (and safe) snippets, and the judged findings.

A snippet is a small Python file whose first line says what the rules must find in it:
``# expect: HS101`` (several ids: ``# expect: HS103 HS106``) or ``# expect: none``. A judged
finding is keyed by its file (the scanned root's folder name and the path below it), its rule
and the text of its line, not its line number, so that it survives edits elsewhere in the file.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
SNIPPETS = HERE / "snippets"
JUDGED = HERE / "judged.toml"
VERDICTS = ("real", "wrong")
_EXPECT = re.compile(r"#\s*expect:\s*(?P<ids>none|(?:HS1\d\d\s*)+)\s*$")


@dataclass(frozen=True)
class Snippet:
    path: Path
    source: str
    expected: tuple[str, ...]


def snippets() -> list[Snippet]:
    """Every snippet, sorted by name; a snippet without a valid first line is a ValueError."""
    found = []
    for path in sorted(SNIPPETS.glob("*.py")):
        source = path.read_text(encoding="utf-8")
        match = _EXPECT.fullmatch(source.split("\n", 1)[0])
        if match is None:
            raise ValueError(f"{path.name}: the first line must be '# expect: HS1xx ...' or "
                             "'# expect: none'")
        ids = match.group("ids")
        found.append(Snippet(path, source, () if ids == "none" else tuple(ids.split())))
    return found


def judged() -> dict[tuple[str, str, str], dict]:
    """(file, rule, line text) -> the judged entry, with its verdict and why."""
    entries = tomllib.loads(JUDGED.read_text(encoding="utf-8")).get("finding", [])
    table = {}
    for entry in entries:
        missing = {"file", "line", "rule", "code", "verdict", "why"} - entry.keys()
        if missing or entry["verdict"] not in VERDICTS:
            raise ValueError(f"judged.toml: bad entry {entry!r} (missing {sorted(missing)} or "
                             f"a verdict not in {VERDICTS})")
        table[(entry["file"], entry["rule"], entry["code"])] = entry
    return table


def finding_key(item: dict) -> tuple[str, str, str]:
    return item["file"], item["rule"], item["code"]


def bandit_verdict(item: dict, table: dict, hearth_rules: set[str]) -> dict | None:
    """The verdict on a bandit finding: judged for bandit itself, or for the Hearth rule that
    flags the same line for the same reason."""
    own = table.get((item["file"], item["test_id"], item["code"]))
    if own is not None:
        return own
    for rule in sorted(hearth_rules):
        shared = table.get((item["file"], rule, item["code"]))
        if shared is not None:
            return shared
    return None


def line_text(path: Path, line: int) -> str:
    """Line ``line`` (1-based) of ``path``, stripped; "" past the end."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return ""
    return lines[line - 1].strip() if 0 < line <= len(lines) else ""
