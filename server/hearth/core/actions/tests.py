"""Generate tests: pytest tests for the Python function under the cursor, kept only if they pass.

The tests go to the project's test folder (``tests/test_<module>.py``), appended without
touching what is there. Each candidate's tests run against the current code in the sandbox
(``core.sandbox``); the ones that fail, or assert nothing, are dropped and reported.
"""

from __future__ import annotations

import ast
import fnmatch
import importlib.util
import io
import json
import keyword
import os
import re
import secrets
import sys
import textwrap
import tokenize
from dataclasses import dataclass, field
from pathlib import Path

from hearth.core.actions.base import BaseAction
from hearth.core.pipeline.scoring import finding
from hearth.core.pipeline.types import ActionRequest, Candidate, FileChange, Offer
from hearth.core.pipeline.extract import fence_closed
from hearth.core.analysis.python_targets import FunctionTarget, function_at, parse_or_none
from hearth.core.errors import HearthError
from hearth.core.memory.settings import VENDORED_DIRS
from hearth.core.models.backend import ChatMessage, Completion
from hearth.core.pipeline.extract import longest_parsable_prefix, main_code
from hearth.core.pipeline.prompt import (
    ContextSnippet,
    Prompt,
    fence,
    python_imports,
    quoted_context,
    system_prompt,
)
from hearth.core.sandbox import SandboxResult, run_python
from hearth.core.text import newline_of

TITLE = "Hearth: Generate tests"
PROJECT_MARKERS = ("pyproject.toml", "setup.py", "setup.cfg", ".git")
WHOLE_MODULE_CHARS = 5000  # a module this small is shown to the model whole
COPY_BUDGET_BYTES = 2_000_000  # project sources copied into the sandbox, at most
COPY_MAX_FILES = 2000
RUN_TIMEOUT_S = 30
RUNNER = "_hearth_run_tests.py"
ASSERTING_CALLS = frozenset({"raises", "warns", "deprecated_call", "fail"})


# -- where the tests go and how they import the function -------------------------------------
@dataclass(frozen=True)
class ImportTarget:
    """How a test imports the function under test, and where the test file goes."""

    project_root: Path  # the workspace: the sandbox mirrors the files below it
    source_root: Path  # the folder that must be on sys.path to import ``module``
    module: str  # dotted module name
    name: str  # the name imported: the function, or the class of a method
    test_file: Path

    @property
    def import_line(self) -> str:
        return f"from {self.module} import {self.name}"


def project_root_of(path: Path, workspace: Path | None) -> Path:
    """The request's workspace if it holds the file, else the nearest folder that looks like a
    project root, else the file's folder."""
    path = path.resolve()
    if workspace is not None and path.is_relative_to(workspace.resolve()):
        return workspace.resolve()
    for folder in path.parents:
        if any((folder / marker).exists() for marker in PROJECT_MARKERS):
            return folder
    return path.parent


def import_target(path: Path, project_root: Path, qualname: str) -> ImportTarget:
    """Work out the import from the layout: ``src/`` layout (namespace packages too), regular
    packages (folders with ``__init__.py``), or a plain module."""
    path = path.resolve()
    src = project_root / "src"
    if path.is_relative_to(src):
        source_root = src
    else:
        source_root = path.parent
        while (source_root / "__init__.py").is_file() and source_root != project_root:
            source_root = source_root.parent
    parts = list(path.relative_to(source_root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    for part in parts:
        if not part.isidentifier() or keyword.iskeyword(part):
            raise HearthError(
                f"{path.name} cannot be imported: `{part}` is not a Python identifier.",
                "Rename the file or folder (for example, hyphens to underscores) to test it.")
    tests_folder = next((project_root / name for name in ("tests", "test")
                         if (project_root / name).is_dir()), project_root / "tests")
    return ImportTarget(project_root, source_root, ".".join(parts), qualname.split(".")[0],
                        tests_folder / f"test_{parts[-1]}.py")


def is_test_module(path: Path) -> bool:
    name = path.name
    return (name.startswith("test_") or name.endswith("_test.py") or name == "conftest.py"
            or any(part in ("tests", "test") for part in path.parts[:-1]))


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
    tree = parse_or_none(request.source)
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


# -- the tests the model wrote ---------------------------------------------------------------
@dataclass
class GeneratedTests:
    """The answer's code split into one-name import lines and top-level blocks of code."""

    imports: list[str]
    blocks: list[str]
    removed: list[str] = field(default_factory=list)  # redefinitions of the imported name


def import_lines(node: ast.Import | ast.ImportFrom) -> list[str]:
    """One normalised line per imported name."""
    if isinstance(node, ast.Import):
        return [f"import {a.name}" + (f" as {a.asname}" if a.asname else "") for a in node.names]
    module = "." * node.level + (node.module or "")
    return [f"from {module} import {a.name}" + (f" as {a.asname}" if a.asname else "")
            for a in node.names]


def bound_name(line: str) -> str:
    """The name an import line binds: ``import a.b`` binds ``a``."""
    if " as " in line:
        return line.rsplit(" as ", 1)[1]
    name = line.rsplit(" ", 1)[1]
    return name.split(".")[0] if line.startswith("import ") else name


def top_level_names(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update(bound_name(line) for line in import_lines(node))
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                names.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
    return names


def asserts_something(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    for node in ast.walk(fn):
        if isinstance(node, ast.Assert) and not isinstance(node.test, ast.Constant):
            return True
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in ASSERTING_CALLS or name.startswith("assert"):
                return True
    return False


def _segment(lines: list[str], node: ast.stmt) -> str:
    start = min([d.lineno for d in getattr(node, "decorator_list", [])] + [node.lineno]) - 1
    return "".join(lines[start: node.end_lineno]).rstrip() + "\n"


def parse_generated(answer: str, imported: str) -> GeneratedTests | None:
    """Split the answer's code; drop any redefinition of ``imported`` (the model's own copy
    of the function would shadow the real one)."""
    parsed = longest_parsable_prefix(textwrap.dedent(main_code(answer)))
    if parsed is None:
        return None
    tree, code = parsed
    lines = code.splitlines(keepends=True)
    result = GeneratedTests([], [])
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            # A star import would spill names into the user's test module: leave it out.
            result.imports += [line for line in import_lines(node)
                               if line not in result.imports and not line.endswith(" *")]
        elif imported in top_level_names(ast.Module(body=[node], type_ignores=[])):
            result.removed.append(getattr(node, "name", imported))
        else:
            result.blocks.append(_segment(lines, node))
    return result


def tests_in_blocks(blocks: list[str]) -> tuple[list[str], list[str]]:
    """The pytest ids ("test_x", "TestX::test_y") of the tests that assert something, and of
    those that do not."""
    asserting, hollow = [], []
    for block in blocks:
        for test_id, fn in _tests_in(ast.parse(block).body[0]):
            (asserting if asserts_something(fn) else hollow).append(test_id)
    return asserting, hollow


def _tests_in(node: ast.stmt) -> list[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]]:
    functions = (ast.FunctionDef, ast.AsyncFunctionDef)
    if isinstance(node, functions) and node.name.startswith("test"):
        return [(node.name, node)]
    if isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
        return [(f"{node.name}::{item.name}", item) for item in node.body
                if isinstance(item, functions) and item.name.startswith("test")]
    return []


def rename_names(code: str, mapping: dict[str, str]) -> str:
    """Rename identifiers (not attributes, not keyword arguments) throughout ``code``."""
    if not mapping:
        return code
    tokens = list(tokenize.generate_tokens(io.StringIO(code).readline))
    lines = code.splitlines(keepends=True)
    depth = 0
    changes = []
    for index, token in enumerate(tokens):
        if token.type == tokenize.OP and token.string in "([{":
            depth += 1
        elif token.type == tokenize.OP and token.string in ")]}":
            depth -= 1
        if token.type != tokenize.NAME or token.string not in mapping:
            continue
        before = tokens[index - 1].string if index else ""
        after = tokens[index + 1].string if index + 1 < len(tokens) else ""
        if before == "." or (depth > 0 and after == "=" and before in ("(", ",")
                             and not _in_def_header(tokens, index)):
            continue
        changes.append(token)
    for token in reversed(changes):
        row, col = token.start
        line = lines[row - 1]
        lines[row - 1] = line[:col] + mapping[token.string] + line[col + len(token.string):]
    return "".join(lines)


def _in_def_header(tokens: list[tokenize.TokenInfo], index: int) -> bool:
    """True inside a ``def`` line's parameters, where ``name=`` is a parameter, not a keyword
    argument (a fixture parameter must follow its fixture's new name)."""
    depth = 0
    for token in reversed(tokens[:index]):
        if token.type == tokenize.OP and token.string in ")]}":
            depth += 1
        elif token.type == tokenize.OP and token.string in "([{":
            if depth == 0:
                position = tokens.index(token)
                return position >= 2 and tokens[position - 2].string == "def"
            depth -= 1
    return False


def unique_name(name: str, taken: set[str]) -> str:
    number = 2
    while f"{name}_{number}" in taken:
        number += 1
    return f"{name}_{number}"


@dataclass
class TestFileAddition:
    """What joins the test file: import lines it lacks and the new code, names made unique."""

    __test__ = False  # not a pytest test class, despite its name

    new_imports: list[str]  # not yet in the file
    all_imports: list[str]  # everything the new code needs (for running it on its own)
    blocks: list[str]


def fit_into(existing: str | None, generated: GeneratedTests) -> TestFileAddition:
    """Avoid every clash with the existing file: an import binding a name the file binds to
    something else gets an alias, and a new top-level name already taken gets a suffix."""
    tree = ast.parse(existing) if existing else ast.Module(body=[], type_ignores=[])
    present = {line for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))
               for line in import_lines(node)}
    taken = top_level_names(tree)
    bound_by = {bound_name(line): line for line in present}
    mapping: dict[str, str] = {}
    new_imports, all_imports = [], []
    for line in generated.imports:
        name = bound_name(line)
        same_package = (line.startswith("import ") and " as " not in line
                        and bound_by.get(name, "").startswith(f"import {name}"))
        if line in present or same_package or name not in taken:
            all_imports.append(line)
            if line not in present:
                new_imports.append(line)
            continue
        alias = unique_name(name, taken | set(mapping.values()))
        mapping[name] = alias
        aliased = (line.rsplit(" as ", 1)[0] if " as " in line else line) + f" as {alias}"
        all_imports.append(aliased)
        new_imports.append(aliased)
    # A name the file already has is renamed everywhere in the new code (its uses follow);
    # a name the new code defines twice is renamed at its second definition only.
    new_names = {name for block in generated.blocks for name in top_level_names(ast.parse(block))}
    for name in sorted(new_names & taken):
        mapping[name] = unique_name(name, taken | new_names | set(mapping.values()))
    blocks, defined = [], set(taken)
    original = {new: old for old, new in mapping.items()}
    for block in generated.blocks:
        block = rename_names(block, mapping)
        for name in top_level_names(ast.parse(block)):
            if name in defined:
                new_name = unique_name(original.get(name, name),
                                       defined | set(mapping.values()))
                block = re.sub(rf"^((?:async\s+)?(?:def|class)\s+){name}\b", rf"\g<1>{new_name}",
                               block, count=1, flags=re.MULTILINE)
                name = new_name
            defined.add(name)
        blocks.append(block)
    return TestFileAddition(new_imports, all_imports, blocks)


def used_imports(imports: list[str], body: str) -> list[str]:
    """The import lines whose name the kept code uses (the dropped tests' imports go)."""
    used = {node.id for node in ast.walk(ast.parse(body)) if isinstance(node, ast.Name)}
    return [line for line in imports if bound_name(line) in used]


def merged_text(existing: str | None, new_imports: list[str], body: str) -> str:
    """The existing file with the new imports after its own and ``body`` at the end."""
    if not existing:
        return "\n".join(new_imports) + "\n\n\n" + body
    newline = newline_of(existing)
    lines = existing.splitlines(keepends=True)
    tree = ast.parse(existing)
    insert_at = 0
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)) or (
                isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
                and isinstance(node.value.value, str) and node is tree.body[0]):
            insert_at = node.end_lineno or insert_at
        else:
            break
    if insert_at and not lines[insert_at - 1].endswith(("\n", "\r")):
        lines[insert_at - 1] += newline
    head = "".join(lines[:insert_at])
    added = "".join(line + newline for line in new_imports)
    if insert_at == 0 and added:
        added += newline
    rest = "".join(lines[insert_at:]).rstrip("\r\n")
    joined = head + added + rest
    return (joined + newline * 3 if joined.strip() else "") + body.replace("\n", newline)


# -- running them ----------------------------------------------------------------------------
@dataclass
class Outcome:
    passed: list[str]
    dropped: dict[str, str]  # test id -> one-line reason


def project_files(target: ImportTarget, module_path: Path, source: str) -> dict[str, str]:
    """The module under test (as in the editor) and the project's sources, within a budget,
    the module's own package first."""
    root = target.project_root
    module_path = module_path.resolve()
    files = {module_path.relative_to(root).as_posix(): source}
    budget = COPY_BUDGET_BYTES - len(source.encode())
    first = module_path.parent if target.source_root != module_path.parent else None
    for folder in [f for f in (first, target.source_root) if f is not None]:
        for path in _python_files(folder, root):
            rel = path.relative_to(root).as_posix()
            if rel in files:
                continue
            try:
                size = path.stat().st_size
                if size > budget or len(files) >= COPY_MAX_FILES:
                    return files
                files[rel] = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                continue
            budget -= size
    return files


def _python_files(folder: Path, root: Path, max_entries: int = 20_000):
    """Python source files below ``folder``, tests and vendored folders left out; the walk
    stops after ``max_entries`` names so that a huge data folder cannot stall it."""
    seen = 0
    for directory, subdirs, names in os.walk(folder):
        seen += len(subdirs) + len(names)
        if seen > max_entries:
            return
        subdirs[:] = sorted(d for d in subdirs if not d.startswith(".") and d not in
                            ("tests", "test") and not any(fnmatch.fnmatch(d, pattern)
                                                          for pattern in VENDORED_DIRS))
        for name in sorted(names):
            path = Path(directory, name)
            if name.endswith(".py") and not is_test_module(path.relative_to(root)):
                yield path


def project_site_packages(root: Path) -> list[Path]:
    """The project's own virtual environment, if it has one for this Python version."""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    return [folder / "lib" / version / "site-packages" for folder in (root / ".venv", root / "venv")
            if (folder / "lib" / version / "site-packages").is_dir()]


def runner_source(test_rel: str, source_rel: str, mark: str) -> str:
    """A pytest run that reports each test's outcome as a marked JSON line, as it happens (so
    a run cut short by the timeout still tells what finished)."""
    return textwrap.dedent(f'''\
        import json, os, sys
        os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                        {source_rel!r}))
        import pytest

        REPORT = os.dup(1)


        def emit(**record):
            os.write(REPORT, ("\\n" + {mark!r} + json.dumps(record) + "\\n").encode())


        def reason(report):
            crash = getattr(report.longrepr, "reprcrash", None)
            if crash is not None:
                return crash.message.splitlines()[0] if crash.message else "failed"
            if isinstance(report.longrepr, tuple):
                return "skipped: " + str(report.longrepr[2])
            text = str(report.longrepr)
            errors = [line[1:].strip() for line in text.splitlines() if line.startswith("E ")]
            return errors[-1] if errors else (text.strip().splitlines() or ["failed"])[-1]


        class Reporter:
            def pytest_runtest_logreport(self, report):
                if report.passed and report.when != "call":
                    return
                why = "" if report.passed else reason(report)
                if hasattr(report, "wasxfail"):
                    why = "marked as an expected failure"
                emit(test=report.nodeid, outcome=report.outcome, reason=why)

            def pytest_collectreport(self, report):
                if report.failed:
                    emit(test=report.nodeid, outcome="error", reason=reason(report))


        sys.exit(pytest.main(["-q", "-p", "no:cacheprovider", {test_rel!r}],
                             plugins=[Reporter()]))
        ''')


def run_tests(target: ImportTarget, module_path: Path, source: str, test_code: str,
              tests: list[str]) -> Outcome:
    """Run the new tests on their own against the current code, in the sandbox."""
    root = target.project_root
    test_rel = target.test_file.relative_to(root).as_posix()
    source_rel = target.source_root.relative_to(root).as_posix()
    mark = f"@@hearth-{secrets.token_hex(6)}@@"
    files = project_files(target, module_path, source)
    files.update({test_rel: test_code, RUNNER: runner_source(test_rel, source_rel, mark),
                  "pytest.ini": "[pytest]\n"})
    result = run_python(files, [RUNNER], timeout_s=RUN_TIMEOUT_S,
                        extra_path=project_site_packages(root))
    return _outcome(result, mark, test_rel, tests)


def _outcome(result: SandboxResult, mark: str, test_rel: str, tests: list[str]) -> Outcome:
    per_test: dict[str, str | None] = {}  # None: passed so far
    collect_error = None
    for line in result.stdout.splitlines():
        if mark not in line:
            continue
        record = json.loads(line.split(mark, 1)[1])
        test_id = re.sub(r"\[.*\]$", "", record["test"]).removeprefix(test_rel + "::")
        if record["outcome"] == "error" and "::" not in record["test"]:
            collect_error = record["reason"] or "the test file could not be collected"
        elif record["outcome"] == "passed":
            per_test.setdefault(test_id, None)
        elif per_test.get(test_id) is None:
            per_test[test_id] = record["reason"] or record["outcome"]
    if result.timed_out:
        missing = f"not finished: the run hit its {RUN_TIMEOUT_S} s limit"
    elif result.memory_exceeded:
        missing = "not finished: the run hit the sandbox's memory limit"
    else:
        missing = collect_error or _last_line(result.stderr) or "not run"
    outcome = Outcome([], {})
    for test in tests:
        if test in per_test and per_test[test] is None:
            outcome.passed.append(test)
        else:
            outcome.dropped[test] = _one_line(per_test.get(test) or missing)
    return outcome


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


def _one_line(reason: str, limit: int = 200) -> str:
    line = " ".join(reason.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def without_tests(blocks: list[str], dropped: set[str]) -> list[str]:
    """The blocks minus the dropped test functions (and test classes left empty)."""
    kept = []
    for block in blocks:
        node = ast.parse(block).body[0]
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            if node.name not in dropped:
                kept.append(block)
            continue
        tests = [fn for test_id, fn in _tests_in(node)]
        gone = [fn for test_id, fn in _tests_in(node) if test_id in dropped]
        if tests and len(gone) == len(tests):
            continue
        lines = block.splitlines(keepends=True)
        for fn in sorted(gone, key=lambda fn: fn.lineno, reverse=True):
            start = min([d.lineno for d in fn.decorator_list] + [fn.lineno]) - 1
            del lines[start: fn.end_lineno]
        kept.append("".join(lines).rstrip() + "\n")
    return kept


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
