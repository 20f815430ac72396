"""Fix of an undefined name (F821) names what the project defines that may be meant
(actions/fix_names.py): its exception classes for a name raised, its functions whose name or
docstring share the name's words, nothing for a file outside a package."""

from __future__ import annotations

from pathlib import Path

from hearth.core.actions.fix import FixAction
from hearth.core.actions.fix_names import meant_hint, names_meant, undefined_name
from hearth.core.pipeline.types import ActionRequest
from hearth.core.text import Pos

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
