"""A package's helpers as conventions (pipeline/conventions.py): a method the package calls only
inside one short helper, called directly by a candidate, is a finding that names the helper;
methods of the built-in types, methods called elsewhere too, and the file's own lines are not."""

from __future__ import annotations

from pathlib import Path

from hearth.core.pipeline.conventions import HelperCheck, helpers_of, package_helpers, parse_module
from hearth.core.pipeline.types import ActionRequest, Candidate
from hearth.core.text import Pos

DB = '''def query(db, sql, params):
    """Run sql with params; the rows as dicts."""
    cursor = db.execute(sql, params)
    names = [column[0] for column in cursor.description or ()]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def clean(text):
    return text.strip().lower()
'''
STORE = '''from shop.db import query


def find(db, key):
    """The row of key."""
    pass
'''


def package(tmp_path: Path, **files: str) -> Path:
    folder = tmp_path / "shop"
    folder.mkdir()
    for name, text in {"__init__.py": "", "db.py": DB, "store.py": STORE, **files}.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text, encoding="utf-8")
    return folder / "store.py"


def check(path: Path, body: str, source: str = STORE) -> list[str]:
    request = ActionRequest(source, Pos(5, 4), path=path, workspace=path.parent.parent)
    new = source.replace("    pass\n", body)
    return [f.reason for f in HelperCheck()(request, Candidate(None, new_source=new))]


def test_a_method_called_only_inside_one_helper_is_that_helper_s(tmp_path: Path) -> None:
    path = package(tmp_path)
    helpers = helpers_of(list(filter(None, map(parse_module, sorted(path.parent.glob("*.py"))))))
    # fetchall is called on a local (the cursor), strip and lower are str's: none is a helper's.
    assert {m: (h.module, h.name) for m, h in helpers.items()} == {
        "execute": ("shop.db", "query")}


def test_a_direct_call_is_a_finding_that_names_the_helper(tmp_path: Path) -> None:
    path = package(tmp_path)
    direct = "    return db.execute('SELECT * FROM t WHERE k = ?', (key,)).fetchone()\n"
    assert check(path, direct) == [
        "calls `db.execute()` directly, which this package does only inside its helper "
        "`query()` (`from shop.db import query`)"]
    through = "    rows = query(db, 'SELECT * FROM t WHERE k = :key', {'key': key})\n" \
              "    return rows[0] if rows else None\n"
    assert check(path, through) == []
    # A built-in type's method is never a convention, though only clean() calls strip.
    assert check(path, "    return key.strip()\n") == []


def test_the_user_s_own_lines_are_not_the_candidate_s(tmp_path: Path) -> None:
    path = package(tmp_path)
    source = STORE.replace("    pass\n", "    return db.execute('SELECT 1')\n\n\n"
                                         "def other(db):\n    pass\n")
    request = ActionRequest(source, Pos(9, 4), path=path, workspace=tmp_path)
    new = source.replace("    pass\n", "    return 1\n")
    assert HelperCheck()(request, Candidate(None, new_source=new)) == []


def test_a_function_that_only_uses_a_method_does_not_wrap_it(tmp_path: Path) -> None:
    # funcy's cache(timeout) calls timeout.total_seconds(), and nothing else in funcy does:
    # the call hands on none of cache's arguments, so cache is no wrapper of it.
    uses = ("def cache(timeout, key_func=None):\n"
            "    seconds = timeout.total_seconds()\n    return seconds\n")
    path = package(tmp_path, **{"calc.py": uses})
    assert check(path, "    return key.total_seconds()\n") == []
    helpers = package_helpers(ActionRequest(STORE, Pos(5, 4), path=path, workspace=tmp_path))
    assert set(helpers) == {"execute"}


def test_no_convention_when_the_package_calls_the_method_elsewhere(tmp_path: Path) -> None:
    other = "def count(db):\n    return db.execute('SELECT count(*) FROM t').fetchone()[0]\n"
    path = package(tmp_path, **{"report.py": other})
    assert check(path, "    return db.execute('SELECT 1')\n") == []


def test_tests_and_the_file_itself_do_not_count(tmp_path: Path) -> None:
    # A test that calls execute directly, and the file being edited doing so, leave the
    # convention standing.
    path = package(tmp_path, **{"tests/__init__.py": "",
                                "tests/test_db.py": "def test(db):\n    db.execute('x')\n"})
    source = STORE + "\n\ndef legacy(db):\n    return db.execute('SELECT 2')\n"
    assert check(path, "    return db.execute('SELECT 1')\n", source) != []


def test_a_loose_file_and_a_changed_package(tmp_path: Path) -> None:
    loose = tmp_path / "alone.py"
    loose.write_text(STORE, encoding="utf-8")
    assert check(loose, "    return db.execute('SELECT 1')\n") == []
    path = package(tmp_path)
    request = ActionRequest(STORE, Pos(5, 4), path=path, workspace=tmp_path)
    assert set(package_helpers(request)) == {"execute"}
    # The package changes: the memo is keyed by its files, so the helper is seen to go.
    (path.parent / "report.py").write_text("def n(db):\n    return db.execute('x')\n",
                                           encoding="utf-8")
    assert package_helpers(request) == {}
