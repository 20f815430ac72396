"""In-process syntax checks: Python's own parser, tree-sitter grammars for the other languages."""

from __future__ import annotations

import ast
import importlib
import logging
from functools import cache

log = logging.getLogger(__name__)

# language -> (grammar module, function returning its language pointer)
GRAMMARS = {
    "javascript": ("tree_sitter_javascript", "language"),
    "typescript": ("tree_sitter_typescript", "language_typescript"),
    "java": ("tree_sitter_java", "language"),
    "c": ("tree_sitter_c", "language"),
    "cpp": ("tree_sitter_cpp", "language"),
    "go": ("tree_sitter_go", "language"),
    "rust": ("tree_sitter_rust", "language"),
    "sql": ("tree_sitter_sql", "language"),
}


@cache
def _parser(language: str):
    module_name, function = GRAMMARS[language]
    try:
        import tree_sitter

        module = importlib.import_module(module_name)
    except ImportError as exc:
        log.warning("No %s parser available (%s): syntax is not checked", language, exc)
        return None
    return tree_sitter.Parser(tree_sitter.Language(getattr(module, function)()))


def parses(language: str, source: str) -> bool | None:
    """Whether ``source`` parses; None when there is no parser for the language."""
    if language == "python":
        try:
            ast.parse(source)
        except (SyntaxError, ValueError):
            return False
        return True
    if language not in GRAMMARS:
        return None
    parser = _parser(language)
    if parser is None:
        return None
    return not parser.parse(source.encode("utf-8")).root_node.has_error
