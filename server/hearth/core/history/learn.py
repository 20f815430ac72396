"""What the history teaches a new request: the user's accepted answers most like it (shown to
the model as examples), the rejected ones it must not repeat (a finding in ranking), and the
places whose code the user accepted (favoured in retrieval)."""

from __future__ import annotations

import ast
import difflib
import math
import re
from collections import Counter
from collections.abc import Iterable

from hearth.core.history.store import Entry
from hearth.core.memory.retrieve import estimate_tokens
from hearth.core.memory.tokens import terms

# Below it a past request has too little in common with this one for its answer to teach
# anything, and at most this many answers are shown. Chosen on the memory benchmark's dev
# project (docs/history.md): requests of the same convention scored 0.39 on average, others
# 0.09 (AUROC 0.96); the first run's 0.12, with no cap, showed up to six answers, most of them
# unrelated, for no gain and 3.7 s more per request.
MIN_SIMILARITY = 0.2
MAX_EXAMPLES = 3
# At most this many of the answers the user rejected for the very request are shown (newest
# first).
MAX_REJECTED = 2
# A candidate at least this close to a rejected answer (difflib's ratio over its code, blank
# lines and comments left out) repeats it.
REPEAT_RATIO = 0.9


def similarity(a: str, b: str) -> float:
    """Cosine of the two texts' term counts (identifier parts, as retrieval's BM25 reads
    them), in [0, 1]."""
    left, right = Counter(terms(a)), Counter(terms(b))
    if not left or not right:
        return 0.0
    dot = sum(count * right[term] for term, count in left.items())
    norm = math.sqrt(sum(c * c for c in left.values())) * math.sqrt(
        sum(c * c for c in right.values()))
    return dot / norm if norm else 0.0


def similar_accepted(entries: Iterable[Entry], query: str, budget_tokens: int,
                     exclude_source_hash: str | None = None, *,
                     min_similarity: float = MIN_SIMILARITY,
                     max_examples: int = MAX_EXAMPLES) -> list[Entry]:
    """The accepted answers whose request is most like ``query`` (the request's function or
    lines), best first, at most ``max_examples`` within ``budget_tokens``; one per target (the
    newest), none for the very text being asked about (``exclude_source_hash``: the same
    request again teaches nothing)."""
    scored: list[tuple[float, Entry]] = []
    seen: set[tuple[str | None, str | None]] = set()
    for entry in entries:  # newest first
        place = (entry.file, entry.target)
        if not entry.accepted or not entry.taught or place in seen:
            continue
        seen.add(place)
        if exclude_source_hash is not None and entry.source_hash == exclude_source_hash:
            continue
        score = similarity(query, entry.target_text or "")
        if score >= min_similarity:
            scored.append((score, entry))
    scored.sort(key=lambda item: -item[0])
    chosen, spent = [], 0
    for _, entry in scored:
        cost = estimate_tokens(entry.taught or "")
        if spent + cost <= budget_tokens and len(chosen) < max_examples:
            chosen.append(entry)
            spent += cost
    return chosen


_COMMENT = re.compile(r"#.*$")


def normalised_code(code: str) -> str:
    """Code without comments, blank lines and trailing blanks: what makes two answers the
    same answer."""
    lines = (_COMMENT.sub("", line).rstrip() for line in code.splitlines())
    return "\n".join(line for line in lines if line.strip())


def already_shown(answer: str, texts: Iterable[str]) -> bool:
    """Whether ``answer`` (its code, comments and blank lines aside) is already in one of
    ``texts`` (the document, the retrieved context): an accepted answer the user kept in the
    workspace is shown by retrieval, and showing it twice costs prompt time for nothing."""
    mine = normalised_code(answer)
    return bool(mine) and any(mine in normalised_code(text) for text in texts)


def repeated_rejection(code: str, rejected: Iterable[Entry]) -> Entry | None:
    """The rejected answer ``code`` repeats, if any."""
    mine = normalised_code(code)
    if not mine:
        return None
    for entry in rejected:
        theirs = normalised_code(entry.answer or "")
        if theirs and (theirs == mine or difflib.SequenceMatcher(
                None, mine, theirs, autojunk=False).ratio() >= REPEAT_RATIO):
            return entry
    return None


def function_text(source: str, qualname: str | None) -> str | None:
    """The source of the function ``qualname`` ("Class.method" or "name") in ``source``, or
    None when it is not there (or the source does not parse)."""
    if not qualname:
        return None
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return None
    *outer, name = qualname.split(".")
    scope: list[ast.stmt] = tree.body
    for part in outer:
        found = [node for node in scope if isinstance(node, ast.ClassDef) and node.name == part]
        if not found:
            return None
        scope = found[0].body
    for node in scope:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == name:
            return ast.get_source_segment(source, node, padded=True)
    return None
