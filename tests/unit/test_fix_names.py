"""Fix of an undefined name (F821) names what the project defines that may be meant
(actions/fix_names.py): its exception classes for a name raised, its functions whose name or
docstring share the name's words, nothing for a file outside a package; and when one of them is
surely meant (the package's only root exception class, a name spelt alike), the rename as an
answer Fix takes without the model."""

from __future__ import annotations

from pathlib import Path

from hearth.core.actions.fix import FixAction
from hearth.core.actions.fix_names import (
    meant_hint,
    name_to_use,
    names_meant,
    renamed,
    undefined_name,
)
from hearth.core.pipeline.defaults import default_validators
from hearth.core.pipeline.engine import EngineOptions, run_action
from hearth.core.pipeline.types import ActionRequest
from hearth.core.text import Pos
from tests.unit.test_fix_rules import CountingBackend

LEGACY = '''def parse_weight(text: str) -> int:
    """The weight in grams in ``text``."""
    if not text.isdigit():
        raise WeightError(f"not a weight: {text!r}")
    return int(text)


def describe_refund(cents: int) -> str:
    return "Refund: " + format_cents(cents)


def check_postcode(text: str) -> str:
    if len(text) != 6:
        raise BadPostcode(text)
    return text
'''
PACKAGE = {
    "__init__.py": "",
    "errors.py": 'class ShopError(Exception):\n    """Every error the shop raises on bad '
                 'input."""\n',
    "money.py": 'def money(cents: int) -> str:\n    """An amount in cents as the shop shows '
                'it, e.g. 123456 -> \'EUR 1.234,56\'."""\n    return str(cents)\n',
    "db.py": 'def query(db, sql: str, params: dict) -> list[dict]:\n    """Run sql with '
             'params on db; the rows as dicts."""\n    return []\n',
    "legacy.py": LEGACY,
}


def shop(tmp_path: Path) -> Path:
    package = tmp_path / "shop"
    package.mkdir()
    for name, text in PACKAGE.items():
        (package / name).write_text(text, encoding="utf-8")
    return package / "legacy.py"


def request_at(path: Path, text: str) -> ActionRequest:
    line = next(n for n, source in enumerate(LEGACY.splitlines()) if text in source)
    return ActionRequest(LEGACY, Pos(line, 8), path=path, workspace=path.parent.parent)


def test_a_raised_name_is_offered_the_project_s_exception_classes(tmp_path: Path) -> None:
    request = request_at(shop(tmp_path), "WeightError")
    [meant] = names_meant(request, "WeightError")
    assert (meant.name, meant.module) == ("ShopError", "shop.errors")
    assert meant.describe() == ("`ShopError` (`from shop.errors import ShopError`; "
                                "class ShopError(Exception): Every error the shop raises on "
                                "bad input.)")
    # Raised, though not named like an exception.
    assert [m.name for m in names_meant(request, "BadPostcode")] == ["ShopError"]


def test_another_name_is_offered_functions_that_share_its_words(tmp_path: Path) -> None:
    request = request_at(shop(tmp_path), "format_cents")
    assert [m.name for m in names_meant(request, "format_cents")] == ["money"]
    assert names_meant(request, "shipping_label") == []  # nothing shares its words


def test_the_fix_prompt_names_them_and_a_lone_file_gets_none(tmp_path: Path) -> None:
    path = shop(tmp_path)
    request = request_at(path, "WeightError")
    action = FixAction()
    target = action.resolve(request)
    assert target.diagnostic.code == "F821"
    user = action.prompt(request, target, [], 256).messages[-1].content
    assert "`WeightError` is defined nowhere. This project defines this, which may be what " \
           "is meant: `ShopError` (`from shop.errors import ShopError`" in user
    alone = tmp_path / "alone.py"
    alone.write_text(LEGACY, encoding="utf-8")
    assert meant_hint(request_at(alone, "WeightError"),
                      "undefined name 'WeightError'") == ""
    assert undefined_name("undefined name 'x_y'") == "x_y" and undefined_name("E711") is None


def test_the_name_surely_meant_is_the_package_s_only_root_exception(tmp_path: Path) -> None:
    path = shop(tmp_path)
    request = request_at(path, "WeightError")
    assert name_to_use(request, "WeightError").name == "ShopError"
    # A subclass of ShopError is not a second root: ShopError is still the one meant.
    (path.parent / "errors.py").write_text(
        PACKAGE["errors.py"] + "\n\nclass NotFound(ShopError):\n    pass\n", encoding="utf-8")
    assert name_to_use(request, "WeightError").name == "ShopError"
    # Two unrelated exception classes: nothing is sure, the model chooses with the hint.
    (path.parent / "parsing.py").write_text("class ParseError(ValueError):\n    pass\n",
                                            encoding="utf-8")
    assert name_to_use(request, "WeightError") is None
    assert {"ParseError", "ShopError"} <= {m.name for m in names_meant(request, "WeightError")}


def test_a_function_is_surely_meant_only_when_spelt_alike(tmp_path: Path) -> None:
    request = request_at(shop(tmp_path), "format_cents")
    assert name_to_use(request, "format_cents") is None  # shares words, not its spelling
    assert name_to_use(request, "mony").name == "money"  # a typo of the one function


def test_the_rename_replaces_every_use_in_the_region_and_imports_the_name(
        tmp_path: Path) -> None:
    path = shop(tmp_path)
    request = request_at(path, "BadPostcode")
    target = FixAction().resolve(request)
    region = (target.region.start, target.region.end)
    text = renamed(request, region, "BadPostcode", name_to_use(request, "BadPostcode"))
    assert text == ("from shop.errors import ShopError\n"
                    "def check_postcode(text: str) -> str:\n"
                    "    if len(text) != 6:\n"
                    "        raise ShopError(text)\n"
                    "    return text\n")
    # An attribute of the same name is another name; a region without the name is nothing.
    source = "import shop\n\n\ndef f():\n    raise shop.BadPostcode(BadPostcode)\n"
    other = ActionRequest(source, Pos(4, 4), path=path, workspace=tmp_path)
    meant = name_to_use(request, "BadPostcode")
    assert renamed(other, (3, 4), "BadPostcode", meant).endswith(
        "    raise shop.BadPostcode(ShopError)\n")
    assert renamed(other, (0, 0), "BadPostcode", meant) is None


def test_a_relative_importing_file_gets_a_relative_import(tmp_path: Path) -> None:
    path = shop(tmp_path)
    source = "from .db import query\n\n\ndef f(x):\n    raise WeightError(x)\n"
    path.write_text(source, encoding="utf-8")
    request = ActionRequest(source, Pos(4, 8), path=path, workspace=tmp_path)
    text = renamed(request, (3, 4), "WeightError", name_to_use(request, "WeightError"))
    assert text.startswith("from .errors import ShopError\n")


def test_fix_takes_the_project_s_exception_without_asking_the_model(tmp_path: Path) -> None:
    path = shop(tmp_path)
    backend = CountingBackend("from shop.errors import WeightError\n")
    request = request_at(path, "WeightError")
    request.extra.update(code="F821", line=request.position.line)
    result = run_action(FixAction(), request, backend,
                        EngineOptions(samples=2, validators=default_validators(tmp_path)))
    assert backend.requests == 0 and result.method == "rule"
    assert result.confidence == 1.0 and result.details.fixed == ["F821"]
    assert result.new_source == ("from shop.errors import ShopError\n\n\n"
                                 + LEGACY.replace("raise WeightError(", "raise ShopError("))
