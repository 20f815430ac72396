"""Where Generate tests puts a function's tests: the project's test folder and module, and the
import line that reaches the function from there."""

from __future__ import annotations

import keyword
from dataclasses import dataclass
from pathlib import Path

from hearth.core.errors import HearthError

PROJECT_MARKERS = ("pyproject.toml", "setup.py", "setup.cfg", ".git")


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
