"""The realistic quality corpus: its files are well formed and split as promised, and the
stub, splice and judge that the benchmark relies on do what they say (no model, no network)."""

from __future__ import annotations

import ast
import importlib.util
import json
import re
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "bench"))

from corpus_tasks import (  # noqa: E402
    TASKS,
    CorpusError,
    Project,
    answer_module,
    body_text,
    function_text,
    load_projects,
    load_tasks,
    run_tests,
    splice,
    stub_source,
)

from hearth.core.analysis.python_targets import function_at  # noqa: E402
from hearth.core.text import Pos  # noqa: E402

# Loaded by path: `build` is also the name of a PyPI package.
_spec = importlib.util.spec_from_file_location("quality_corpus_build",
                                               REPO / "tests" / "quality_corpus" / "build.py")
build = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = build  # dataclasses look their module up there
_spec.loader.exec_module(build)

TASK_FIELDS = {"id": str, "project": str, "module": str, "path": str, "qualname": str,
               "tests": list, "doctest": bool, "cross_file": bool, "helpers": list,
               "body_lines": int, "split": str, "fail_when_stubbed": int}


@pytest.fixture(scope="module")
def tasks() -> list[dict]:
    return load_tasks()


@pytest.fixture(scope="module")
def projects():
    return load_projects()


# -- the corpus files ------------------------------------------------------------------------
def test_projects_are_pinned(projects) -> None:
    assert len(projects) >= 3
    for project in projects.values():
        assert re.fullmatch(r"[0-9a-f]{64}", project.sha256), project.name
        assert project.sdist.endswith(".tar.gz") and project.version in project.sdist
        assert project.package and project.tests and project.licence
        for dependency in project.test_deps:
            assert re.fullmatch(r"[0-9a-f]{64}", dependency.sha256) and dependency.files


def test_tasks_are_well_formed(tasks, projects) -> None:
    for task in tasks:
        for name, kind in TASK_FIELDS.items():
            assert isinstance(task[name], kind), (task["id"], name)
        assert task["project"] in projects, task["id"]
        project = projects[task["project"]]
        assert task["id"] == f"{task['project']}/{task['module']}::{task['qualname']}"
        assert task["path"] == f"{project.package}/{task['module']}"
        assert task["tests"] and all("::" in node for node in task["tests"]), task["id"]
        assert 1 <= task["fail_when_stubbed"] <= len(task["tests"]), task["id"]
        assert 1 <= task["body_lines"] <= build.MAX_BODY_LINES, task["id"]
        assert task["cross_file"] == bool(task["helpers"]), task["id"]


def test_task_ids_are_unique(tasks) -> None:
    ids = [task["id"] for task in tasks]
    assert len(ids) == len(set(ids))


def test_the_corpus_is_as_large_and_varied_as_promised(tasks) -> None:
    assert len(tasks) >= 80
    assert sum(task["cross_file"] for task in tasks) >= 15
    assert len({task["project"] for task in tasks}) >= 3
    for split in ("dev", "heldout"):
        part = [task for task in tasks if task["split"] == split]
        assert sum(task["cross_file"] for task in part) >= 6, split
    assert sum(task["split"] == "heldout" for task in tasks) >= 30


def test_the_split_is_the_hash_of_the_id(tasks) -> None:
    for task in tasks:
        assert task["split"] == build.split_of(task["id"]), task["id"]
    heldout = sum(task["split"] == "heldout" for task in tasks) / len(tasks)
    assert 0.3 <= heldout <= 0.5


def test_no_module_dominates(tasks) -> None:
    per_module: dict[str, int] = {}
    for task in tasks:
        key = f"{task['project']}/{task['module']}"
        per_module[key] = per_module.get(key, 0) + 1
    cap = int(json.loads(TASKS.read_text(encoding="utf-8"))["built_with"].split()[-1])
    assert max(per_module.values()) <= cap


# -- stubbing and splicing ---------------------------------------------------------------------
MODULE = textwrap.dedent('''\
    import functools


    def first(items):
        return items[0]


    @functools.lru_cache(maxsize=None)
    def total(values: tuple[int, ...],
              start: int = 0) -> int:
        """Add the values to start.

        Nothing else.
        """
        # a running sum
        result = start
        for value in values:
            result += value
        return result
        # trailing note, indented as the body


    class Box:
        def size(self):
            """How many things are in the box."""
            return len(self.things)
    ''')


def test_stub_keeps_signature_and_docstring_and_removes_the_body() -> None:
    stubbed = stub_source(MODULE, "total")
    assert "@functools.lru_cache(maxsize=None)\ndef total(values: tuple[int, ...],\n" \
           "          start: int = 0) -> int:\n" in stubbed
    assert '    """Add the values to start.\n\n    Nothing else.\n    """\n' in stubbed
    for hidden in ("running sum", "result = start", "result += value", "trailing note"):
        assert hidden not in stubbed
    assert "def first(items):\n    return items[0]\n" in stubbed
    assert "        return len(self.things)\n" in stubbed
    ast.parse(stubbed)
    line = stubbed.splitlines().index("    Nothing else.")
    target = function_at(stubbed, Pos(line, 4))
    assert target is not None and target.qualname == "total" and target.is_stub


def test_stub_with_a_replacement_statement() -> None:
    stubbed = stub_source(MODULE, "Box.size", "raise NotImplementedError")
    assert ('        """How many things are in the box."""\n'
            '        raise NotImplementedError\n') in stubbed
    assert "len(self.things)" not in stubbed
    assert "result += value" in stubbed


def test_stub_refuses_what_it_cannot_do() -> None:
    with pytest.raises(CorpusError, match="no docstring"):
        stub_source(MODULE, "first")
    with pytest.raises(CorpusError, match="0 definitions"):
        stub_source(MODULE, "missing")


def test_body_text_is_what_the_stub_hides() -> None:
    hidden = body_text(MODULE, "total")
    assert hidden.startswith("    # a running sum\n")
    assert hidden.endswith("    # trailing note, indented as the body\n")


def test_splice_puts_a_body_back_in_place() -> None:
    stubbed = stub_source(MODULE, "total")
    assert splice(stubbed, "total", function_text(MODULE, "total")) == MODULE
    answer = stub_source(MODULE, "Box.size", "return 0")
    spliced = splice(MODULE, "Box.size", function_text(answer, "Box.size"))
    assert spliced == MODULE.replace("return len(self.things)", "return 0")


def test_an_answer_is_judged_as_its_function_in_the_original_module() -> None:
    stubbed = stub_source(MODULE, "total")
    answer = stub_source(MODULE, "total", "return sum(values, start)")
    module = answer_module(MODULE, stubbed, "total", answer)
    assert module == MODULE.replace(body_text(MODULE, "total"),
                                    "    return sum(values, start)\n")
    assert answer_module(MODULE, stubbed, "total", "def total(:\n") is None
    assert answer_module(MODULE, stubbed, "total", "x = 1\n") is None
    assert answer_module(MODULE, stubbed, "total", None) is None


def test_an_answer_that_changed_more_is_judged_whole() -> None:
    # What else the answer's edit wrote (an import, say) is part of what the user gets.
    stubbed = stub_source(MODULE, "total")
    answer = "import operator\n" + stub_source(MODULE, "total", "return sum(values, start)")
    assert answer_module(MODULE, stubbed, "total", answer) == answer


# -- the judge ---------------------------------------------------------------------------------
LIBRARY = 'def double(x):\n    """Twice x."""\n    return 2 * x\n'
TESTS = ("from demo.core import double\n\n\n"
         "def test_double():\n    assert double(3) == 6\n\n\n"
         "class TestMore:\n    def test_zero(self):\n        assert double(0) == 0\n")


@pytest.fixture
def demo(tmp_path: Path) -> tuple[Project, Path]:
    root = tmp_path / "demo-0"
    (root / "demo").mkdir(parents=True)
    (root / "tests").mkdir()
    (root / "demo" / "__init__.py").write_text("", encoding="utf-8")
    (root / "demo" / "core.py").write_text(LIBRARY, encoding="utf-8")
    (root / "tests" / "test_core.py").write_text(TESTS, encoding="utf-8")
    project = Project(name="demo", version="0", sdist="demo-0.tar.gz", sha256="0" * 64,
                      root="demo-0", package="demo", tests=("tests",))
    return project, root


NODES = ["tests/test_core.py::test_double", "tests/test_core.py::TestMore::test_zero"]


def test_the_judge_passes_the_original_and_fails_a_wrong_body(demo) -> None:
    project, root = demo
    run = run_tests(project, root, NODES)
    assert run.finished and run.passed(NODES), run.stderr_tail
    wrong = stub_source(LIBRARY, "double", "return x + 1")
    run = run_tests(project, root, NODES, {"demo/core.py": wrong})
    assert run.outcomes == {NODES[0]: "failed", NODES[1]: "failed"}
    assert not run.passed(NODES)


def test_the_judge_is_not_fooled_by_an_early_exit(demo) -> None:
    project, root = demo
    cheat = stub_source(LIBRARY, "double", "import os; os._exit(0)")
    run = run_tests(project, root, NODES, {"demo/core.py": cheat})
    assert not run.finished and not run.passed(NODES)


def test_the_judge_stops_a_test_that_never_ends(demo) -> None:
    project, root = demo
    forever = stub_source(LIBRARY, "double", "while True: pass")
    run = run_tests(project, root, NODES[:1], {"demo/core.py": forever}, test_timeout_s=1)
    assert run.finished and run.outcomes == {NODES[0]: "failed"}


# -- finding the tests that name a function --------------------------------------------------
def test_tests_are_found_through_their_imports(tmp_path: Path) -> None:
    root = tmp_path / "pkg-0"
    (root / "pkg").mkdir(parents=True)
    (root / "tests").mkdir()
    sources = {
        "pkg/__init__.py": "from .core import *\n",
        "pkg/helpers.py": "def clean(x):\n    return x.strip()\n",
        "pkg/core.py": textwrap.dedent('''\
            from .helpers import clean


            def shout(text):
                """The text in capitals, trimmed."""
                return clean(text).upper()


            def whisper(text):
                """The text in lower case."""
                return text.lower()
            '''),
    }
    for name, text in sources.items():
        (root / name).write_text(text, encoding="utf-8")
    (root / "tests" / "test_core.py").write_text(textwrap.dedent('''\
        import pkg
        from pkg.core import whisper


        def test_shout():
            assert pkg.shout(" a ") == "A"


        def test_whisper():
            assert whisper("A") == "a"


        def test_neither():
            assert "shout".upper() == "SHOUT"
        '''), encoding="utf-8")
    project = Project(name="pkg", version="0", sdist="pkg-0.tar.gz", sha256="0" * 64,
                      root="pkg-0", package="pkg", tests=("tests",))
    candidates = {task.qualname: task for task in build.candidates_of(project, sources)}
    assert set(candidates) == {"shout", "whisper"}
    assert candidates["shout"].helpers == ["clean"] and candidates["shout"].cross_file
    assert not candidates["whisper"].cross_file
    names = build.TestNames(project, root, build.definitions_of(sources, project))
    assert names.naming("pkg.core", "shout") == ["tests/test_core.py::test_shout"]
    assert names.naming("pkg.core", "whisper") == ["tests/test_core.py::test_whisper"]
