"""Fitting the tests the model wrote into a test file: the answer split into imports and
blocks, names made unique against the existing file, the dropped tests taken out, and the merged
text."""

from __future__ import annotations

import ast
import io
import re
import textwrap
import tokenize
from dataclasses import dataclass, field

from hearth.core.pipeline.extract import longest_parsable_prefix, main_code
from hearth.core.text import newline_of

ASSERTING_CALLS = frozenset({"raises", "warns", "deprecated_call", "fail"})


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
