"""The checks that judge a Fix candidate's scope: functions lost or removed, signatures
changed, lines changed outside the fixed region, and a return type jedi sees change.

Fix runs them after its own checks (the targeted diagnostic gone, nothing new reported); every
finding is made through ``hearth.core.pipeline.scoring``'s table.
"""

from __future__ import annotations

import ast
import difflib
import logging
import re
from dataclasses import dataclass
from pathlib import Path

from hearth.core.analysis.checks import Finding
from hearth.core.analysis.context import AnalysisContext
from hearth.core.pipeline.scoring import finding
from hearth.core.pipeline.edited import candidate_path, edited, functions_by_name, quoted_names
from hearth.core.pipeline.types import ActionRequest, Candidate, FunctionNode
from hearth.core.text import lines_of

log = logging.getLogger(__name__)


DEF_LINE = re.compile(r"^(\s*)(?:async\s+)?def\s+(\w+)\s*\((.*)$")


def _def_lines(source: str) -> dict[str, list[tuple[int, str]]]:
    """Functions by qualified name with (line, parameter text), read without parsing."""
    found: dict[str, list[tuple[int, str]]] = {}
    scopes: list[tuple[int, str]] = []  # (indent, name) of the enclosing classes/functions
    for number, line in enumerate(lines_of(source), 1):
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        while scopes and scopes[-1][0] >= indent:
            scopes.pop()
        match = DEF_LINE.match(line)
        class_match = re.match(r"^\s*class\s+(\w+)", line)
        if match:
            name = ".".join([s for _, s in scopes] + [match.group(2)])
            found.setdefault(name, []).append((number, re.sub(r"\s+", "", match.group(3))))
            scopes.append((indent, match.group(2)))
        elif class_match:
            scopes.append((indent, class_match.group(1)))
    return found


def _is_import_or_blank(line: str) -> bool:
    stripped = line.strip()
    return not stripped or stripped.startswith(("import ", "from ")) or stripped.startswith("#")


@dataclass(frozen=True)
class FixScopeCheck:
    """For Fix candidates (``Candidate.region``: 0-based inclusive lines of the original):
    functions lost or removed, signatures changed, lines changed outside the region."""

    def __call__(self, request: ActionRequest, candidate: Candidate) -> list[Finding]:
        region = candidate.region
        edit = edited(request, candidate)
        if region is None or edit is None:
            return []
        start, end = int(region[0]) + 1, int(region[1]) + 1  # as 1-based lines
        if edit.original is not None:
            before = {name: [(n.lineno, ast.dump(n.args)) for n in nodes]
                      for name, nodes in functions_by_name(edit.original).items()}
        else:  # fixing a syntax error: read the original's signatures line by line
            before = _def_lines(request.source)
        after = {name: [(n.lineno, ast.dump(n.args)) for n in nodes]
                 for name, nodes in functions_by_name(edit.tree).items()}
        if edit.original is None:
            after = _def_lines(edit.source)
        findings = []

        def inside(name: str) -> bool:
            return any(start <= line <= end for line, _ in before[name])

        gone = sorted(set(before) - set(after))
        lost = [name for name in gone if inside(name)]  # defined in the fixed region
        if lost:
            findings.append(finding("lost-function", "the edit removes "
                                    + ", ".join(n.rsplit(".", 1)[-1] for n in lost)))
        removed = [name for name in gone if not inside(name)]
        if removed:
            findings.append(finding("removed-function", f"removes {quoted_names(removed)}"))
        # Signatures inside the region are compared only when the original parses: fixing a
        # syntax error has no signature to keep.
        changed = sorted(
            name for name, defs in before.items() if name in after
            and (edit.original is not None or not inside(name))
            and {args for _, args in defs} != {args for _, args in after[name]})
        if changed:
            where = "" if all(inside(n) for n in changed) else ", outside the fixed region"
            findings.append(finding("signature-changed", f"changes the signature of "
                                    f"{quoted_names(changed)}{where}"))
        removed_imports = getattr(candidate.details, "removed_imports", ())
        outside = self._outside(request.source, edit.source, start, end,
                                frozenset(removed_imports))
        if outside:
            findings.append(finding("outside-region", f"changes line(s) {outside} outside "
                                    f"the fixed region ({start}-{end})"))
        return findings

    @staticmethod
    def _outside(original: str, new: str, start: int, end: int,
                 removed_imports: frozenset[str] = frozenset()) -> str:
        """Lines changed outside ``start``-``end``, except new imports and the imports the
        fix itself removed because it replaced their last use."""
        old_lines, new_lines = lines_of(original), lines_of(new)
        matcher = difflib.SequenceMatcher(None, old_lines, new_lines, autojunk=False)
        lines = []
        for tag, i1, i2, j1, j2 in matcher.get_opcodes():
            if tag == "equal":
                continue
            if tag == "insert":
                # Inserted next to the region, or new imports anywhere: part of the fix.
                if start - 1 <= i1 <= end or all(_is_import_or_blank(t) for t in new_lines[j1:j2]):
                    continue
                lines.append(i1 + 1)
                continue
            if all(_is_import_or_blank(t) for t in new_lines[j1:j2]) and all(
                    not t.strip() or t.strip() in removed_imports for t in old_lines[i1:i2]):
                continue
            lines += [i + 1 for i in range(i1, i2) if not start <= i + 1 <= end]
        if not lines:
            return ""
        return ", ".join(str(n) for n in lines[:5]) + (" ..." if len(lines) > 5 else "")


@dataclass(frozen=True)
class ReturnTypeCheck:
    """For Fix candidates: a function of the fixed region whose return value jedi infers
    to another type than before (``os.popen(cmd).read()``, a ``str``, "fixed" into
    ``subprocess.run(...)``, a ``CompletedProcess``). Functions jedi cannot infer on either
    side are not judged."""

    workspace: Path | None = None

    def __call__(self, request: ActionRequest, candidate: Candidate) -> list[Finding]:
        region = candidate.region
        edit = edited(request, candidate)
        if region is None or edit is None or edit.original is None:
            return []
        start, end = int(region[0]) + 1, int(region[1]) + 1
        before, after = functions_by_name(edit.original), functions_by_name(edit.tree)
        names = [name for name, nodes in before.items() if name in after
                 and len(nodes) == 1 and len(after[name]) == 1
                 and start <= nodes[0].lineno <= end]
        if not names:
            return []
        path = candidate_path(request, self.workspace)
        changed = []
        try:
            for name in names:
                old = _returned_types(request.analysis, request.source, before[name][0], path)
                new = _returned_types(request.analysis, edit.source, after[name][0], path)
                if old and new and not old & new:
                    changed.append(f"`{name.rsplit('.', 1)[-1]}` ({quoted_names(sorted(old))} -> "
                                   f"{quoted_names(sorted(new))})")
        except Exception:  # noqa: BLE001 - jedi's inference must never sink a candidate
            log.warning("jedi failed while inferring return types", exc_info=True)
            return []
        if not changed:
            return []
        return [finding("return-type-changed", "changes what " + ", ".join(changed)
                        + " returns")]


def _returned_types(analysis: AnalysisContext, source: str, node: FunctionNode,
                    path: Path) -> frozenset[str]:
    """The types jedi infers for what calling the function returns (full names)."""
    line = lines_of(source)[node.lineno - 1]
    column = line.find(node.name, node.col_offset)
    if column < 0:
        return frozenset()
    return _inferred_return(analysis, source, node.lineno, column, path)


def _inferred_return(analysis: AnalysisContext, source: str, line: int, column: int,
                     path: Path) -> frozenset[str]:
    # The original's answer serves every candidate, and samples are often identical.
    def infer() -> frozenset[str]:
        script = analysis.script(source, path)
        return frozenset(value.full_name or value.name for name in script.goto(line, column)
                         for value in name.execute())
    return analysis.memo(("returns", source, line, column, path), infer)
