"""Generate: write the body of a stub function (pass, ..., NotImplementedError, docstring only)."""

from __future__ import annotations

import ast
import re
import textwrap

from hearth.core.actions.base import ActionRequest, Candidate, Finding
from hearth.core.actions.python_targets import (
    FunctionTarget,
    function_at,
    is_stub_statement,
    parse_or_none,
)
from hearth.core.errors import HearthError
from hearth.core.models.backend import ChatMessage, Completion
from hearth.core.pipeline.extract import (
    find_function,
    function_body_source,
    longest_parsable_prefix,
    main_code,
    reindent,
)
from hearth.core.pipeline.prompt import (
    ContextSnippet,
    Prompt,
    fence,
    neighbourhood,
    python_imports,
    quoted_context,
    system_prompt,
)
from hearth.core.text import TextEdit, apply_edits, newline_of

PLACEHOLDER = re.compile(r"#\s*(TODO|FIXME|XXX)\b|your code here|implement (this|me)",
                         re.IGNORECASE)


def body_ended(generated: str) -> bool:
    """True once the model starts a line at the function's own level: the body is over.

    The prefill holds the signature dedented to column 0, so any non-blank line the model
    starts in column 0 (another def, a call, a closing fence) is past the body.
    """
    lines = generated.split("\n")
    if len(lines) < 2 or not any(line.strip() for line in lines[:-1]):
        return False
    return any(line[:1] not in ("", " ", "\t") for line in lines[1:])


def as_model_text(code: str) -> str:
    """Code as the model writes it: "\\n" line endings, four-space indents, dedented.

    The edit converts back to the document's own line endings and indentation.
    """
    lines = code.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    lines = [line.lstrip("\t") and "    " * (len(line) - len(line.lstrip("\t")))
             + line.lstrip("\t") for line in lines]
    return textwrap.dedent("\n".join(lines))


class GenerateAction:
    name = "generate"
    command = "hearth.generate"
    title = "Hearth: Generate implementation"

    def target(self, request: ActionRequest) -> FunctionTarget | None:
        if request.language != "python":
            return None
        target = function_at(request.source, request.position)
        return target if target is not None and target.is_stub else None

    def applies(self, request: ActionRequest) -> str | None:
        return self.title if self.target(request) is not None else None

    def prompt(self, request: ActionRequest, context: list[ContextSnippet],
               max_tokens: int) -> Prompt:
        target = self.target(request)
        if target is None:
            raise HearthError("There is no stub function at the cursor.",
                              "Place the cursor inside a function whose body is `pass`, `...`, "
                              "`raise NotImplementedError` or only a docstring.")
        tree = parse_or_none(request.source)
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
        )

    def candidate(self, request: ActionRequest, completion: Completion) -> Candidate:
        target = self.target(request)
        assert target is not None
        candidate = Candidate(completion)
        parsed = longest_parsable_prefix(main_code(completion.text))
        fn = find_function(parsed[0], target.name) if parsed else None
        if fn is None:
            candidate.findings.append(Finding(
                "no-function", f"the answer does not contain a function `{target.name}`",
                fatal=True))
            return candidate
        body = function_body_source(parsed[1], fn)
        statements = [node for node in fn.body if not (
            isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str))]
        if not statements or all(is_stub_statement(node) for node in statements):
            candidate.findings.append(Finding(
                "trivial-body", "the answer is itself a stub", fatal=True))
            return candidate
        newline = newline_of(request.source)
        edit = TextEdit(target.region_start, target.region_end,
                        newline + reindent(body, target.body_indent, newline))
        candidate.edits = [edit]
        candidate.new_source = apply_edits(request.source, [edit])
        if parse_or_none(request.source) is not None and parse_or_none(
                candidate.new_source) is None:
            candidate.findings.append(Finding(
                "syntax", "the file does not parse after the edit", fatal=True))
        if PLACEHOLDER.search(body):
            candidate.findings.append(Finding(
                "placeholder", "the body still contains a placeholder (TODO, FIXME, ...)",
                penalty=0.3))
        candidate.payload["function"] = target.qualname
        return candidate
