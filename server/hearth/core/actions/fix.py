"""Fix: repair the flake8 or security diagnostic under the cursor with the smallest edit.

The edit covers the enclosing function or top-level statement. A candidate counts as a fix
only if the targeted diagnostic is gone, no new diagnostic appears, the code still parses, and
no function defined in the region is lost; otherwise it is never applied.
"""

from __future__ import annotations

import ast
import logging
import re
import textwrap
from dataclasses import dataclass, field

from hearth.core.actions.base import BaseAction
from hearth.core.actions.fix_checks import FixScopeCheck, ReturnTypeCheck
from hearth.core.actions.fix_names import meant_hint, name_to_use, renamed, undefined_name
from hearth.core.actions.fix_rules import rule_fix
from hearth.core.analysis import RULES, codes, new_findings
from hearth.core.analysis.python_targets import parse_or_none
from hearth.core.errors import HearthError
from hearth.core.models.backend import ChatMessage, Completion
from hearth.core.pipeline.extract import as_model_text, fence_closed, main_code, reindent
from hearth.core.pipeline.prompt import (
    ContextSnippet,
    Prompt,
    fence,
    python_imports,
    quoted_context,
    system_prompt,
)
from hearth.core.pipeline.scoring import finding
from hearth.core.pipeline.types import ActionRequest, Candidate, Diagnostic, Offer
from hearth.core.text import (
    Pos,
    TextEdit,
    apply_edits,
    indent_of,
    lines_of,
    newline_of,
    split_lines,
)

log = logging.getLogger(__name__)

MAX_REGION_LINES = 80
# How to fix the commonest flake8 findings; the security rules carry their own alternative.
HINTS = {
    "F401": "Delete the unused import (or only the unused name in it). If nothing is left, "
            "reply with an empty code block.",
    "F841": "Delete the assignment to the unused variable (keep any call it makes, if the call "
            "matters), or drop the unused `as` name of an except clause.",
    "E711": "Compare with None using `is` or `is not`.",
    "E712": "Use the truth value itself (`if x:` / `if not x:`) instead of comparing with "
            "True or False.",
    "F821": "The name is not defined: correct a misspelling of a name that exists, or add the "
            "missing import at the top of your answer.",
    "E999": "Fix the syntax error only.",
    # Security rules: the rule's own advice lists alternatives for a reader; the model needs
    # one instruction (measured on tests/fix_corpus: HS101 and HS103 went from refused to
    # fixed with these, docs/BENCHMARKS.md).
    "HS101": "Call ast.literal_eval instead of eval (with `import ast`) when the text is a "
             "Python literal; json.loads when it is JSON.",
    "HS102": "Call subprocess.run with the command as a list of arguments (with "
             "`import subprocess`) instead of os.system; no shell.",
    "HS103": "Pass the command as a list of arguments and remove shell=True.",
    "HS106": "Make the SQL a plain string (no f-string, no + or %) with a placeholder where "
             "each value went, and pass those values in a tuple as execute()'s second "
             "argument, for example cursor.execute(\"SELECT a FROM t WHERE b = ?\", (b,)).",
}


def analyse(request: ActionRequest, source: str) -> list[Diagnostic]:
    """The diagnostics Fix works from: flake8 and the security rules, as the user's policy
    asks (a rule they turned off is neither fixed nor held against a candidate)."""
    return request.analysis.diagnostics(source, request.path)


@dataclass(frozen=True)
class Region:
    start: int  # 0-based first line
    end: int  # 0-based last line, inclusive
    kind: str  # "function", "statement" or "lines"
    names: tuple[str, ...]  # functions defined in it


@dataclass(frozen=True)
class FixTarget:
    """The diagnostic to fix as it stands in the current text, the region the fix rewrites,
    and the original's diagnostics (computed once; every candidate is compared with them)."""

    diagnostic: Diagnostic
    region: Region
    before: tuple[Diagnostic, ...]
    title: str


@dataclass
class FixDetails:
    """What a Fix answer reports beyond its edit."""

    code: str
    region: tuple[int, int]
    added_imports: list[str] = field(default_factory=list)
    removed_imports: list[str] = field(default_factory=list)
    fixed: list[str] = field(default_factory=list)
    remaining: list[str] = field(default_factory=list)


def region_for(source: str, line: int) -> Region:
    """The smallest enclosing function, else the enclosing statement, else nearby lines."""
    tree = parse_or_none(source)
    lines = split_lines(source)
    if tree is None:  # a syntax error: the lines around it
        start, end = _trim_blank(lines, max(0, line - 3), min(len(lines) - 1, line + 3))
        return Region(start, end, "lines", ())
    best: ast.AST | None = None
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            start = min([d.lineno for d in node.decorator_list] + [node.lineno]) - 1
            if start <= line <= node.end_lineno - 1 and node.end_lineno - start <= MAX_REGION_LINES:
                if best is None or start >= _start(best):
                    best = node
    if best is None:
        statement = _innermost_statement(tree.body, line)
        if statement is not None and statement.end_lineno - statement.lineno < MAX_REGION_LINES:
            best = statement
    if best is None:
        start, end = _trim_blank(lines, max(0, line - 3), min(len(lines) - 1, line + 3))
        return Region(start, end, "lines", ())
    names = tuple(n.name for n in ast.walk(best)
                  if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)))
    kind = "function" if isinstance(best, (ast.FunctionDef, ast.AsyncFunctionDef)) else "statement"
    return Region(_start(best), best.end_lineno - 1, kind, names)


def _start(node: ast.AST) -> int:
    decorators = getattr(node, "decorator_list", [])
    return min([d.lineno for d in decorators] + [node.lineno]) - 1


def _innermost_statement(body: list[ast.stmt], line: int) -> ast.stmt | None:
    for node in body:
        if _start(node) <= line <= node.end_lineno - 1:
            for name in ("body", "orelse", "finalbody", "handlers"):
                inner = getattr(node, name, None)
                if isinstance(inner, list) and inner and not isinstance(node, ast.ClassDef):
                    found = _innermost_statement(inner, line)
                    if found is not None and found.end_lineno - found.lineno < 3:
                        return node  # keep a small compound statement whole
            if isinstance(node, ast.ClassDef):
                return _innermost_statement(node.body, line) or node
            return node
    return None


def fix_hint(code: str) -> str | None:
    """How to fix ``code``, as one instruction for the model: Fix's own hint when there is one,
    else the security rule's advice."""
    if code in HINTS:
        return HINTS[code]
    return RULES[code].alternative if code in RULES else None


def _trim_blank(lines: list[str], start: int, end: int) -> tuple[int, int]:
    """Blank lines at the edges stay outside the region: the model drops them, and the blank
    lines between definitions are the style checker's business."""
    while start < end and not lines[start].strip():
        start += 1
    while end > start and not lines[end].strip():
        end -= 1
    return start, end


def _in_region(finding: Diagnostic, start: int, end: int) -> bool:
    return start <= finding.line <= end


class FixAction(BaseAction[FixTarget]):
    name = "fix"
    command = "hearth.fix"
    title = "Hearth: Fix"
    kind = "quickfix"
    languages = frozenset({"python"})
    cli_help = "fix the flake8 or security diagnostic at FILE:LINE"

    def _diagnostics(self, request: ActionRequest) -> list[Diagnostic]:
        if request.diagnostics is not None:
            return request.diagnostics
        return analyse(request, request.source)

    def offers(self, request: ActionRequest) -> list[Offer]:
        if request.language not in self.languages:
            return []
        here = [d for d in self._diagnostics(request)
                if d.line <= request.position.line <= max(d.line, d.end_line)
                and request.extra.get("code") in (None, d.code)]
        # Errors and security findings first: `hearth fix FILE:LINE` takes the first one.
        rank = {"error": 0, "warning": 1, "information": 2, "hint": 3}
        here.sort(key=lambda d: (rank.get(str(d.severity), 4), d.source != "hearth", d.column))
        return [Offer(f"Hearth: Fix {d.code}: {d.message}",
                      data={"code": d.code, "line": d.line, "message": d.message},
                      diagnostics=(d,))
                for d in here]

    def resolve(self, request: ActionRequest) -> FixTarget:
        """The diagnostic this fix is for, as it stands in the current text."""
        wanted_code = request.extra.get("code")
        wanted_line = request.extra.get("line", request.position.line)
        current = analyse(request, request.source)
        matches = [d for d in current if (wanted_code is None or d.code == wanted_code)
                   and d.line <= request.position.line + 1 and d.end_line >= wanted_line - 1]
        if not matches and wanted_code is None:
            matches = [d for d in current if d.line == request.position.line]
        if not matches:
            raise HearthError(
                f"There is no {wanted_code or 'diagnostic'} at line {request.position.line + 1} "
                "any more: nothing to fix.")
        diagnostic = min(matches, key=lambda d: abs(d.line - wanted_line))
        return FixTarget(diagnostic, region_for(request.source, diagnostic.line),
                         tuple(current), f"Hearth: Fix {diagnostic.code}: {diagnostic.message}")

    def prompt(self, request: ActionRequest, target: FixTarget, context: list[ContextSnippet],
               max_tokens: int) -> Prompt:
        diagnostic, region = target.diagnostic, target.region
        lines = split_lines(request.source)
        snippet = as_model_text("".join(lines[region.start: region.end + 1]))
        flagged = lines[diagnostic.line].strip()
        imports = python_imports(request.source, request.tree)
        user = quoted_context(context, "python")
        if imports and region.kind != "statement":
            user += "The module's imports (for reference, do not repeat them):\n" + fence(
                imports, "python") + "\n\n"
        user += (f"{diagnostic.source} reports {diagnostic.code}: {diagnostic.message}\n"
                 f"on this line: `{flagged}`\n"
                 + (f"Why it matters: {diagnostic.explanation}\n" if diagnostic.explanation
                    else "")
                 + (f"How to fix it: {hint}\n" if (hint := fix_hint(diagnostic.code)) else "")
                 + (f"{meant}\n" if diagnostic.code == "F821"
                    and (meant := meant_hint(request, diagnostic.message)) else "")
                 + f"The line `{flagged}` is what is wrong: it must not appear unchanged in "
                   "your answer.\n"
                 + "\nThe code to fix:\n" + fence(snippet, "python")
                 + "\n\nReply with the corrected version of exactly this code in one ```python "
                   "block. Change as little as possible: fix this problem only, keep every "
                   "other line, name and signature as it is. Put any import the fix needs "
                   "first in the block.")
        system = system_prompt("python", "You fix one reported problem with the smallest "
                                         "possible change.")
        return Prompt(messages=[ChatMessage("system", system), ChatMessage("user", user)],
                      prefill="```python\n", stop_when=fence_closed, max_tokens=max_tokens,
                      context=context)

    def rule_answers(self, request: ActionRequest, target: FixTarget) -> list[Completion]:
        """A textbook rewrite (fix_rules) for the finding, as an answer to check like the
        model's; none when no rule applies."""
        diagnostic, region = target.diagnostic, target.region
        code = rule_fix(request.source, diagnostic.code, diagnostic.message, diagnostic.line,
                        (region.start, region.end))
        if code is None and diagnostic.code == "F821":
            code = self._project_name(request, target)
        if code is None:
            return []
        return [Completion(f"```python\n{code}```", 0, "stop", 0.0, prefilled=True)]

    @staticmethod
    def _project_name(request: ActionRequest, target: FixTarget) -> str | None:
        """An undefined name replaced by the one definition of the package it surely stands
        for (its exception class, a name spelt alike), with the import: ``fix_names``."""
        name = undefined_name(target.diagnostic.message)
        if name is None:
            return None
        try:
            meant = name_to_use(request, name)
        except (OSError, ValueError, RecursionError):
            log.warning("Could not read the package around %s", request.path, exc_info=True)
            return None
        if meant is None:
            return None
        return renamed(request, (target.region.start, target.region.end), name, meant)

    def candidate(self, request: ActionRequest, target: FixTarget,
                  completion: Completion) -> Candidate:
        diagnostic, region = target.diagnostic, target.region
        lines = split_lines(request.source)
        details = FixDetails(diagnostic.code, (region.start, region.end))
        candidate = Candidate(completion, region=(region.start, region.end), details=details)
        code = textwrap.dedent(as_model_text(main_code(completion.text))).strip("\n")
        if not code.strip() and region.kind != "statement":
            candidate.findings.append(finding("empty", "the answer has no code"))
            return candidate
        newline = newline_of(request.source)
        hoisted: list[str] = []
        if region.kind != "statement" or not _is_import_block(code):
            code, hoisted = _split_new_imports(code, request.source)
        indent = indent_of(lines[region.start])
        last = lines[region.end].rstrip("\r\n")
        new_text = reindent(code, indent, newline) if code.strip() else ""
        edits = [TextEdit(Pos(region.start, 0), Pos(region.end, len(last)), new_text)]
        if not new_text:  # the fix deletes the statement: take its line ending too
            edits = [TextEdit(Pos(region.start, 0), Pos(region.end + 1, 0), "")]
        anchor = _import_anchor(request.source)
        if hoisted and anchor > region.start:
            candidate.findings.append(finding(
                "misplaced-import", "the fix needs an import that cannot go at the top"))
            return candidate
        added = "".join(line + newline for line in hoisted)
        # An import whose last use the fix replaced (os.system -> subprocess.run) goes too,
        # or the fix would trade its finding for an F401.
        dropped = _imports_left_unused(request.source, apply_edits(request.source, edits),
                                       region)
        for number in dropped:
            if number + 1 == anchor:  # the last import: the new ones take its line
                edits.append(TextEdit(Pos(number, 0), Pos(anchor, 0), added))
                added = ""
            else:
                edits.append(TextEdit(Pos(number, 0), Pos(number + 1, 0), ""))
        if added:
            edits.append(TextEdit(Pos(anchor, 0), Pos(anchor, 0), added))
        details.added_imports = hoisted
        details.removed_imports = [lines[n].strip() for n in dropped]
        candidate.edits = edits
        candidate.new_source = apply_edits(request.source, edits)
        if candidate.new_source == request.source:
            candidate.findings.append(finding("unchanged", "the answer repeats the code as it "
                                                           "was"))
            return candidate
        self._check(request, target, candidate, new_text,
                    shift=len(hoisted) - sum(n < region.start for n in dropped))
        candidate.findings.extend(FixScopeCheck()(request, candidate))  # cheap: AST only
        if candidate.usable:  # jedi's inference only for an answer that could be taken
            candidate.findings.extend(ReturnTypeCheck(request.workspace)(request, candidate))
        return candidate

    def _check(self, request: ActionRequest, target: FixTarget, candidate: Candidate,
               new_text: str, shift: int = 0) -> None:
        diagnostic, region, before = target.diagnostic, target.region, list(target.before)
        after_source = candidate.new_source or ""
        if parse_or_none(after_source) is None:
            candidate.findings.append(finding("syntax", "the fixed file does not parse"))
            return
        after = analyse(request, after_source)
        new_start = region.start + shift  # imports added above move the region down
        repaired = _repair_blank_lines(new_findings(before, after), new_text, new_start,
                                       newline_of(request.source))
        if repaired is not None:  # a blank line too many or too few: not worth a refusal
            candidate.edits[0] = TextEdit(candidate.edits[0].start, candidate.edits[0].end,
                                          repaired)
            after_source = apply_edits(request.source, candidate.edits)
            candidate.new_source, new_text = after_source, repaired
            after = analyse(request, after_source)
        new_end = new_start + max(0, len(lines_of(new_text)) - 1)
        here_before = sum(1 for d in before if d.code == diagnostic.code
                          and _in_region(d, region.start, region.end))
        here_after = sum(1 for d in after if d.code == diagnostic.code
                         and _in_region(d, new_start, new_end))
        if here_after >= here_before:
            candidate.findings.append(finding("not-fixed",
                                              f"{diagnostic.code} is still reported"))
        introduced = new_findings(before, after)
        if introduced:
            shown = ", ".join(f"{d.code} ({d.message})" for d in introduced[:3])
            candidate.findings.append(finding("new-diagnostic", f"the edit introduces {shown}"))
        # A fix that stops reading a parameter has lost the user's data (a SQL value dropped
        # instead of passed); only a dead assignment (F841) may have been its one reader.
        dropped = _parameters_read(request.source, region.names) - _parameters_read(
            after_source, region.names)
        if dropped and diagnostic.code != "F841":
            candidate.findings.append(finding(
                "dropped-input", "the edit stops using "
                + ", ".join(f"`{name}`" for name in sorted(p for _, p in dropped))))
        fixed = codes(before) - codes(after)
        candidate.details.fixed = sorted(fixed.elements())
        candidate.details.remaining = sorted(f"{d.code}:{d.line + 1}" for d in after)


BLANK_LINE_RULES = frozenset({"E301", "E302", "E303", "E305", "E306"})
_EXPECTED_BLANK = re.compile(r"expected (\d+) blank lines?.*?found (\d+)")
_TOO_MANY_BLANK = re.compile(r"too many blank lines \((\d+)\)")


def _repair_blank_lines(introduced: list[Diagnostic], new_text: str, new_start: int,
                        newline: str) -> str | None:
    """``new_text`` (the region's replacement, its first line at ``new_start``) with the
    blank lines that pycodestyle's E30x findings it introduced ask for added or removed;
    None when there are none to repair (or the text is empty)."""
    found = sorted((d for d in introduced if d.code in BLANK_LINE_RULES),
                   key=lambda d: d.line, reverse=True)
    if not found or not new_text:
        return None
    lines = new_text.split(newline)
    for found_here in found:
        at = found_here.line - new_start
        if at < 0:
            continue
        at = min(at, len(lines))
        if expected := _EXPECTED_BLANK.search(found_here.message):
            missing = int(expected.group(1)) - int(expected.group(2))
            lines[at:at] = [""] * max(0, missing)
        elif (too_many := _TOO_MANY_BLANK.search(found_here.message)) and at < len(lines):
            allowed = 1 if indent_of(lines[at]) else 2
            extra = int(too_many.group(1)) - allowed
            while extra > 0 and at > 0 and not lines[at - 1].strip():
                del lines[at - 1]
                at, extra = at - 1, extra - 1
    repaired = newline.join(lines)
    return repaired if repaired != new_text else None


IMPORT_LINE = re.compile(r"^(import\s+[\w.]+(\s+as\s+\w+)?(\s*,\s*[\w.]+(\s+as\s+\w+)?)*"
                         r"|from\s+[\w.]+\s+import\s+[\w*][\w\s,]*)\s*$")


def _is_import_block(code: str) -> bool:
    return all(IMPORT_LINE.match(line.strip()) for line in lines_of(code) if line.strip())


def _split_new_imports(code: str, source: str) -> tuple[str, list[str]]:
    """Take the import lines the answer puts before its code: the ones the module already
    has are dropped, new ones go to the module's imports (returned)."""
    existing = {line.strip() for line in lines_of(source) if IMPORT_LINE.match(line.strip())}
    lines = lines_of(code)
    new: list[str] = []
    while lines and (not lines[0].strip() or IMPORT_LINE.match(lines[0].strip())):
        line = lines.pop(0).strip()
        if line and line not in existing and line not in new:
            new.append(line)
    return "\n".join(lines).strip("\n"), new


def _import_anchor(source: str) -> int:
    """The line before which new imports go: after the last top-level import, else after
    the module docstring, else at the top."""
    tree = parse_or_none(source)
    if tree is None or not tree.body:
        return 0
    imports = [node for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))]
    if imports:
        return imports[-1].end_lineno
    first = tree.body[0]
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(
            first.value.value, str):
        return first.end_lineno
    return 0


def _imports_left_unused(source: str, edited: str, region: Region) -> list[int]:
    """Lines (0-based) of the top-level imports outside ``region`` that ``source`` uses and
    ``edited`` no longer does. Only a one-line import of one name without a comment is
    taken: anything else is left for the checks to report."""
    tree, after = parse_or_none(source), parse_or_none(edited)
    if tree is None or after is None:
        return []
    used_before, used_after = _used_names(tree), _used_names(after)
    lines = split_lines(source)
    dropped = []
    for node in tree.body:
        if not isinstance(node, (ast.Import, ast.ImportFrom)) or len(node.names) != 1:
            continue
        number = node.lineno - 1
        if node.end_lineno != node.lineno or region.start <= number <= region.end \
                or "#" in lines[number] or ";" in lines[number]:
            continue
        alias = node.names[0]
        if alias.name == "*" or isinstance(node, ast.ImportFrom) and node.module == "__future__":
            continue
        bound = alias.asname or alias.name.split(".")[0]
        if bound in used_before and bound not in used_after:
            dropped.append(number)
    return dropped


def _used_names(tree: ast.AST) -> set[str]:
    """Names the module reads, and the strings of its ``__all__``."""
    names = {node.id for node in ast.walk(tree)
             if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Store)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(
                isinstance(target, ast.Name) and target.id == "__all__"
                for target in node.targets):
            names.update(item.value for item in ast.walk(node.value)
                         if isinstance(item, ast.Constant) and isinstance(item.value, str))
    return names


def _parameters_read(source: str, names: tuple[str, ...]) -> set[tuple[str, str]]:
    """(function, parameter) for each parameter that the named functions read in their
    bodies: a fix that stops reading one (a SQL value dropped instead of passed as a
    parameter) has lost the user's data, not fixed the code."""
    tree = parse_or_none(source)
    if tree is None:
        return set()
    read = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name in names:
            arguments = node.args
            parameters = {a.arg for a in (*arguments.posonlyargs, *arguments.args,
                                          *arguments.kwonlyargs, arguments.vararg,
                                          arguments.kwarg) if a is not None}
            loads = {n.id for statement in node.body for n in ast.walk(statement)
                     if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
            read |= {(node.name, name) for name in parameters & loads}
    return read
