"""Explain: the selection, or the enclosing function, explained in Markdown."""

from __future__ import annotations

import re
from dataclasses import dataclass

from hearth.core.actions.base import BaseAction
from hearth.core.analysis import RULES, scan
from hearth.core.analysis.python_targets import function_at
from hearth.core.errors import HearthError
from hearth.core.models.backend import ChatMessage, Completion
from hearth.core.pipeline.extract import as_model_text
from hearth.core.pipeline.prompt import (
    LANGUAGES,
    ContextSnippet,
    Prompt,
    fence,
    quoted_context,
    system_prompt,
)
from hearth.core.pipeline.scoring import finding
from hearth.core.pipeline.types import ActionRequest, Candidate, Offer
from hearth.core.text import split_lines

SECTIONS = ("What it does", "Inputs and outputs", "Edge cases", "Risks")
MAX_LINES = 200


@dataclass(frozen=True)
class Span:
    start: int  # 0-based, inclusive
    end: int
    name: str
    title: str = "Hearth: Explain"


@dataclass(frozen=True)
class ExplainDetails:
    span: list[int]  # the first and last line explained, from 1


def past_last_section(generated: str) -> bool:
    """Stop at a heading after the last section: the small model likes to add a
    'Conclusion' that contradicts what it said."""
    tail = generated.split(f"## {SECTIONS[-1]}", 1)
    return len(tail) == 2 and re.search(r"\n#+ \S", tail[1]) is not None


def span_for(request: ActionRequest) -> Span | None:
    lines = split_lines(request.source)
    if not request.source.strip():
        return None
    if request.selection:
        start, end = request.selection
        last = end.line - 1 if end.col == 0 and end.line > start.line else end.line
        return Span(start.line, min(last, len(lines) - 1), "the selection",
                    "Hearth: Explain selection")
    if request.language == "python":
        target = function_at(request.source, request.position, request.tree)
        if target is not None:
            return Span(target.def_line, target.end_line, f"`{target.qualname}`")
    # Elsewhere: the paragraph around the cursor (lines between blank lines).
    line = min(request.position.line, len(lines) - 1)
    if not lines[line].strip():
        return None
    start, end = line, line
    while start > 0 and lines[start - 1].strip():
        start -= 1
    while end + 1 < len(lines) and lines[end + 1].strip():
        end += 1
    return Span(start, end, f"lines {start + 1}-{end + 1}")


class ExplainAction(BaseAction[Span]):
    name = "explain"
    command = "hearth.explain"
    title = "Hearth: Explain"
    kind = "refactor"
    languages = frozenset(LANGUAGES)
    cli_help = "explain the function at FILE:LINE, or FILE:FIRST-LAST, in Markdown"
    makes_edits = False
    # One explanation: five took 38 s against 6 s for one (2026-12-02, 0.5B on 2 cores) and
    # are ranked by nothing but their sections.
    max_samples = 1
    # Six seconds of text: shown as it is written, under the header the answer will have.
    streams = True

    def offers(self, request: ActionRequest) -> list[Offer]:
        span = span_for(request) if request.language in self.languages else None
        return [Offer(span.title)] if span is not None else []

    def resolve(self, request: ActionRequest) -> Span:
        span = span_for(request)
        if span is None:
            raise self.not_applicable("Nothing to explain here",
                                      "Select code, or place the cursor in a function.")
        return span

    def prompt(self, request: ActionRequest, span: Span, context: list[ContextSnippet],
               max_tokens: int) -> Prompt:
        if span.end - span.start + 1 > MAX_LINES:
            raise HearthError(f"The selection has {span.end - span.start + 1} lines; Explain "
                              f"takes at most {MAX_LINES}.", "Select a smaller part.")
        lines = split_lines(request.source)
        code = as_model_text("".join(lines[span.start: span.end + 1]))
        risks = self._risks(request, span)
        risk_text = ("Hearth's security checks found:\n" + "\n".join(
            f"- line {f.line + 1}: {f.code} {f.message}" for f in risks) + "\n\n") if risks \
            else ""
        headings = "\n".join(f"## {title}" for title in SECTIONS)
        user = (quoted_context(context, request.language)
                + f"Explain this {request.language} code ({span.name}):\n"
                + fence(code, request.language) + "\n\n" + risk_text
                + "Write Markdown with exactly these sections, short and concrete:\n"
                + headings + "\nUnder Risks, discuss the security findings above if any, "
                             "else real risks you see, else say there are none.")
        system = system_prompt(request.language, "You explain code to a colleague precisely "
                                                 "and briefly.")
        return Prompt(messages=[ChatMessage("system", system), ChatMessage("user", user)],
                      prefill=f"## {SECTIONS[0]}\n", stop_when=past_last_section,
                      max_tokens=max(max_tokens, 400), context=context)

    @staticmethod
    def _risks(request: ActionRequest, span: Span):
        if request.language != "python":
            return []
        return [f for f in scan(request.source) if span.start <= f.line <= span.end]

    def candidate(self, request: ActionRequest, span: Span,
                  completion: Completion) -> Candidate:
        candidate = Candidate(completion)
        body = _body(completion.text).strip()
        found = [title for title in SECTIONS
                 if re.search(rf"^#+\s*{re.escape(title)}", body, re.MULTILINE | re.IGNORECASE)]
        words = len(re.findall(r"\w+", body))
        if words < 15:
            candidate.findings.append(finding("empty", "the explanation is empty"))
        missing = [title for title in SECTIONS if title not in found]
        if missing:
            candidate.findings.append(finding(
                "missing-sections", f"the explanation lacks: {', '.join(missing)}",
                scale=len(missing)))
        header = _header(request, span)
        checks = self._risks(request, span)
        found_section = "\n\n## Found by Hearth's checks\n" + (
            "\n".join(f"- line {f.line + 1}: **{f.code}** {f.message}. "
                      f"{RULES[f.code].explanation if f.code in RULES else ''}".rstrip()
                      for f in checks) if checks else "Nothing: no security rule fires here.")
        candidate.markdown = header + body + found_section + "\n"
        candidate.details = ExplainDetails([span.start + 1, span.end + 1])
        return candidate

    def preview(self, request: ActionRequest, span: Span, text: str) -> str:
        return _header(request, span) + _body(text)

    def finish(self, span: Span, best: Candidate, context: list[ContextSnippet]) -> None:
        if best.markdown is not None and context:
            best.markdown += "\n## Context used\n" + "".join(
                f"- `{c.path}` lines {c.start_line}-{c.end_line} ({c.name})\n"
                for c in context)


def _header(request: ActionRequest, span: Span) -> str:
    where = f"{request.path.name}:" if request.path else "line "
    return f"# Explanation of {span.name} ({where}{span.start + 1}-{span.end + 1})\n\n"


def _body(text: str) -> str:
    """The model's Markdown without a fence around it all, and without the heading past the
    last section that stopped it (which the final answer does not have either)."""
    body = _strip_outer_fence(text)
    if past_last_section(body):
        head, tail = body.split(f"## {SECTIONS[-1]}", 1)
        body = head + f"## {SECTIONS[-1]}" + re.split(r"\n#+ \S", tail, 1)[0]
    return body


def _strip_outer_fence(text: str) -> str:
    match = re.fullmatch(r"\s*```(?:markdown|md)?\n(.*?)\n?```\s*", text, re.DOTALL)
    return match.group(1) if match else text
