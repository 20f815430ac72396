"""Retrieval as a pipeline step: the workspace memory's best chunks for an action's request."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from hearth.core.pipeline.types import ActionRequest
from hearth.core.analysis.python_targets import function_at
from hearth.core.memory import Hit, IndexSettings, WorkspaceIndex
from hearth.core.memory.crawl import IgnoreRules
from hearth.core.memory.retrieve import estimate_tokens
from hearth.core.pipeline.prompt import ContextSnippet
from hearth.core.pipeline.used_names import used_names_context
from hearth.core.text import split_lines

QUERY_LINES = 12  # lines either side of the cursor that make up the query


def query_for(request: ActionRequest) -> tuple[str, tuple[int, int]]:
    """What to search for, and the 1-based lines being edited (never offered as context)."""
    lines = split_lines(request.source)
    target = function_at(request.source, request.position, request.tree) \
        if request.language == "python" else None
    if target is not None:
        first, last = target.def_line, target.end_line
    else:
        first = max(0, request.position.line - QUERY_LINES)
        last = min(len(lines) - 1, request.position.line + QUERY_LINES)
    text = "".join(lines[first: last + 1])
    if request.instruction:
        text = request.instruction + "\n" + text
    return text.strip() or request.source[:2000], (first + 1, last + 1)


def snippet(hit: Hit, root: Path) -> ContextSnippet:
    try:
        shown = str(hit.path.relative_to(root))
    except ValueError:
        shown = str(hit.path)
    return ContextSnippet(path=shown, name=hit.name, start_line=hit.start_line,
                          end_line=hit.end_line, text=hit.text, score=hit.score)


NAMES_SHARE = 0.5  # of the context budget at most, for the names the code uses


def memory_context(index_for: Callable[[Path | None], WorkspaceIndex | None],
                   budget_tokens: int,
                   overlay: Callable[[], Mapping[Path, str]] = dict,
                   settings: IndexSettings | None = None,
                   favoured: set[tuple[str, str]] | None = None,
                   ) -> Callable[[ActionRequest], list[ContextSnippet]]:
    """A context provider for ``run_action``: first the project names the target uses or its
    module imports (headers and docstrings, pipeline.used_names), then the workspace index's
    best chunks in the rest of the budget. ``favoured``: (workspace-relative path, name) of
    the code the user accepted (the history), ranked higher among the chunks."""
    rules = IgnoreRules(settings or IndexSettings())

    def provide(request: ActionRequest) -> list[ContextSnippet]:
        workspace = request.workspace

        def allowed(rel_path: str) -> bool:  # what the index leaves out is not shown either
            return workspace is None or not rules.excludes(workspace, rel_path)

        names = used_names_context(request, int(budget_tokens * NAMES_SHARE), allowed)
        spent = sum(estimate_tokens(s.text) for s in names)
        hits = _index_hits(request, budget_tokens - spent)
        # A name whose whole definition the index also found is shown once, in full.
        names = [name for name in names if not any(
            hit.path == name.path and hit.start_line <= name.start_line <= hit.end_line
            for hit in hits)]
        return names + hits

    def _index_hits(request: ActionRequest, budget_tokens: int) -> list[ContextSnippet]:
        index = index_for(request.path)
        if index is None or budget_tokens <= 0:
            return []
        query, edited = query_for(request)
        inside = request.path is not None and request.path.resolve().is_relative_to(index.root)
        hits = index.context_for(query, budget_tokens=budget_tokens,
                                 exclude_path=request.path.resolve() if inside else None,
                                 exclude_lines=edited if inside else None, overlay=overlay(),
                                 favoured=favoured)
        return [snippet(hit, index.root) for hit in hits]
    return provide
