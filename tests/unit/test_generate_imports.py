"""Generate adds the import its function needs: a name only one module of the package defines,
or a standard module used as ``module.attribute``; never a guess."""

from __future__ import annotations

from pathlib import Path

from hearth.core.actions.generate_imports import import_edit, undefined_names
from hearth.core.session import Session
from hearth.core.text import Pos, apply_edits
from hearth.settings import HistorySettings, Settings
from tests.unit.scripted import ScriptedModel

STUB = '''def parse_port(text: str) -> int:
    """The port number in ``text``, from 1 to 65535."""
    pass
'''
BODY = ("    port = int(text)\n    if not 1 <= port <= 65535:\n"
        "        raise AppError(f'bad port: {text}')\n    return port\n")


def package(tmp_path: Path, **modules: str) -> Path:
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'app'\n", encoding="utf-8")
    folder = tmp_path / "app"
    folder.mkdir()
    (folder / "__init__.py").write_text("", encoding="utf-8")
    for name, text in modules.items():
        (folder / f"{name}.py").write_text(text, encoding="utf-8")
    return folder


def session(tmp_path: Path, model: ScriptedModel | None = None) -> Session:
    settings = Settings(history=HistorySettings(enabled=False))
    settings.generation.samples = 1
    return Session(settings, tmp_path, backend=model or ScriptedModel([]))


def edited(tmp_path: Path, source: str, answer: str, file: str = "ports.py") -> str | None:
    path = tmp_path / "app" / file
    path.write_text(source, encoding="utf-8")
    request = session(tmp_path).request(source, Pos(0, 0), path=path)
    added = import_edit(request, answer)
    return apply_edits(source, [added]) if added else None


def test_a_stubs_answer_gets_the_import_of_the_packages_own_name(tmp_path: Path) -> None:
    folder = package(tmp_path, errors="class AppError(Exception):\n    pass\n")
    (folder / "ports.py").write_text(STUB, encoding="utf-8")
    model = ScriptedModel([BODY])
    result = session(tmp_path, model).run(
        "generate", session(tmp_path).request(STUB, Pos(2, 4), path=folder / "ports.py"),
        use_context=False)
    assert result.new_source.startswith("from app.errors import AppError\n\n\ndef parse_port")
    assert undefined_names(result.new_source) == {}
    assert not any("defined nowhere" in reason for reason in result.reasons)


def test_the_import_goes_after_the_imports_or_the_docstring(tmp_path: Path) -> None:
    package(tmp_path, errors="class AppError(Exception):\n    pass\n")
    answer = "raise AppError('x')\n"
    after_imports = edited(tmp_path, "import os\n\nx = 1\n", "import os\n\nx = 1\n" + answer)
    assert after_imports == "import os\nfrom app.errors import AppError\n\nx = 1\n"
    after_doc = edited(tmp_path, '"""Ports."""\n\n\nx = 1\n', '"""Ports."""\n\n\nx = 1\n' + answer)
    assert after_doc == '"""Ports."""\nfrom app.errors import AppError\n\n\nx = 1\n'
    relative = edited(tmp_path, "from .other import y\n", "from .other import y\n" + answer)
    assert relative == "from .other import y\nfrom .errors import AppError\n"


def test_no_import_for_a_name_defined_twice_or_nowhere(tmp_path: Path) -> None:
    package(tmp_path, errors="class AppError(Exception):\n    pass\n",
            more="class AppError(Exception):\n    pass\n")
    assert edited(tmp_path, "x = 1\n", "x = 1\nraise AppError('x')\n") is None
    assert edited(tmp_path, "x = 1\n", "x = 1\nraise MadeUpError('x')\n") is None


def test_a_standard_module_only_when_used_as_a_module(tmp_path: Path) -> None:
    package(tmp_path)
    assert edited(tmp_path, "x = 1\n", "x = 1\ny = re.match('a', 'a')\n") == (
        "import re\n\n\nx = 1\n")
    # `string` used as a value is a mistake of the answer's, not a missing module.
    assert edited(tmp_path, "x = 1\n", "x = 1\ny = string + 'a'\n") is None
    # A name the original already lacked is not the answer's to fix.
    assert edited(tmp_path, "y = re.match('a', 'a')\n", "y = re.match('a', 'b')\n") is None
