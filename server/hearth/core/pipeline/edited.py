"""What a candidate wrote, as the checks see it: its new source parsed, with the lines it
changed (what the user's file already had is not the candidate's fault), memoised per request on
its AnalysisContext; and the small helpers the checks and Fix share to name what they found."""

from __future__ import annotations

import ast
import difflib
from dataclasses import dataclass
from pathlib import Path

from hearth.core.analysis.findings import utf8_offset_to_column
from hearth.core.pipeline.types import ActionRequest, Candidate, FunctionNode
from hearth.core.text import lines_of

SHOWN = 3  # names quoted in one reason


@dataclass(frozen=True)
class Edited:
    """A candidate's new source, parsed, with the lines it wrote (1-based, of the new source)."""

    source: str
    tree: ast.Module
    original: ast.Module | None
    lines: frozenset[int]

    def touches(self, node: ast.AST) -> bool:
        start = getattr(node, "lineno", None)
        if start is None:
            return False
        end = getattr(node, "end_lineno", None) or start
        return any(line in self.lines for line in range(start, end + 1))

    def line_text(self, line: int) -> str:
        lines = lines_of(self.source)
        return lines[line - 1] if 0 < line <= len(lines) else ""

    def column(self, line: int, byte_offset: int) -> int:
        """ast's UTF-8 byte offset as the code-point column jedi expects."""
        return utf8_offset_to_column(self.line_text(line), byte_offset)


def written_lines(original: str, new: str) -> frozenset[int]:
    """The 1-based lines of ``new`` that are not unchanged lines of ``original``."""
    matcher = difflib.SequenceMatcher(None, lines_of(original), lines_of(new),
                                      autojunk=False)
    lines: set[int] = set()
    for tag, _, _, j1, j2 in matcher.get_opcodes():
        if tag != "equal":
            lines.update(range(j1 + 1, j2 + 1))
    return frozenset(lines)


def _edited(original: str, new: str) -> Edited | None:
    try:
        tree = ast.parse(new)
    except (SyntaxError, ValueError):
        return None
    try:
        before = ast.parse(original)
    except (SyntaxError, ValueError):
        before = None
    return Edited(new, tree, before, written_lines(original, new))


def edited(request: ActionRequest, candidate: Candidate) -> Edited | None:
    """The parsed candidate, or None when there is nothing Python to check."""
    if request.language != "python" or candidate.new_source is None:
        return None
    new = candidate.new_source
    return request.analysis.memo(("edited", request.source, new),
                                 lambda: _edited(request.source, new))


def quoted_names(nodes: list[str]) -> str:
    shown = ", ".join(f"`{name}`" for name in nodes[:SHOWN])
    return shown + (f" and {len(nodes) - SHOWN} more" if len(nodes) > SHOWN else "")


def plural(nodes: list[str], one: str, many: str) -> str:
    return one if len(nodes) == 1 else many


def candidate_path(request: ActionRequest, workspace: Path | None) -> Path:
    """Where jedi is told the code lives (a loose buffer gets a name in the workspace)."""
    return request.path or ((workspace or Path.cwd()) / "hearth_candidate.py")


def functions_by_name(tree: ast.Module) -> dict[str, list[FunctionNode]]:
    found: dict[str, list[FunctionNode]] = {}

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                found.setdefault(prefix + child.name, []).append(child)
                visit(child, f"{prefix}{child.name}.")
            elif isinstance(child, ast.ClassDef):
                visit(child, f"{prefix}{child.name}.")
            else:
                visit(child, prefix)

    visit(tree, "")
    return found
