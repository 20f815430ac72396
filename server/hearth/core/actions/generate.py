"""Generate: write code where the user asked for it.

Three ways to ask: a Python stub function (pass, ..., NotImplementedError, docstring only); a
``# TODO: <instruction>`` or ``# hearth: <instruction>`` comment line, replaced by the code
(any supported language, with its own comment syntax); a selection plus an instruction (the
command's ``instruction`` argument), replaced by the rewritten code.
"""

from __future__ import annotations

import ast
import functools
import re
import textwrap
from dataclasses import dataclass

from hearth.core.actions.base import BaseAction
from hearth.core.actions.generate_imports import import_edit
from hearth.core.pipeline.generated_tests import parse_tests, tests_prompt
from hearth.core.pipeline.types import ActionRequest, Candidate, Offer, TestsRequest
from hearth.core.analysis.python_targets import (
    FunctionTarget,
    find_function,
    function_at,
    is_stub_statement,
)
from hearth.core.models.backend import ChatMessage, Completion
from hearth.core.pipeline.extract import (
    as_model_text,
    fence_closed,
    function_body_source,
    longest_parsable_prefix,
    main_code,
    reindent,
)
from hearth.core.pipeline.scoring import finding
from hearth.core.pipeline.prompt import (
    LANGUAGES,
    ContextSnippet,
    Prompt,
    fence,
    neighbourhood,
    python_imports,
    quoted_context,
    system_prompt,
)
from hearth.core.pipeline.syntax import parses
from hearth.core.text import (
    Pos,
    TextEdit,
    apply_edits,
    indent_of,
    lines_of,
    newline_of,
    offset_of,
    split_lines,
)

PLACEHOLDER = re.compile(r"(#|//|--)\s*(TODO|FIXME|XXX)\b|your code here|implement (this|me)",
                         re.IGNORECASE)
TODO_LINE = re.compile(r"^(?P<indent>[ \t]*)(?P<mark>#|//|--)\s*(?:TODO|hearth)\b[:\s-]*"
                       r"(?P<instruction>\S.*?)\s*$", re.IGNORECASE)
STUB_TITLE = "Hearth: Generate implementation"


def body_ended(generated: str) -> bool:
    """True once the model starts a line at the function's own level: the body is over.

    The prefill holds the signature dedented to column 0, so any non-blank line the model
    starts in column 0 (another def, a call, a closing fence) is past the body.
    """
    lines = generated.split("\n")
    if len(lines) < 2 or not any(line.strip() for line in lines[:-1]):
        return False
    return any(line[:1] not in ("", " ", "\t") for line in lines[1:])


def _dedented_below(generated: str, depth: int) -> bool:
    """True once a complete non-blank line starts left of ``depth``: the block is over."""
    complete = generated.split("\n")[:-1]
    return any(line.strip() and len(line) - len(line.lstrip()) < depth for line in complete)


def _fenced_or_dedented(generated: str, depth: int) -> bool:
    return fence_closed(generated) or _dedented_below(generated, depth)


def _continuation(code: str, lead: str, depth: int) -> str:
    """What the model wrote after the block's lead, up to the end of the block, dedented."""
    if code.startswith(lead):
        code = code[len(lead):]
    else:  # an answer that was not prefilled: skip its copy of the lead, if any
        lead_lines = {line.strip() for line in lines_of(lead) if line.strip()}
        lines = lines_of(code)
        while lines and lines[0].strip() in lead_lines:
            lines.pop(0)
        code = "\n".join(lines)
    kept = []
    for line in lines_of(code):
        if line.strip() and len(line) - len(line.lstrip()) < depth:
            break
        kept.append(line)
    return textwrap.dedent("\n".join(kept))


@dataclass(frozen=True)
class GenerateDetails:
    """What a TODO or instruction answer reports beyond its edit."""

    instruction: str


@dataclass(frozen=True)
class Plan:
    """What Generate will do at a position; found without the model."""

    mode: str  # "stub" | "todo" | "instruction"
    title: str
    start: Pos  # the region replaced
    end: Pos
    indent: str
    instruction: str = ""
    function: FunctionTarget | None = None
    lead: str = ""  # todo: the enclosing block from its opener down to the TODO, as model text
    lead_indent: int = 0  # todo: the TODO's indentation within ``lead``, in spaces


class GenerateAction(BaseAction[Plan]):
    name = "generate"
    command = "hearth.generate"
    title = STUB_TITLE
    kind = "refactor.rewrite"
    languages = frozenset(LANGUAGES)
    cli_help = "implement the stub at FILE:LINE, a TODO line, or a range with --instruction"
    takes_instruction = True
    # Measured on 16 held-out tasks of the real-code corpus (docs/BENCHMARKS.md, 2026-12-03):
    # the 1.5B model with one sample passed 5 in a median 25 s, the 0.5B model with five
    # samples 1 in 17 s, a cascade of the two 5 in 44 s.
    default_model = "qwen2.5-coder-1.5b"
    default_samples = 1

    # -- finding what to do -------------------------------------------------------------------
    def plan(self, request: ActionRequest) -> Plan | None:
        if request.language not in self.languages:
            return None
        lines = split_lines(request.source)
        if request.instruction and request.selection:
            return self._instruction_plan(request, lines)
        if request.language == "python":
            target = function_at(request.source, request.position, request.tree)
            if target is not None and target.is_stub:
                return Plan("stub", STUB_TITLE, target.region_start, target.region_end,
                            target.body_indent, function=target)
        if 0 <= request.position.line < len(lines):
            line = lines[request.position.line].rstrip("\r\n")
            match = TODO_LINE.match(line)
            if match and match.group("mark") == LANGUAGES[request.language]["comment"]:
                instruction = match.group("instruction")
                short = instruction if len(instruction) <= 48 else instruction[:47] + "…"
                lead, lead_indent = self._lead(lines, request.position.line,
                                               match.group("indent"))
                return Plan("todo", f"Hearth: Generate code for “{short}”",
                            Pos(request.position.line, 0),
                            Pos(request.position.line, len(line)), match.group("indent"),
                            instruction=instruction, lead=lead, lead_indent=lead_indent)
        return None

    @staticmethod
    def _lead(lines: list[str], line: int, indent: str, limit: int = 25) -> tuple[str, int]:
        """The lines from the enclosing block's opener down to ``line``, so the model can
        continue the block at the TODO's indentation instead of rewriting it."""
        if not indent:
            return "", 0
        for opener in range(line - 1, max(-1, line - limit - 1), -1):
            text = lines[opener]
            if text.strip() and len(indent_of(text)) < len(indent):
                block = as_model_text("".join(lines[opener:line]) + indent + "x")
                *head, marker = block.split("\n")
                return "\n".join(head) + "\n", len(marker) - 1
        return "", 0

    def _instruction_plan(self, request: ActionRequest, lines: list[str]) -> Plan:
        start, end = request.selection
        if end.col == 0 and end.line > start.line:  # a selection of whole lines
            end = Pos(end.line - 1, len(lines[end.line - 1].rstrip("\r\n")))
        first = lines[start.line]
        whole_lines = start.col <= len(indent_of(first))
        if whole_lines:
            start = Pos(start.line, 0)
            end = Pos(end.line, len(lines[end.line].rstrip("\r\n")))
        return Plan("instruction", "Hearth: Generate from instruction", start, end,
                    indent_of(first) if whole_lines else "", instruction=request.instruction or "")

    def offers(self, request: ActionRequest) -> list[Offer]:
        plan = self.plan(request)
        return [Offer(plan.title)] if plan is not None else []

    def resolve(self, request: ActionRequest) -> Plan:
        plan = self.plan(request)
        if plan is None:
            raise self.not_applicable(
                "Nothing to generate here",
                "Place the cursor in a stub function (pass, ..., raise NotImplementedError, "
                "a docstring only), on a `# TODO: <instruction>` line, or select code and give "
                "an instruction.")
        return plan

    # -- asking the model -----------------------------------------------------------------------
    def prompt(self, request: ActionRequest, plan: Plan, context: list[ContextSnippet],
               max_tokens: int) -> Prompt:
        if plan.mode == "stub":
            return self._stub_prompt(request, plan, context, max_tokens)
        language = request.language
        lines = split_lines(request.source)
        if plan.mode == "todo":
            around = self._marked(lines, plan.start.line)
            task = (f"Task: {plan.instruction}\nWrite only the {language} statements that take "
                    "the place of the line marked `<<< HERE`. Do not repeat the code around "
                    "it (no enclosing function or class header, no closing braces of the "
                    f"enclosing code). Answer with one ```{LANGUAGES[language]['fence']} "
                    "block, no explanation.")
            user = (quoted_context(context, language)
                    + "The code around the place:\n" + fence(around, language) + "\n\n" + task)
        else:
            selected = self._selected_text(request, plan)
            surroundings = neighbourhood(request.source, plan.start.line, plan.end.line)
            task = (f"Rewrite the selected code as instructed: {plan.instruction}. Answer with "
                    f"only the new code in one ```{LANGUAGES[language]['fence']} block.")
            user = (quoted_context(context, language) + "The code around the selection:\n"
                    + fence(surroundings, language) + "\n\nThe selected code:\n"
                    + fence(as_model_text(selected), language) + "\n\n" + task)
        system = system_prompt(language, "You write exactly the code the user asks for, "
                                         "fitting the surrounding code.")
        stop_when = fence_closed
        if plan.lead:
            stop_when = functools.partial(_fenced_or_dedented, depth=plan.lead_indent)
        return Prompt(messages=[ChatMessage("system", system), ChatMessage("user", user)],
                      prefill=f"```{LANGUAGES[language]['fence']}\n" + plan.lead,
                      stop_when=stop_when, max_tokens=max_tokens, context=context)

    @staticmethod
    def _marked(lines: list[str], line: int, before: int = 40, after: int = 15) -> str:
        window = [text.rstrip("\r\n") for text in lines[max(0, line - before): line + after]]
        offset = line - max(0, line - before)
        window[offset] = window[offset] + "  <<< HERE"
        return "\n".join(window)

    @staticmethod
    def _selected_text(request: ActionRequest, plan: Plan) -> str:
        lines = split_lines(request.source)
        return request.source[offset_of(lines, plan.start): offset_of(lines, plan.end)]

    def _stub_prompt(self, request: ActionRequest, plan: Plan, context: list[ContextSnippet],
                     max_tokens: int) -> Prompt:
        target = plan.function
        assert target is not None
        tree = request.tree
        signature = as_model_text(target.header + target.docstring_source)
        parts = []
        imports = python_imports(request.source, tree)
        surroundings = neighbourhood(request.source, target.def_line, target.end_line)
        if imports:
            parts.append("The module's imports:\n" + fence(imports, "python"))
        parts.append("The code around the function:\n" + fence(surroundings, "python"))
        if target.class_context:
            parts.append("The function is a method of this class:\n"
                         + fence(target.class_context, "python"))
        parts.append(f"Implement `{target.qualname}` completely. Keep its signature and "
                     "docstring exactly as they are. Answer with the whole function in one "
                     "```python block.\n" + fence(signature, "python"))
        user = quoted_context(context, "python") + "\n\n".join(parts)
        system = system_prompt("python", "You implement functions that the user has left as "
                                         "stubs.")
        return Prompt(
            messages=[ChatMessage("system", system), ChatMessage("user", user)],
            prefill="```python\n" + signature,
            stop_when=body_ended,
            max_tokens=max_tokens,
            context=context,
            # At a temperature the small model often closed the fence right after the
            # docstring (3 of 5 samples on short stubs): an empty body, a wasted sample.
            must_continue=True,
        )

    def tests_request(self, request: ActionRequest, plan: Plan) -> TestsRequest | None:
        """Tests of a module-level Python stub, from its signature and docstring alone (the
        ranker can only run module-level functions)."""
        target = plan.function
        if (plan.mode != "stub" or target is None or request.language != "python"
                or not target.docstring_source.strip() or target.qualname != target.name):
            return None
        signature = as_model_text(target.header + target.docstring_source)
        return TestsRequest(tests_prompt(target.name, signature),
                            functools.partial(parse_tests, name=target.name))

    # -- checking an answer ---------------------------------------------------------------------
    def candidate(self, request: ActionRequest, plan: Plan,
                  completion: Completion) -> Candidate:
        if plan.mode == "stub":
            candidate = self._stub_candidate(request, plan, completion)
        else:
            candidate = self._code_candidate(request, plan, completion)
        if candidate.new_source is not None:
            self._check_syntax(request, candidate)
        return candidate

    def _stub_candidate(self, request: ActionRequest, plan: Plan,
                        completion: Completion) -> Candidate:
        target = plan.function
        assert target is not None
        candidate = Candidate(completion, function=target.qualname)
        parsed = longest_parsable_prefix(main_code(completion.text))
        fn = find_function(parsed[0], target.name) if parsed else None
        if fn is None:
            candidate.findings.append(finding(
                "no-function", f"the answer does not contain a function `{target.name}`"))
            return candidate
        body = function_body_source(parsed[1], fn)
        statements = [node for node in fn.body if not (
            isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str))]
        if not statements or all(is_stub_statement(node) for node in statements):
            candidate.findings.append(finding(
                "trivial-body", "the answer is itself a stub"))
            return candidate
        newline = newline_of(request.source)
        self._edit(request, candidate, plan, newline + reindent(body, plan.indent, newline))
        if request.language == "python" and (added := import_edit(
                request, candidate.new_source or "")) is not None:
            # The function uses a name of its package (or a standard module) the file does
            # not import: the model cannot write the import in a stub's answer.
            candidate.edits = [added, *candidate.edits]
            candidate.new_source = apply_edits(request.source, candidate.edits)
        if PLACEHOLDER.search(body):
            candidate.findings.append(finding(
                "placeholder", "the body still contains a placeholder (TODO, FIXME, ...)"))
        return candidate

    def _code_candidate(self, request: ActionRequest, plan: Plan,
                        completion: Completion) -> Candidate:
        candidate = Candidate(completion, details=GenerateDetails(plan.instruction))
        code = as_model_text(main_code(completion.text))
        if plan.lead:
            code = _continuation(code, plan.lead, plan.lead_indent)
        code = code.strip("\n")
        if not code.strip():
            candidate.findings.append(finding("empty", "the answer has no code"))
            return candidate
        if plan.mode == "todo" and self._repeats_surroundings(request, plan, code):
            candidate.findings.append(finding(
                "repeats-context", "the answer repeats the code around the TODO instead of "
                "writing what replaces it"))
            return candidate
        newline = newline_of(request.source)
        text = reindent(code, plan.indent, newline)
        if plan.mode == "instruction" and not plan.indent and plan.start.col > 0:
            text = text.lstrip()
        self._edit(request, candidate, plan, text)
        if PLACEHOLDER.search(code):
            candidate.findings.append(finding(
                "placeholder", "the code still contains a placeholder (TODO, FIXME, ...)"))
        return candidate

    @staticmethod
    def _repeats_surroundings(request: ActionRequest, plan: Plan, code: str) -> bool:
        """True if the answer's first line is a line just above the TODO (its enclosing
        function's header, say): pasted in place of the comment it would nest a copy."""
        lines = split_lines(request.source)
        above = {line.strip() for line in lines[max(0, plan.start.line - 5): plan.start.line]
                 if len(line.strip()) > 3}
        first = next((line.strip() for line in lines_of(code) if line.strip()), "")
        return first in above

    @staticmethod
    def _edit(request: ActionRequest, candidate: Candidate, plan: Plan, text: str) -> None:
        edit = TextEdit(plan.start, plan.end, text)
        candidate.edits = [edit]
        candidate.new_source = apply_edits(request.source, [edit])

    @staticmethod
    def _check_syntax(request: ActionRequest, candidate: Candidate) -> None:
        before = parses(request.language, request.source)
        after = parses(request.language, candidate.new_source or "")
        if before and after is False:
            candidate.findings.append(finding(
                "syntax", "the file does not parse after the edit"))
        elif before is False and after is False and request.language == "python":
            # The file was already broken elsewhere: the new code must parse on its own.
            new_code = "".join(edit.new_text for edit in candidate.edits)
            if parses("python", textwrap.dedent(new_code.strip("\r\n"))) is False:
                candidate.findings.append(finding(
                    "syntax", "the generated code does not parse"))
