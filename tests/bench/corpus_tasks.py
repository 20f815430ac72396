"""The realistic quality corpus's shared pieces (helper of bench_corpus.py and of
tests/quality_corpus/build.py): the pinned sdists, fetched with pip and checked by sha256; a
task's function found by qualname, stubbed and spliced back; and the judge, which runs a task's
own pytest node ids in the sandbox on a copy of the unpacked project.
"""

from __future__ import annotations

import ast
import hashlib
import json
import secrets
import subprocess
import sys
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "server"))

from hearth.core.sandbox import run_python  # noqa: E402

CORPUS = REPO / "tests" / "quality_corpus"
PROJECTS = CORPUS / "projects.json"
TASKS = CORPUS / "tasks.json"
CACHE = REPO / ".bench" / "cache"
UNPACKED = REPO / ".bench" / "corpus"
PLUGIN = Path(__file__).with_name("corpus_pytest_plugin.py")
# Files beside the package that pytest reads: its configuration and root conftest.
CONFIG_FILES = ("pyproject.toml", "setup.cfg", "tox.ini", "pytest.ini", "conftest.py")
TEST_TIMEOUT_S = 10  # per test; the slowest original test of the corpus takes under 2 s
FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef


class CorpusError(Exception):
    """The corpus or a task cannot be used as asked (a bad file, a missing function)."""


# -- the projects ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Sdist:
    """One pinned source distribution on PyPI."""

    name: str
    version: str
    sdist: str  # its file name
    sha256: str
    root: str  # the folder it unpacks to

    @property
    def requirement(self) -> str:
        return f"{self.name}=={self.version}"


@dataclass(frozen=True)
class Dependency(Sdist):
    """A package the project's tests import that Hearth's environment lacks: its ``files``
    (relative to its root) are laid beside the project's in the judge's sandbox."""

    files: tuple[str, ...] = ()


@dataclass(frozen=True)
class Project(Sdist):
    package: str = ""  # the import package's folder, relative to root
    tests: tuple[str, ...] = ()  # test folders or files, relative to root
    support: tuple[str, ...] = ()  # other folders the tests import (never shown to the model)
    test_deps: tuple[Dependency, ...] = ()
    licence: str = ""
    licence_file: str = ""


SDIST_FIELDS = ("name", "version", "sdist", "sha256", "root")
PROJECT_FIELDS = (*SDIST_FIELDS, "package", "tests", "support", "test_deps", "licence",
                  "licence_file")


def _fields(path: Path, entry: dict, names: tuple[str, ...]) -> dict:
    if not isinstance(entry, dict):
        raise CorpusError(f"{path}: {entry!r} is not an object")
    missing = [name for name in names if name not in entry]
    if missing:
        raise CorpusError(f"{path}: {entry.get('name')!r} lacks {missing}")
    return {name: entry[name] for name in names}


def load_projects(path: Path = PROJECTS) -> dict[str, Project]:
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))["projects"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise CorpusError(f"{path}: not a projects file ({error})") from error
    projects = {}
    for entry in entries:
        values = _fields(path, entry, PROJECT_FIELDS)
        values["tests"], values["support"] = tuple(values["tests"]), tuple(values["support"])
        values["test_deps"] = tuple(
            Dependency(**_fields(path, dep, SDIST_FIELDS), files=tuple(dep.get("files", ())))
            for dep in values["test_deps"])
        projects[entry["name"]] = Project(**values)
    return projects


def load_tasks(path: Path = TASKS) -> list[dict]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))["tasks"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise CorpusError(f"{path}: not a tasks file ({error}); build it with "
                          "tests/quality_corpus/build.py") from error


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def sdist_path(sdist: Sdist, cache: Path = CACHE) -> Path:
    """The pinned sdist in the cache, downloaded with pip the first time; its sha256 must
    match projects.json (a wrong file is an error, never used)."""
    path = cache / sdist.sdist
    if not path.is_file():
        cache.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                        "--no-binary", ":all:", sdist.requirement, "-d", str(cache)],
                       check=True)
        if not path.is_file():
            raise CorpusError(f"pip downloaded {sdist.requirement} but not {sdist.sdist}")
    found = sha256_of(path)
    if found != sdist.sha256:
        raise CorpusError(f"{path}: sha256 {found}, but projects.json pins {sdist.sha256}; "
                          "delete the file to fetch it again")
    return path


def unpacked(sdist: Sdist, into: Path = UNPACKED) -> Path:
    """The sdist unpacked (its root folder), once; a project's test dependencies too."""
    root = into / sdist.root
    done = into / f".{sdist.root}.done"
    if not done.is_file() or done.read_text(encoding="utf-8").strip() != sdist.sha256:
        archive = sdist_path(sdist)
        into.mkdir(parents=True, exist_ok=True)
        with tarfile.open(archive) as tar:
            tar.extractall(into, filter="data")  # no absolute paths, links out, devices
        if not root.is_dir():
            raise CorpusError(f"{archive} does not unpack to {sdist.root}/")
        done.write_text(sdist.sha256 + "\n", encoding="utf-8")
    if isinstance(sdist, Project):
        if not (root / sdist.package).is_dir():
            raise CorpusError(f"{sdist.sdist} has no {sdist.root}/{sdist.package}/")
        for dependency in sdist.test_deps:
            unpacked(dependency, into)
    return root


def is_test_path(project: Project, relative: Path) -> bool:
    return any(relative == Path(t) or Path(t) in relative.parents for t in project.tests)


def package_sources(project: Project, root: Path) -> dict[str, str]:
    """The package's Python files (tests left out), by path relative to the project root."""
    out = {}
    for path in sorted((root / project.package).rglob("*.py")):
        relative = path.relative_to(root)
        if "__pycache__" in relative.parts or is_test_path(project, relative):
            continue
        out[relative.as_posix()] = path.read_text(encoding="utf-8")
    return out


def find_test_files(project: Project, root: Path) -> list[Path]:
    """The test modules pytest collects by default (test_*.py, *_test.py), relative to root."""
    found = []
    for entry in project.tests:
        path = root / entry
        candidates = [path] if path.is_file() else sorted(path.rglob("*.py"))
        for file in candidates:
            if file.name.startswith("test_") or file.name.endswith("_test.py"):
                found.append(file.relative_to(root))
    return found


# -- finding, stubbing and splicing a function ---------------------------------------------
def locate(tree: ast.Module, qualname: str) -> FunctionNode:
    """The function ``qualname`` names: ``f`` at module level or ``Class.method``."""
    scope: list[ast.stmt] = tree.body
    parts = qualname.split(".")
    for depth, part in enumerate(parts):
        last = depth == len(parts) - 1
        kinds = (ast.FunctionDef, ast.AsyncFunctionDef) if last else (ast.ClassDef,)
        matches = [node for node in scope if isinstance(node, kinds) and node.name == part]
        if len(matches) != 1:
            raise CorpusError(f"{qualname!r}: {len(matches)} definitions of {part!r}, not one")
        if last:
            return matches[0]
        scope = matches[0].body
    raise CorpusError(f"{qualname!r} is not a qualified name")


def _docstring(fn: FunctionNode) -> ast.Expr | None:
    first = fn.body[0]
    if (isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
            and isinstance(first.value.value, str)):
        return first
    return None


def _span(lines: list[str], fn: FunctionNode) -> tuple[int, int]:
    """0-based first and last line of the function: decorators, then the body, with the
    comment lines right after it that are indented as the body (python_targets' rule)."""
    start = min([d.lineno for d in fn.decorator_list] + [fn.lineno]) - 1
    end = (fn.end_lineno or fn.lineno) - 1
    column = fn.body[0].col_offset
    while end + 1 < len(lines):
        following = lines[end + 1]
        if following.strip().startswith("#") and \
                len(following) - len(following.lstrip()) >= column > 0:
            end += 1
        else:
            break
    return start, end


def body_text(source: str, qualname: str) -> str:
    """The lines after the docstring to the end of the function: what a task hides."""
    lines = source.splitlines(keepends=True)
    fn = locate(ast.parse(source), qualname)
    doc = _docstring(fn)
    first = doc.end_lineno if doc is not None else fn.body[0].lineno - 1
    return "".join(lines[first: _span(lines, fn)[1] + 1])


def stub_source(source: str, qualname: str, replacement: str | None = None) -> str:
    """``source`` with the function's body removed after its docstring (which Hearth treats
    as a stub), or replaced by the one statement ``replacement``; all else is unchanged."""
    try:
        tree = ast.parse(source)
    except SyntaxError as error:
        raise CorpusError(f"the module does not parse: {error}") from error
    fn = locate(tree, qualname)
    doc = _docstring(fn)
    if doc is None:
        raise CorpusError(f"{qualname!r} has no docstring to keep")
    lines = source.splitlines(keepends=True)
    if doc.lineno == fn.lineno or lines[doc.end_lineno - 1][doc.end_col_offset:].strip():
        raise CorpusError(f"{qualname!r}: the docstring shares a line with other code")
    _, end = _span(lines, fn)
    kept = lines[: doc.end_lineno]
    if replacement is not None:
        indent = lines[doc.lineno - 1][: doc.col_offset]
        kept.append(indent + replacement + "\n")
    return "".join(kept + lines[end + 1:])


def function_text(source: str, qualname: str) -> str:
    """The function as written in ``source``, decorators to its last line."""
    lines = source.splitlines(keepends=True)
    start, end = _span(lines, locate(ast.parse(source), qualname))
    return "".join(lines[start: end + 1])


def splice(source: str, qualname: str, function: str) -> str:
    """``source`` with the function ``qualname`` replaced by ``function`` (a whole function
    at the same indentation, as ``function_text`` gives it)."""
    lines = source.splitlines(keepends=True)
    start, end = _span(lines, locate(ast.parse(source), qualname))
    if function and not function.endswith("\n"):
        function += "\n"
    return "".join(lines[:start]) + function + "".join(lines[end + 1:])


def answer_module(original: str, stubbed: str, qualname: str, answer: str | None) -> str | None:
    """The module to judge an answer by: the original with the answer's version of the
    function spliced in; or, if the answer changed the stubbed file elsewhere too (an import
    it added), the answer's file whole, as the user would have it. None when the answer does
    not parse or lacks the function (it then fails)."""
    if not answer:
        return None
    try:
        function = function_text(answer, qualname)
        elsewhere = splice(answer, qualname, "") != splice(stubbed, qualname, "")
    except (SyntaxError, CorpusError):
        return None
    return answer if elsewhere else splice(original, qualname, function)


# -- the judge -------------------------------------------------------------------------------
@dataclass
class PytestRun:
    """The outcome of one pytest run: per node id, "passed", "failed" or "skipped"; a node
    id missing from ``outcomes`` did not run (a collection error, a crash, the timeout)."""

    outcomes: dict[str, str] = field(default_factory=dict)
    collect_errors: list[str] = field(default_factory=list)
    timed_out: bool = False
    finished: bool = False
    elapsed_s: float = 0.0
    stderr_tail: str = ""

    def passed(self, node_ids: list[str]) -> bool:
        return self.finished and all(self.outcomes.get(n) == "passed" for n in node_ids)


_trees: dict[Path, dict[str, str]] = {}


def judge_files(project: Project, root: Path) -> dict[str, str]:
    """The files the judge copies into its sandbox: the package, its tests, the folders the
    tests import and pytest's configuration (text files only), read once per process."""
    if root not in _trees:
        files: dict[str, str] = {}
        entries = [project.package, *project.tests, *project.support, *CONFIG_FILES]
        for entry in entries:
            path = root / entry
            paths = [path] if path.is_file() else sorted(path.rglob("*")) if path.is_dir() else []
            for file in paths:
                relative = file.relative_to(root)
                if not file.is_file() or "__pycache__" in relative.parts:
                    continue
                try:
                    files[relative.as_posix()] = file.read_text(encoding="utf-8")
                except UnicodeDecodeError:
                    continue  # the sandbox takes text; no test of the corpus reads a binary
        for dependency in project.test_deps:
            base = unpacked(dependency)
            for name in dependency.files:
                files[name] = (base / name).read_text(encoding="utf-8")
        _trees[root] = files
    return _trees[root]


def run_tests(project: Project, root: Path, node_ids: list[str],
              overrides: dict[str, str] | None = None, *, timeout_s: float | None = None,
              test_timeout_s: int = TEST_TIMEOUT_S) -> PytestRun:
    """Run ``node_ids`` in the sandbox on the project with ``overrides`` (path relative to
    the root -> text) laid over its files."""
    if not node_ids:
        raise CorpusError("no node ids to run")
    files = dict(judge_files(project, root))
    files.update(overrides or {})
    files[PLUGIN.name] = PLUGIN.read_text(encoding="utf-8")
    mark = f"HEARTH-CORPUS-JUDGE-{secrets.token_hex(6)}:"
    # Only pytest itself and the plugin: addopts and the venv's own plugins (asyncio, lsp)
    # belong to neither the project nor the answer.
    argv = ["-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:asyncio",
            "-p", "no:pytest_lsp", "-p", PLUGIN.stem, "-o", "addopts=",
            f"--hearth-mark={mark}", f"--hearth-test-timeout={test_timeout_s}", *node_ids]
    budget = timeout_s or min(600.0, 30.0 + 2.0 * len(node_ids))
    result = run_python(files, argv, timeout_s=budget, memory_mb=2048)
    run = PytestRun(timed_out=result.timed_out, elapsed_s=result.elapsed_s,
                    stderr_tail=(result.stderr[-1500:] or result.stdout[-1500:]))
    lines = [line for line in result.stdout.splitlines() if line.startswith(mark)]
    if lines:
        report = json.loads(lines[-1][len(mark):])
        run.outcomes, run.collect_errors = report["outcomes"], report["collect_errors"]
        run.finished = True
    return run
