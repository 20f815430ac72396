"""Generate tests: pytest tests for the Python function under the cursor, kept only if they pass.

The tests go to the project's test folder (``tests/test_<module>.py``), appended without
touching what is there. Each candidate's tests run against the current code in the sandbox
(``core.sandbox``); the ones that fail, or assert nothing, are dropped and reported.
"""

from __future__ import annotations

import ast
import importlib.util
import sys
import textwrap
from dataclasses import dataclass, field

from hearth.core.actions.base import BaseAction
from hearth.core.actions.testfile_layout import (
    ImportTarget,
    import_target,
    is_test_module,
    project_root_of,
)
from hearth.core.actions.testfile_merge import (
    TestFileAddition,
    fit_into,
    merged_text,
    parse_generated,
    tests_in_blocks,
    used_imports,
    without_tests,
)
from hearth.core.actions.testfile_runner import Outcome, run_tests
from hearth.core.pipeline.scoring import finding
from hearth.core.pipeline.types import ActionRequest, Candidate, FileChange, Offer
from hearth.core.pipeline.extract import fence_closed
from hearth.core.analysis.python_targets import FunctionTarget, function_at, parse_or_none
from hearth.core.errors import HearthError
from hearth.core.models.backend import ChatMessage, Completion
from hearth.core.pipeline.prompt import (
    ContextSnippet,
    Prompt,
    fence,
    python_imports,
    quoted_context,
    system_prompt,
)

TITLE = "Hearth: Generate tests"
WHOLE_MODULE_CHARS = 5000  # a module this small is shown to the model whole


# -- the function to test --------------------------------------------------------------------
def _enclosing_chain(tree: ast.Module, def_line: int) -> list[ast.AST] | None:
    """Classes and functions from the module down to the function starting at ``def_line``."""
    def search(node: ast.AST, chain: list[ast.AST]) -> list[ast.AST] | None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                start = min([d.lineno for d in child.decorator_list] + [child.lineno]) - 1
                if start == def_line and not isinstance(child, ast.ClassDef):
                    return chain + [child]
                found = search(child, chain + [child])
                if found:
                    return found
        return None

    return search(tree, [])


@dataclass(frozen=True)
class Target:
    """The function to test, found without the model or the file system."""

    function: FunctionTarget
    tree: ast.Module
    cls: ast.ClassDef | None  # the outermost class, for a method


def find_target(request: ActionRequest) -> Target | None:
    if request.language != "python" or request.path is None or is_test_module(request.path):
        return None
    tree = request.tree
    if tree is None:
        return None
    function = function_at(request.source, request.position, tree)
    if function is None or function.is_stub:
        return None
    chain = _enclosing_chain(tree, function.def_line)
    # Only functions a test can import: module level, or methods of module-level classes.
    if not chain or any(not isinstance(node, ast.ClassDef) for node in chain[:-1]):
        return None
    cls = chain[0] if isinstance(chain[0], ast.ClassDef) else None
    return Target(function, tree, cls)


# -- the action ------------------------------------------------------------------------------
@dataclass(frozen=True)
class TestsTarget:
    """The function to test, where its tests go, and the test file as it is now."""

    target: Target
    where: ImportTarget
    existing: str | None  # None: the test file does not exist yet


@dataclass
class TestsDetails:
    """What a Generate tests answer reports beyond its file change."""

    test_file: str
    import_: str
    generated: int = 0
    passed: int = 0
    failed: int = 0
    dropped: list[dict[str, str]] = field(default_factory=list)
    test_code: str = ""


class TestsAction(BaseAction[TestsTarget]):
    __test__ = False  # not a pytest test class, despite its name

    name = "tests"
    command = "hearth.generateTests"
    title = TITLE
    # "refactor", not "source": VS Code leaves source actions out of the light-bulb menu, and
    # the issue wants every action in the quick-fix menu.
    kind = "refactor"
    languages = frozenset({"python"})
    cli_help = "write pytest tests for the function at FILE:LINE, keeping those that pass"

    def offers(self, request: ActionRequest) -> list[Offer]:
        return [Offer(TITLE)] if find_target(request) is not None else []

    def resolve(self, request: ActionRequest) -> TestsTarget:
        target = find_target(request)
        if target is None:
            raise self.not_applicable(
                "Nothing to test here",
                "Place the cursor in a Python function with a body (module level, or a method "
                "of a module-level class) in a saved file that is not itself a test.")
        assert request.path is not None
        where = import_target(request.path, project_root_of(request.path, request.workspace),
                              target.function.qualname)
        existing = None
        if where.test_file.is_file():
            try:
                with where.test_file.open(encoding="utf-8", newline="") as handle:
                    existing = handle.read()
            except (OSError, UnicodeDecodeError) as exc:
                raise HearthError(f"{where.test_file} cannot be read: {exc}.") from None
            if parse_or_none(existing) is None:
                raise HearthError(f"{where.test_file} does not parse, so new tests cannot be "
                                  "added to it safely.", "Fix its syntax error first.")
        return TestsTarget(target, where, existing)

    def prompt(self, request: ActionRequest, resolved: TestsTarget,
               context: list[ContextSnippet], max_tokens: int) -> Prompt:
        if importlib.util.find_spec("pytest") is None:
            raise HearthError("Generate tests needs pytest in Hearth's Python environment.",
                              f"Install it: {sys.executable} -m pip install pytest")
        target, where = resolved.target, resolved.where
        function = target.function
        lines = request.source.splitlines(keepends=True)
        function_source = "".join(lines[function.def_line: function.end_line + 1])
        parts = []
        rel = request.path.resolve().relative_to(where.project_root).as_posix()
        if len(request.source) <= WHOLE_MODULE_CHARS:
            parts.append(f"The module `{where.module}` ({rel}):\n"
                         + fence(request.source, "python"))
        else:
            imports = python_imports(request.source, target.tree)
            if imports:
                parts.append(f"The imports of `{where.module}` ({rel}):\n"
                             + fence(imports, "python"))
            if target.cls is not None:
                parts.append("The class of the method:\n"
                             + fence(self._class_outline(request.source, target.cls), "python"))
            parts.append("The function under test:\n"
                         + fence(textwrap.dedent(function_source), "python"))
        method = ""
        if target.cls is not None:
            method = (f"`{function.name}` is a method of `{target.cls.name}`: create an "
                      "instance in each test as its `__init__` requires. ")
        parts.append(
            f"Write 3 to 6 short pytest test functions for `{function.qualname}`: normal "
            "cases, edge cases, and the errors it raises (checked with `pytest.raises`). The "
            "tests must pass against the code exactly as it is: before each assert, trace the "
            "code for that input in a one-line comment and assert what it really returns. "
            f"{method}Import it with `{where.import_line}`. Each test is a plain "
            "`def test_...():` function with one to three asserts (no parametrize, no classes). "
            "Use only pytest, the standard library and the module under test; no network, no "
            "files outside `tmp_path`. Answer with one ```python block.")
        system = system_prompt("python", "You write focused, correct pytest tests for "
                                         "existing code.")
        return Prompt(messages=[ChatMessage("system", system),
                                ChatMessage("user", quoted_context(context, "python")
                                            + "\n\n".join(parts))],
                      # Starting the first test keeps the model from a parametrize table,
                      # which small models tend to extend until they run out of tokens.
                      prefill=(f"```python\nimport pytest\n{where.import_line}\n\n\n"
                               f"def test_{function.name.lstrip('_')}_"),
                      stop_when=fence_closed, max_tokens=max_tokens, context=context)

    @staticmethod
    def _class_outline(source: str, cls: ast.ClassDef) -> str:
        """The class whole if short, else its header, its ``__init__`` and its signatures."""
        lines = source.splitlines(keepends=True)
        whole = textwrap.dedent("".join(lines[cls.lineno - 1: cls.end_lineno]))
        if len(whole) <= WHOLE_MODULE_CHARS // 2:
            return whole
        outline = [lines[cls.lineno - 1].rstrip()]
        for node in cls.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                if node.name == "__init__":
                    outline.append("".join(lines[node.lineno - 1: node.end_lineno]).rstrip())
                else:
                    outline.append(lines[node.lineno - 1].rstrip().rstrip(":") + ": ...")
        return textwrap.dedent("\n".join(outline))

    def candidate(self, request: ActionRequest, resolved: TestsTarget,
                  completion: Completion) -> Candidate:
        target, where, existing = resolved.target, resolved.where, resolved.existing
        candidate = Candidate(completion, function=target.function.qualname,
                              details=TestsDetails(str(where.test_file), where.import_line))
        generated = parse_generated(completion.text, where.name)
        if generated is None:
            candidate.findings.append(finding("no-tests", "the answer is not Python code"))
            return candidate
        if generated.removed:
            candidate.findings.append(finding(
                "redefinition", f"the answer redefined `{where.name}`; that copy was removed "
                "so that the tests exercise the real one"))
        if where.import_line not in generated.imports:
            generated.imports.insert(0, where.import_line)
        addition = fit_into(existing, generated)
        tests, hollow = tests_in_blocks(addition.blocks)
        if not (tests or hollow):
            candidate.findings.append(finding("no-tests",
                                              "the answer has no pytest test functions"))
            return candidate
        outcome = Outcome([], {test: "asserts nothing" for test in hollow})
        if tests:
            standalone = "\n".join(addition.all_imports) + "\n\n\n" + "\n\n".join(addition.blocks)
            ran = run_tests(where, request.path, request.source, standalone, tests)
            outcome.passed, outcome.dropped = ran.passed, {**outcome.dropped, **ran.dropped}
        self._report(candidate, where, existing, addition, outcome)
        return candidate

    @staticmethod
    def _report(candidate: Candidate, where: ImportTarget, existing: str | None,
                addition: TestFileAddition, outcome: Outcome) -> None:
        total = len(outcome.passed) + len(outcome.dropped)
        dropped = [{"test": test, "reason": reason} for test, reason in outcome.dropped.items()]
        details = candidate.details
        details.generated, details.passed = total, len(outcome.passed)
        details.failed, details.dropped = len(outcome.dropped), dropped
        summary = "; ".join(f"{d['test']}: {d['reason']}" for d in dropped[:4])
        if not outcome.passed:
            candidate.findings.append(finding(
                "no-passing-test", f"none of the {total} generated test(s) passed against the "
                f"current code ({summary})"))
            return
        if dropped:
            candidate.findings.append(finding(
                "dropped-tests", f"{len(dropped)} of {total} generated tests were dropped "
                f"({summary})", scale=len(dropped) / total))
        body = "\n\n".join(without_tests(addition.blocks, set(outcome.dropped)))
        imports = used_imports(addition.new_imports, body)
        new_text = merged_text(existing, imports, body)
        details.test_code = (
            "".join(line + "\n" for line in imports) + ("\n\n" if imports else "") + body)
        candidate.files = [FileChange(where.test_file, new_text, existing)]
