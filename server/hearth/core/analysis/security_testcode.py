"""What counts as test code for the security rules, which report findings there more quietly.

Measured on requests, flask, click, attrs and CPython's standard library (issue 15): 87% of the
rules' findings were in tests, and a sample of 30 of those held 2 real problems; tests eval,
pickle and run commands on their own data by design.
"""

from __future__ import annotations

import ast
import re
from pathlib import PurePath

from hearth.core.analysis.findings import Severity

# Folders that hold tests: tests/, test/ (CPython's Lib/test), idle_test/, unit_tests/...
_TEST_FOLDER = re.compile(r"(?:tests?|testing|.*_tests?|tests?_.*)", re.IGNORECASE)
_TEST_FILE = re.compile(r"(?:test_.*|.*_test|.*_tests|tests?|conftest)\.pyi?", re.IGNORECASE)

# What a caller may ask for findings in test code: a severity, the rule's own, or none at all.
TEST_SEVERITY_CHOICES = ("hint", "information", "warning", "error", "rule", "off")


def is_test_path(path: str | PurePath | None) -> bool:
    """True for a file under a tests folder, or named test_*.py, *_test.py or conftest.py."""
    if path is None or str(path) == "":
        return False
    parts = PurePath(path).parts
    return bool(parts) and (
        _TEST_FILE.fullmatch(parts[-1]) is not None
        or any(_TEST_FOLDER.fullmatch(part) for part in parts[:-1])
    )


def is_test_function(node: ast.AST) -> bool:
    """A ``test_*`` function, or a class named ``Test*`` / ``*Test`` / ``*Tests`` (unittest
    and pytest classes, whose helpers and fixtures are test code too)."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return node.name.startswith("test_") or node.name == "test"
    if isinstance(node, ast.ClassDef):
        return node.name.startswith("Test") or node.name.endswith(("Test", "Tests", "TestCase"))
    return False


def severity_for_tests(choice: str) -> Severity | None | bool:
    """The severity a ``testSeverity`` choice stands for: a Severity, None for the rule's own,
    False to report nothing. A choice not in TEST_SEVERITY_CHOICES is a ValueError."""
    value = choice.strip().lower() if isinstance(choice, str) else choice
    if value not in TEST_SEVERITY_CHOICES:
        raise ValueError(f"test severity must be one of {', '.join(TEST_SEVERITY_CHOICES)}, "
                         f"got {choice!r}")
    if value == "rule":
        return None
    if value == "off":
        return False
    return Severity(value)
