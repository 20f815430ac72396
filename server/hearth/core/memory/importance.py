"""Score how much a chunk is worth showing a model, from facts that need no model: a
docstring, a useful length, and how often its name is referenced across the workspace."""

from __future__ import annotations

import math

from hearth.core.memory.records import Chunk

DOCSTRING_WEIGHT = 0.3
LENGTH_WEIGHT = 0.2
REFERENCE_WEIGHT = 0.5
_USEFUL_LINES = 40
_MANY_REFERENCES = 30


def importance(chunk: Chunk, references: int) -> float:
    """A score in [0, 1]; ``references`` counts uses of the chunk's defined name in the
    workspace, its own definition excluded."""
    length = min(1.0, math.log1p(chunk.line_count) / math.log1p(_USEFUL_LINES))
    referenced = min(1.0, math.log1p(max(0, references)) / math.log1p(_MANY_REFERENCES))
    return (
        DOCSTRING_WEIGHT * chunk.has_docstring
        + LENGTH_WEIGHT * length
        + REFERENCE_WEIGHT * referenced
    )
