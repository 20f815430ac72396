"""The fill-in-the-middle prompt of an inline completion.

Qwen2.5-Coder's own format: the workspace's code as files of a repository
(``<|file_sep|>path`` blocks after ``<|repo_name|>``), then the document with a hole at the
cursor: ``<|fim_prefix|>`` before it, ``<|fim_suffix|>`` after it, ``<|fim_middle|>`` where the
answer starts ("psm" order). The model's prompt cache keeps the longest common start of the
previous prompt, so what stays the same while the user types comes first: the context (chosen
once per region of the file) and the window's start, which moves in steps of ``WINDOW_STEP``
lines rather than with every new line. A key then costs the typed token and the suffix after
it. "spm" order (suffix first) would cost only the typed token, but the instruct models wrote
stray indentation and Markdown fences in it; "prefix" (no hole, the text before the cursor
continued) is kept for measurements (docs/completion.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from hearth.core.text import Pos, split_lines

FIM_PREFIX = "<|fim_prefix|>"
FIM_SUFFIX = "<|fim_suffix|>"
FIM_MIDDLE = "<|fim_middle|>"
FILE_SEP = "<|file_sep|>"
REPO_NAME = "<|repo_name|>"
SPECIAL = (FIM_PREFIX, FIM_SUFFIX, FIM_MIDDLE, FILE_SEP, REPO_NAME, "<|endoftext|>",
           "<|im_start|>", "<|im_end|>", "<|fim_pad|>")
# Where the model ends a hole, besides its end-of-text token.
STOPS = ("<|endoftext|>", FILE_SEP, REPO_NAME, FIM_PREFIX, FIM_SUFFIX, FIM_MIDDLE,
         "<|im_end|>")
WINDOW_STEP = 16

Order = Literal["psm", "spm", "prefix"]


@dataclass(frozen=True)
class ContextFile:
    """A piece of workspace code shown to the model as a file of the repository."""

    path: str
    text: str


@dataclass(frozen=True)
class FimPrompt:
    text: str
    prefix: str  # the document's text shown before the cursor (its window)
    suffix: str  # and after it


def scrub(text: str) -> str:
    """``text`` without the model's special tokens: a file that contains one (this one does)
    must not steer the prompt's structure."""
    for token in SPECIAL:
        if token in text:
            text = text.replace(token, token.replace("|", "\u2758"))
    return text


def window(source: str, position: Pos, prefix_lines: int, suffix_lines: int) -> tuple[str, str]:
    """The text before and after ``position``, cut to whole lines at both ends: at least
    ``prefix_lines`` lines before the cursor's line and ``suffix_lines`` after it, with both
    ends moving in steps of WINDOW_STEP lines."""
    lines = split_lines(source)
    line = min(position.line, max(0, len(lines) - 1))
    current = lines[line] if lines else ""
    column = min(position.col, len(current.rstrip("\r\n")))
    first = max(0, line - prefix_lines)
    first -= first % WINDOW_STEP
    last = line + 1 + suffix_lines if suffix_lines else line + 1
    last += -last % WINDOW_STEP if suffix_lines else 0
    before = "".join(lines[first:line]) + current[:column]
    after = current[column:] + "".join(lines[line + 1:last])
    return before, after


def build(before: str, after: str, *, path: str, context: Sequence[ContextFile],
          order: Order = "psm", repo: str = "") -> FimPrompt:
    """The prompt for the hole between ``before`` and ``after`` (a ``window``) in the file
    shown as ``path``, after the ``context`` files."""
    before, after = scrub(before), scrub(after)
    parts = []
    if context:
        parts.append(f"{REPO_NAME}{scrub(repo) or 'workspace'}\n")
        for item in context:
            body = scrub(item.text)
            newline = "" if body.endswith("\n") else "\n"
            parts.append(f"{FILE_SEP}{scrub(item.path)}\n{body}{newline}")
        parts.append(f"{FILE_SEP}{scrub(path)}\n")
    if order == "spm":
        parts.append(f"{FIM_SUFFIX}{after}{FIM_PREFIX}{before}{FIM_MIDDLE}")
    elif order == "prefix":  # no hole: the text before the cursor, continued
        parts.append(before)
    else:
        parts.append(f"{FIM_PREFIX}{before}{FIM_SUFFIX}{after}{FIM_MIDDLE}")
    return FimPrompt("".join(parts), before, after)
