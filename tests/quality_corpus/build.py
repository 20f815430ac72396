"""(Re)build tasks.json, the realistic quality corpus, from the pinned sdists of projects.json.

    .venv/bin/python tests/quality_corpus/build.py [--per-module 5] [--projects toolz,boltons]
        [--dry-run]

A task is one module-level function of a project's package with a docstring and a body of at
most MAX_BODY_LINES non-blank lines. Its hidden tests are the project's own test functions and
methods whose code names it (resolved through the test file's imports, in the AST). A candidate
is kept only if (a) the original passes those tests and (b) with its body replaced by
``raise NotImplementedError`` at least one of them fails; both runs go through the same
sandboxed judge as the benchmark (corpus_tasks.run_tests), so a kept task is solvable there.
Node ids the original fails (or skips) are dropped from the task. Prose-only docstrings are
taken first (after the scarcer cross-file ones), and no module gives more than
``--per-module`` tasks. The split is a hash of the
task id, so a task keeps its split across rebuilds.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import logging
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "bench"))

from corpus_tasks import (  # noqa: E402
    TASKS,
    CorpusError,
    Project,
    body_text,
    find_test_files,
    load_projects,
    package_sources,
    run_tests,
    stub_source,
    unpacked,
)

log = logging.getLogger("corpus_build")
MAX_BODY_LINES = 25
PER_MODULE = 5
HELDOUT_SHARE = 0.4
SPLIT_SALT = "hearth-quality-corpus-1"  # changing it reshuffles every task: never do it
ORIGINAL_BATCH = 400  # node ids per run of the original tests


@dataclass
class Task:
    id: str
    project: str
    module: str  # relative to the package folder
    path: str  # relative to the project root
    qualname: str
    doctest: bool
    cross_file: bool
    helpers: list[str]
    body_lines: int
    split: str
    tests: list[str] = field(default_factory=list)
    fail_when_stubbed: int = 0


def split_of(task_id: str) -> str:
    """'heldout' for about HELDOUT_SHARE of the ids, 'dev' for the rest, fixed by the id."""
    value = int(hashlib.sha256(f"{SPLIT_SALT}:{task_id}".encode()).hexdigest()[:8], 16)
    return "heldout" if value / 0x1_0000_0000 < HELDOUT_SHARE else "dev"


def dotted(project: Project, relative: str) -> str:
    """The module's import name from its path relative to the project root."""
    parts = list(Path(relative).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


# -- the package: its functions, its imports -----------------------------------------------
def top_level_statements(tree: ast.Module):
    """Module-level statements, looking inside if/try blocks (not functions or classes)."""
    pending = list(tree.body)
    while pending:
        node = pending.pop(0)
        yield node
        if isinstance(node, (ast.If, ast.Try)):
            pending[:0] = node.body + node.orelse + getattr(node, "finalbody", []) + [
                s for handler in getattr(node, "handlers", []) for s in handler.body]


def absolute_module(current: str, is_package: bool, node: ast.ImportFrom) -> str:
    """The absolute module an ``ImportFrom`` in module ``current`` reads from."""
    if not node.level:
        return node.module or ""
    base = current.split(".") if is_package else current.split(".")[:-1]
    base = base[: len(base) - node.level + 1]
    return ".".join(base + ([node.module] if node.module else []))


def same_package_bindings(tree: ast.AST, current: str, is_package: bool, top: str,
                          modules: set[str]) -> dict[str, tuple[str, str | None]]:
    """Names bound by imports from the same package: name -> (module, attribute), with
    attribute None when the name is a module itself."""
    bound: dict[str, tuple[str, str | None]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            source = absolute_module(current, is_package, node)
            if source != top and not source.startswith(top + "."):
                continue
            for alias in node.names:
                if alias.name == "*":
                    continue
                name = alias.asname or alias.name
                if f"{source}.{alias.name}" in modules:
                    bound[name] = (f"{source}.{alias.name}", None)
                else:
                    bound[name] = (source, alias.name)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == top or alias.name.startswith(top + "."):
                    if alias.asname:
                        bound[alias.asname] = (alias.name, None)
                    else:
                        bound[alias.name.split(".")[0]] = (top, None)
    return bound


def local_names(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> set[str]:
    args = fn.args
    names = {a.arg for a in args.posonlyargs + args.args + args.kwonlyargs}
    names.update(a.arg for a in (args.vararg, args.kwarg) if a is not None)
    for node in ast.walk(fn):
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            names.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) \
                and node is not fn:
            names.add(node.name)
    return names


def helpers_of(fn: ast.FunctionDef | ast.AsyncFunctionDef, current: str,
               bindings: dict[str, tuple[str, str | None]],
               definitions: dict[str, set[str]]) -> list[str]:
    """The functions and classes of other modules of the package that the body uses."""
    own = {**bindings, **same_package_bindings(fn, current, False, current.split(".")[0],
                                               set(definitions))}
    local = local_names(fn) - set(same_package_bindings(fn, current, False,
                                                        current.split(".")[0],
                                                        set(definitions)))
    body = fn.body[1:] if fn.body and isinstance(fn.body[0], ast.Expr) else fn.body
    found: list[str] = []
    for statement in body:
        for node in ast.walk(statement):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) \
                    and node.id in own and node.id not in local:
                module, attribute = own[node.id]
                if attribute is not None and module != current \
                        and attribute in definitions.get(module, ()):
                    found.append(node.id)
            elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
                    and node.value.id in own and node.value.id not in local:
                module, attribute = own[node.value.id]
                if attribute is None and module != current \
                        and node.attr in definitions.get(module, ()):
                    found.append(f"{node.value.id}.{node.attr}")
    return sorted(set(found))


def definitions_of(sources: dict[str, str], project: Project) -> dict[str, set[str]]:
    """Per module (import name), the functions and classes it defines at module level."""
    out: dict[str, set[str]] = {}
    for relative, source in sources.items():
        tree = ast.parse(source)
        out[dotted(project, relative)] = {
            node.name for node in top_level_statements(tree)
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
    return out


def candidates_of(project: Project, sources: dict[str, str]) -> list[Task]:
    """Every public module-level function with a docstring and a short, real body."""
    definitions = definitions_of(sources, project)
    top = dotted(project, project.package + "/__init__.py")
    tasks = []
    for relative, source in sources.items():
        tree = ast.parse(source)
        current = dotted(project, relative)
        is_package = relative.endswith("__init__.py")
        bindings = same_package_bindings(
            ast.Module(body=list(top_level_statements(tree)), type_ignores=[]),
            current, is_package, top, set(definitions))
        names = [node.name for node in tree.body
                 if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
        for fn in tree.body:
            if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)) \
                    or fn.name.startswith("_") or names.count(fn.name) != 1:
                continue
            docstring = ast.get_docstring(fn, clean=False)
            if not docstring or len(fn.body) < 2:
                continue
            try:
                stub_source(source, fn.name)
                body = body_text(source, fn.name)
            except CorpusError:
                continue
            rest = fn.body[1:]
            if all(isinstance(s, (ast.Pass, ast.Raise)) for s in rest):
                continue  # abstract or not implemented: nothing to write
            lines = sum(1 for line in body.splitlines() if line.strip())
            if lines > MAX_BODY_LINES:
                continue
            module = Path(relative).relative_to(project.package).as_posix()
            helpers = helpers_of(fn, current, bindings, definitions)
            task_id = f"{project.name}/{module}::{fn.name}"
            tasks.append(Task(
                id=task_id, project=project.name, module=module, path=relative,
                qualname=fn.name, doctest=">>>" in docstring, cross_file=bool(helpers),
                helpers=helpers, body_lines=lines, split=split_of(task_id)))
    return tasks


# -- the tests: which test names which function ---------------------------------------------
class TestNames:
    """The test functions and methods of one project, each with the package functions its
    code names (through the test file's imports)."""

    def __init__(self, project: Project, root: Path, definitions: dict[str, set[str]]) -> None:
        self.top = dotted(project, project.package + "/__init__.py")
        self.definitions = definitions
        self.where: dict[str, list[str]] = {}
        for module, names in definitions.items():
            for name in names:
                self.where.setdefault(name, []).append(module)
        self.nodes: dict[str, set[tuple[str, str]]] = {}
        for relative in find_test_files(project, root):
            self._index_file(root, relative)

    def _export(self, module: str, name: str) -> tuple[str, str] | None:
        """Where ``module.name`` is defined: that module, or the one module of the package
        that defines the name (a package re-exporting it, toolz.curried's wrappers)."""
        if name in self.definitions.get(module, ()):
            return module, name
        places = self.where.get(name, [])
        return (places[0], name) if len(places) == 1 else None

    def _index_file(self, root: Path, relative: Path) -> None:
        try:
            tree = ast.parse((root / relative).read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError):
            log.warning("skipping %s: it does not parse", relative)
            return
        modules = set(self.definitions)
        bound = same_package_bindings(tree, "tests", False, self.top, modules)
        stars = [absolute_module("tests", False, node) for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom)
                 and any(a.name == "*" for a in node.names)]
        stars = [m for m in stars if m == self.top or m.startswith(self.top + ".")]
        own = {node.name for node in tree.body
               if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
        own.update(t.id for node in tree.body if isinstance(node, ast.Assign)
                   for t in node.targets if isinstance(t, ast.Name))

        def referenced(nodes: list[ast.AST]) -> set[tuple[str, str]]:
            found = set()
            for top_node in nodes:
                for node in ast.walk(top_node):
                    hit = None
                    if isinstance(node, ast.Name):
                        if node.id in bound and bound[node.id][1] is not None:
                            hit = self._export(*bound[node.id])
                        elif node.id not in own and node.id not in bound:
                            for module in stars:
                                hit = hit or self._export(module, node.id)
                    elif isinstance(node, ast.Attribute):
                        hit = self._attribute(node, bound)
                    if hit:
                        found.add(hit)
            return found

        path = relative.as_posix()
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) \
                    and node.name.startswith("test"):
                self.nodes[f"{path}::{node.name}"] = referenced([node])
            elif isinstance(node, ast.ClassDef) and _test_class(node):
                methods = [m for m in node.body if isinstance(
                    m, (ast.FunctionDef, ast.AsyncFunctionDef)) and m.name.startswith("test")]
                shared = referenced([m for m in node.body if m not in methods])
                for method in methods:
                    self.nodes[f"{path}::{node.name}::{method.name}"] = \
                        referenced([method]) | shared

    def _attribute(self, node: ast.Attribute,
                   bound: dict[str, tuple[str, str | None]]) -> tuple[str, str] | None:
        chain = []
        current: ast.AST = node
        while isinstance(current, ast.Attribute):
            chain.append(current.attr)
            current = current.value
        if not isinstance(current, ast.Name) or current.id not in bound:
            return None
        module, attribute = bound[current.id]
        if attribute is not None:
            return None
        chain.reverse()
        for depth, part in enumerate(chain):
            if f"{module}.{part}" in self.definitions and depth < len(chain) - 1:
                module = f"{module}.{part}"
                continue
            return self._export(module, part) if depth == len(chain) - 1 else None
        return None

    def naming(self, module: str, name: str) -> list[str]:
        return sorted(node for node, refs in self.nodes.items() if (module, name) in refs)


def _test_class(node: ast.ClassDef) -> bool:
    """A class pytest collects: Test* without __init__, or a unittest TestCase."""
    bases = [b.attr if isinstance(b, ast.Attribute) else getattr(b, "id", "")
             for b in node.bases]
    if any(base.endswith("TestCase") for base in bases):
        return True
    has_init = any(isinstance(m, ast.FunctionDef) and m.name == "__init__" for m in node.body)
    return node.name.startswith("Test") and not has_init


# -- verification ------------------------------------------------------------------------------
def original_outcomes(project: Project, root: Path, node_ids: list[str]) -> dict[str, str]:
    outcomes: dict[str, str] = {}
    for start in range(0, len(node_ids), ORIGINAL_BATCH):
        batch = node_ids[start: start + ORIGINAL_BATCH]
        run = run_tests(project, root, batch)
        if not run.finished:
            raise CorpusError(f"{project.name}: the original tests did not finish "
                              f"(timed out: {run.timed_out}): {run.stderr_tail}")
        outcomes.update(run.outcomes)
    return outcomes


def priority(task: Task) -> tuple:
    """Cross-file tasks first (the scarce kind: most functions of these projects call only
    their own module), then prose-only docstrings, then an order fixed by the id."""
    return (not task.cross_file, task.doctest, hashlib.sha256(task.id.encode()).hexdigest())


def build_project(project: Project, per_module: int, dry_run: bool) -> list[Task]:
    root = unpacked(project)
    sources = package_sources(project, root)
    candidates = candidates_of(project, sources)
    tests = TestNames(project, root, definitions_of(sources, project))
    for task in candidates:
        task.tests = tests.naming(dotted(project, task.path), task.qualname)
    candidates = [t for t in candidates if t.tests]
    log.info("%s: %d candidates named by tests, %d test nodes", project.name, len(candidates),
             len(tests.nodes))
    if dry_run:
        return candidates
    node_ids = sorted({node for task in candidates for node in task.tests})
    started = time.perf_counter()
    outcomes = original_outcomes(project, root, node_ids)
    log.info("%s: original run of %d node ids in %.1f s: %d pass", project.name,
             len(node_ids), time.perf_counter() - started,
             sum(1 for n in node_ids if outcomes.get(n) == "passed"))
    kept: list[Task] = []
    by_module: dict[str, list[Task]] = {}
    for task in candidates:
        by_module.setdefault(task.module, []).append(task)
    for module, group in sorted(by_module.items()):
        taken = 0
        for task in sorted(group, key=priority):
            if taken >= per_module:
                break
            passing = [n for n in task.tests if outcomes.get(n) == "passed"]
            if not passing:
                log.info("drop %s: the original passes none of its %d tests", task.id,
                         len(task.tests))
                continue
            stubbed = stub_source(sources[task.path], task.qualname, "raise NotImplementedError")
            run = run_tests(project, root, passing, {task.path: stubbed})
            failing = [n for n in passing if run.outcomes.get(n) != "passed"]
            if not failing:
                log.info("drop %s: its %d tests pass without its body", task.id, len(passing))
                continue
            task.tests, task.fail_when_stubbed = passing, len(failing)
            kept.append(task)
            taken += 1
            log.info("keep %s: %d tests, %d fail when stubbed", task.id, len(passing),
                     len(failing))
    return kept


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--per-module", type=int, default=PER_MODULE)
    parser.add_argument("--projects", default=None, help="comma-separated names (default all)")
    parser.add_argument("--out", type=Path, default=TASKS)
    parser.add_argument("--dry-run", action="store_true",
                        help="list the candidates per module; run no tests, write nothing")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(message)s")
    projects = load_projects()
    chosen = args.projects.split(",") if args.projects else list(projects)
    unknown = [name for name in chosen if name not in projects]
    if unknown:
        parser.error(f"unknown projects {unknown}; projects.json has {sorted(projects)}")
    tasks: list[Task] = []
    for name in chosen:
        tasks += build_project(projects[name], args.per_module, args.dry_run)
    if args.dry_run:
        for task in tasks:
            print(f"{task.id}\t{task.split}\tdoctest={task.doctest}\thelpers={task.helpers}"
                  f"\tlines={task.body_lines}\ttests={len(task.tests)}")
        return
    tasks.sort(key=lambda t: t.id)
    data = {"built_with": "tests/quality_corpus/build.py --per-module "
                          f"{args.per_module}", "max_body_lines": MAX_BODY_LINES,
            "tasks": [asdict(task) for task in tasks]}
    args.out.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    print(counts(tasks))


def counts(tasks: list[Task]) -> str:
    def line(label: str, group: list[Task]) -> str:
        return (f"{label}: {len(group)} tasks, {sum(t.cross_file for t in group)} cross-file, "
                f"{sum(t.doctest for t in group)} with doctests")
    out = [line("all", tasks)]
    for split in ("dev", "heldout"):
        out.append(line(split, [t for t in tasks if t.split == split]))
    for project in sorted({t.project for t in tasks}):
        out.append(line(project, [t for t in tasks if t.project == project]))
    return "\n".join(out)


if __name__ == "__main__":
    main()
