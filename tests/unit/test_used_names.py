"""The names the code uses as context: the project's helpers that the target's module imports,
as headers and docstrings resolved with jedi, the ones the target mentions first."""

from __future__ import annotations

from pathlib import Path

from hearth.core.analysis.context import AnalysisContext
from hearth.core.pipeline.types import ActionRequest
from hearth.core.pipeline.used_names import used_names_context
from hearth.core.text import Pos

HELPERS = '''def take(n, iterable):
    """Return the first n items of iterable as a list."""
    return list(iterable)[:n]


class Window:
    """A sliding window over a sequence."""

    def __init__(self, size: int, step: int = 1):
        self.size, self.step = size, step


def unrelated(x):
    return x
'''
MAIN = '''import os
from os.path import join
from .helpers import Window, take, unrelated as other


def first_pair(items):
    """The first two items of items, via take."""
    pass
'''


def request_in(tmp_path: Path) -> ActionRequest:
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("", encoding="utf-8")
    (package / "helpers.py").write_text(HELPERS, encoding="utf-8")
    (package / "main.py").write_text(MAIN, encoding="utf-8")
    return ActionRequest(MAIN, Pos(7, 4), path=package / "main.py", workspace=tmp_path,
                         analysis=AnalysisContext(tmp_path))


def test_imported_project_helpers_are_shown_mentioned_first(tmp_path: Path) -> None:
    snippets = used_names_context(request_in(tmp_path), 400)
    assert [s.name for s in snippets] == ["take", "Window", "unrelated"]
    take = snippets[0]
    assert take.path == "pkg/helpers.py" and take.start_line == 1
    assert take.text.startswith("def take(n, iterable):")
    assert "Return the first n items" in take.text and "list(iterable)" not in take.text
    assert snippets[1].text.startswith("class Window(size: int, step: int=1):")
    # The standard library's names are not the project's vocabulary.
    assert not any(s.name in ("join", "os") for s in snippets)


def test_files_the_index_excludes_are_not_shown(tmp_path: Path) -> None:
    request = request_in(tmp_path)
    assert used_names_context(request, 400, lambda rel: rel != "pkg/helpers.py") == []


def test_the_budget_bounds_the_names(tmp_path: Path) -> None:
    request = request_in(tmp_path)
    assert used_names_context(request, 0) == []
    few = used_names_context(request, 30)
    assert [s.name for s in few] == ["take"]


def test_nothing_without_a_workspace_or_outside_python(tmp_path: Path) -> None:
    request = request_in(tmp_path)
    loose = ActionRequest(MAIN, Pos(7, 4), path=request.path)
    assert used_names_context(loose, 400) == []
    other = ActionRequest("let x = 1;\n", Pos(0, 0), path=tmp_path / "a.js", language="javascript",
                          workspace=tmp_path)
    assert used_names_context(other, 400) == []
