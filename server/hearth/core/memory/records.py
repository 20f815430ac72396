"""Plain records the workspace index hands around: chunks, search hits and build statistics."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Chunk:
    """One retrievable piece of a file; lines are 1-based and inclusive.

    ``text`` is what a prompt shows (a method of a split class carries its class header
    first); ``has_docstring`` and ``defined_name`` feed the importance score. ``label`` is
    a definition's name and parameters in words (``Session.get_adapter(url)`` -> "session
    get adapter (url)"): the model embeds it as the chunk's second vector. It is known
    only to freshly chunked text (the store keeps the vector, not the label).
    """

    path: str
    kind: str
    name: str
    start_line: int
    end_line: int
    text: str
    has_docstring: bool = False
    defined_name: str = ""
    label: str = field(default="", compare=False)

    @property
    def line_count(self) -> int:
        return self.end_line - self.start_line + 1


@dataclass(frozen=True)
class Hit:
    """A chunk returned by a search, with the score that ranked it."""

    path: Path
    kind: str
    name: str
    start_line: int
    end_line: int
    score: float
    text: str


@dataclass(frozen=True)
class IndexStats:
    """What one build did: files and chunks now indexed, chunks embedded, wall time;
    ``truncated`` when the crawl stopped at ``max_files`` (the rest is not indexed)."""

    files: int
    chunks: int
    embedded: int
    elapsed_s: float
    removed: int = 0
    cancelled: bool = False
    rebuilt: bool = False
    truncated: bool = False
