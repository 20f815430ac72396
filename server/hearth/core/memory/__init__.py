"""Workspace vector memory: index a workspace folder and retrieve the code most relevant
to a prompt. Importing this package is cheap; the embedding model loads on first use.

The API::

    index = WorkspaceIndex(root, cache_dir=None, settings=IndexSettings(exclude=[...]))
    stats = index.build(progress=lambda done, total: ..., cancel=lambda: False)  # IndexStats
    index.update_file(path, text=None)   # -> chunks embedded; on save / watched-file change
    index.remove_file(path)              # a deleted file, or every file below a folder
    index.search("parse the header", k=8, mode="hybrid")  # -> list[Hit]; "vector" | "bm25"
    index.context_for(query, budget_tokens=1024, exclude_path=path,
                      exclude_lines=(start, end), overlay={path: unsaved_text})
    index.close()

``build`` runs in the caller's thread (it takes seconds to minutes: call it from a worker);
every method is thread-safe for one writer and concurrent readers. Problems a user can fix
raise :class:`hearth.core.errors.HearthError`; a corrupt or mismatched store is rebuilt.
The store lives in the platformdirs user cache for "hearth" ($HEARTH_CACHE_DIR overrides
it), one folder per workspace; see docs/memory.md for the design and measurements.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hearth.core.memory.index import WorkspaceIndex
    from hearth.core.memory.records import Hit, IndexStats
    from hearth.core.memory.settings import IndexSettings

__all__ = ["Hit", "IndexSettings", "IndexStats", "WorkspaceIndex"]

# Where each name lives. The names load on first use (PEP 562), so that importing a submodule
# (the CLI needs only `settings`) does not load the index and, with it, numpy and hnswlib.
_HOMES = {"WorkspaceIndex": "hearth.core.memory.index", "Hit": "hearth.core.memory.records",
          "IndexStats": "hearth.core.memory.records",
          "IndexSettings": "hearth.core.memory.settings"}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
