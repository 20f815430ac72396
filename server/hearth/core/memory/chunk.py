"""Cut files into retrievable chunks: Python by its syntax tree (functions, classes, methods,
module-level windows), every other text file by line windows aligned to natural breaks."""

from __future__ import annotations

import ast
import hashlib
import logging
from collections.abc import Iterator, Sequence

from hearth.core.memory.records import Chunk
from hearth.core.memory.settings import IndexSettings
from hearth.core.memory.tokens import split_identifier, terms

logger = logging.getLogger(__name__)

PYTHON_SUFFIXES = (".py", ".pyi", ".pyw")
_DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
_BREAK_SEARCH_FRACTION = 2  # look for a break within the last half of a window


def chunk_file(rel_path: str, text: str, settings: IndexSettings) -> list[Chunk]:
    """Chunk one file; Python that does not parse falls back to line windows."""
    if rel_path.endswith(PYTHON_SUFFIXES):
        try:
            return PythonChunker(rel_path, text, settings).chunks()
        except (SyntaxError, ValueError, RecursionError) as exc:
            logger.debug("%s does not parse (%s); chunking it by lines", rel_path, exc)
    return chunk_lines(rel_path, text, settings)


class PythonChunker:
    """One chunk per top-level function and class; a class longer than
    ``settings.max_class_lines`` becomes a header chunk plus one chunk per method, each
    method carrying the class signature as context; module-level code goes in windows."""

    def __init__(self, rel_path: str, text: str, settings: IndexSettings) -> None:
        self.rel_path = rel_path
        self.lines = text.splitlines()
        self.settings = settings
        self.tree = ast.parse(text, filename=rel_path)

    def chunks(self) -> list[Chunk]:
        found = list(self._body_chunks(self.tree.body, prefix="", context=""))
        return sorted(found, key=lambda chunk: (chunk.start_line, chunk.end_line))

    def _body_chunks(
        self, body: Sequence[ast.stmt], prefix: str, context: str
    ) -> Iterator[Chunk]:
        loose: list[ast.stmt] = []
        for node in body:
            if isinstance(node, _DEFINITIONS):
                yield from self._loose_chunks(loose, prefix, context)
                loose = []
                yield from self._definition_chunks(node, prefix, context)
            else:
                loose.append(node)
        yield from self._loose_chunks(loose, prefix, context)

    def _definition_chunks(
        self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef, prefix: str,
        context: str,
    ) -> Iterator[Chunk]:
        start, end = _first_line(node), node.end_lineno or node.lineno
        qualified = prefix + node.name
        is_class = isinstance(node, ast.ClassDef)
        if not is_class:
            kind = "method" if prefix else "function"
            yield self._chunk(kind, qualified, start, end, node, context)
        elif end - start + 1 <= self.settings.max_class_lines:
            yield self._chunk("class", qualified, start, end, node, context)
        else:
            yield from self._split_class(node, qualified, start, context)

    def _split_class(
        self, node: ast.ClassDef, qualified: str, start: int, context: str
    ) -> Iterator[Chunk]:
        first_member = next(
            (child for child in node.body if isinstance(child, _DEFINITIONS)), None
        )
        header_end = _first_line(first_member) - 1 if first_member else node.end_lineno
        header_end = self._trim_blank_tail(start, header_end or start)
        yield self._chunk("class", qualified, start, header_end, node, context)
        signature = self._text(start, max(node.lineno, node.body[0].lineno - 1))
        indent = " " * (node.col_offset + 4)
        member_context = (context + signature + "\n" + indent + "...\n") if signature else context
        members = [child for child in node.body if child.lineno > header_end]
        yield from self._body_chunks(members, qualified + ".", member_context)

    def _loose_chunks(
        self, statements: list[ast.stmt], prefix: str, context: str
    ) -> Iterator[Chunk]:
        if not statements:
            return
        start = _first_line(statements[0])
        end = max(stmt.end_lineno or stmt.lineno for stmt in statements)
        name = prefix.rstrip(".") or "<module>"
        kind = "class" if prefix else "module"
        for window_start, window_end in line_windows(self.lines, start, end, self.settings):
            text = context + self._text(window_start, window_end)
            yield Chunk(self.rel_path, kind, name, window_start, window_end, text)

    def _chunk(
        self, kind: str, name: str, start: int, end: int, node: ast.AST, context: str
    ) -> Chunk:
        has_docstring = isinstance(
            node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
        ) and ast.get_docstring(node) is not None
        text = context + self._text(start, end)
        defined = getattr(node, "name", "")
        return Chunk(self.rel_path, kind, name, start, end, text, has_docstring, defined,
                     definition_label(name, node))

    def _text(self, start: int, end: int) -> str:
        return "\n".join(self.lines[start - 1:end])

    def _trim_blank_tail(self, start: int, end: int) -> int:
        while end > start and not self.lines[end - 1].strip():
            end -= 1
        return end


def definition_label(qualified: str, node: ast.AST) -> str:
    """A definition's qualified name and parameters in words: "flask send file (path or
    file, mimetype)" for ``Flask.send_file(self, path_or_file, mimetype=None)``. A class
    shows its ``__init__`` parameters, when the chunk has one."""
    function = node
    if isinstance(node, ast.ClassDef):
        function = next((child for child in node.body
                         if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef))
                         and child.name == "__init__"), None)
    parameters: list[str] = []
    if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
        arguments = function.args
        every = [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]
        every += [extra for extra in (arguments.vararg, arguments.kwarg) if extra]
        parameters = [_words(argument.arg) for argument in every
                      if argument.arg not in ("self", "cls")]
    return f"{_words(qualified)} ({', '.join(word for word in parameters if word)})"


def _words(identifier: str) -> str:
    return " ".join(split_identifier(identifier.replace(".", "_")))


def _first_line(node: ast.stmt) -> int:
    decorators = getattr(node, "decorator_list", None) or []
    return min([node.lineno] + [decorator.lineno for decorator in decorators])


def chunk_lines(rel_path: str, text: str, settings: IndexSettings) -> list[Chunk]:
    """Overlapping line windows over a whole file, for languages without a chunker."""
    lines = text.splitlines()
    name = rel_path.rsplit("/", 1)[-1]
    return [
        Chunk(rel_path, "window", f"{name}:{start}", start, end,
              "\n".join(lines[start - 1:end]))
        for start, end in line_windows(lines, 1, len(lines), settings)
    ]


def line_windows(
    lines: Sequence[str], first: int, last: int, settings: IndexSettings
) -> Iterator[tuple[int, int]]:
    """Yield 1-based inclusive (start, end) windows covering ``first..last``; each window
    ends at a blank line or closing brace when one lies in its second half, and the next
    one starts ``window_overlap`` lines earlier, after a blank line when there is one."""
    size, overlap = settings.window_lines, settings.window_overlap
    start = first
    while start <= last:
        end = min(start + size - 1, last)
        if end < last:
            end = _break_before(lines, start, end)
        if any(lines[index - 1].strip() for index in range(start, end + 1)):
            yield start, end
        if end >= last:
            return
        start = _start_after_break(lines, max(end - overlap + 1, start + 1), end)


def _is_break(line: str) -> bool:
    stripped = line.strip()
    return not stripped or stripped[0] in "})]" or stripped in ("end", "fi", "done")


def _break_before(lines: Sequence[str], start: int, end: int) -> int:
    lowest = start + (end - start) // _BREAK_SEARCH_FRACTION
    for candidate in range(end, lowest, -1):
        if _is_break(lines[candidate - 1]):
            return candidate
    return end


def _start_after_break(lines: Sequence[str], start: int, end: int) -> int:
    for candidate in range(start, end + 1):
        if not lines[candidate - 1].strip():
            return min(candidate + 1, end + 1)
    return start


def embedding_text(chunk: Chunk) -> str:
    """What the model reads for a chunk: its qualified name in words (``Session.get_adapter``
    -> "session get adapter"), then the code; measured better than the code alone."""
    name = chunk.path.rsplit("/", 1)[-1] if chunk.kind == "window" else chunk.name
    words = " ".join(split_identifier(name.replace(".", "_")))
    return f"{words}\n{chunk.text}"


def content_hash(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8"), usedforsecurity=False).hexdigest()


def chunk_digest(chunk: Chunk) -> str:
    """The key of a chunk's stored vectors: a hash of everything the model reads for it."""
    return content_hash(f"{embedding_text(chunk)}\0{chunk.label}")


def chunk_terms(chunk: Chunk) -> list[str]:
    """What BM25 reads for a chunk: its path, name and code as terms."""
    return terms(f"{chunk.path} {chunk.name}\n{chunk.text}")
