"""Pulling code out of a model's answer: fences, prose around it, a sample cut off mid-line."""

from __future__ import annotations

import ast
import re
import textwrap

FENCE = re.compile(r"^[ \t]*```[\w+#.-]*[ \t]*$", re.MULTILINE)


def code_blocks(answer: str) -> list[str]:
    """Fenced blocks in order; an unclosed last fence counts (the sample may be cut off)."""
    marks = list(FENCE.finditer(answer))
    if not marks:
        return []
    blocks = []
    for index in range(0, len(marks), 2):
        start = marks[index].end() + 1
        end = marks[index + 1].start() if index + 1 < len(marks) else len(answer)
        blocks.append(answer[start:end])
    return blocks


def main_code(answer: str) -> str:
    """The code in an answer: the longest fenced block, else the whole answer."""
    blocks = code_blocks(answer)
    if blocks:
        return max(blocks, key=len)
    return answer


def longest_parsable_prefix(code: str) -> tuple[ast.Module, str] | None:
    """Parse ``code``, dropping trailing lines until it parses (a sample cut off by max_tokens)."""
    lines = code.splitlines(keepends=True)
    for end in range(len(lines), 0, -1):
        candidate = "".join(lines[:end])
        try:
            return ast.parse(candidate), candidate
        except (SyntaxError, ValueError):
            continue
    return None


def function_body_source(code: str, fn: ast.FunctionDef | ast.AsyncFunctionDef) -> str:
    """The body's lines as the model wrote them (comments kept), without a docstring, dedented."""
    lines = code.splitlines(keepends=True)
    body = fn.body
    first = body[0]
    if (isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
            and isinstance(first.value.value, str)):
        body = body[1:]
    if not body:
        return ""
    if body[0].lineno == fn.lineno:  # `def f(x): return x`
        text = lines[fn.lineno - 1][body[0].col_offset:]
        return text if text.endswith("\n") else text + "\n"
    start = body[0].lineno - 1
    # Comment lines just above the first statement belong to the body.
    while start - 1 > fn.lineno - 1 and lines[start - 1].strip().startswith("#"):
        start -= 1
    end = body[-1].end_lineno or body[-1].lineno
    text = "".join(lines[start:end])
    return textwrap.dedent(text if text.endswith("\n") else text + "\n")


def reindent(block: str, indent: str, newline: str = "\n") -> str:
    """Indent every non-blank line of a dedented block, matching the file's tabs or spaces."""
    use_tabs = indent.startswith("\t")
    out = []
    for line in block.splitlines():
        if not line.strip():
            out.append("")
            continue
        if use_tabs:
            stripped = line.lstrip(" ")
            line = "\t" * ((len(line) - len(stripped)) // 4) + stripped
        out.append(indent + line)
    return newline.join(out)


def fence_closed(generated: str) -> bool:
    return "\n```" in generated or generated.startswith("```")


def as_model_text(code: str) -> str:
    """Code as the model writes it: "\\n" line endings, four-space indents, dedented.

    The edit converts back to the document's own line endings and indentation.
    """
    lines = code.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    lines = [line.lstrip("\t") and "    " * (len(line) - len(line.lstrip("\t")))
             + line.lstrip("\t") for line in lines]
    return textwrap.dedent("\n".join(lines))
