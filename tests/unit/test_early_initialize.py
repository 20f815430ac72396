"""The cache of answers to `initialize` that `hearth serve` gives before it has loaded
(hearth.lsp.early): what its key holds and ignores, and how it keeps its file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from hearth.entry import early_start
from hearth.lsp.early import CACHE_ENTRIES, InitializeCache, code_signature, shape


def initialize(**params: object) -> dict:
    base = {"processId": 4242, "rootUri": "file:///work/a", "capabilities": {"window": {}},
            "workspaceFolders": [{"uri": "file:///work/a", "name": "a"}]}
    return {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {**base, **params}}


def cache(tmp_path: Path) -> InitializeCache:
    return InitializeCache(tmp_path / "initialize.json", signature="code")


def test_a_start_of_the_same_client_elsewhere_has_the_same_key(tmp_path: Path) -> None:
    keys = cache(tmp_path)
    elsewhere = initialize(processId=7, rootUri="file:///home/b", rootPath="/home/b",
                           workspaceFolders=[{"uri": "file:///home/b", "name": "b"}])
    first = initialize(rootPath="/work/a")
    assert keys.key(first) == keys.key(elsewhere)


def test_what_can_change_the_answer_changes_the_key(tmp_path: Path) -> None:
    keys = cache(tmp_path)
    base = keys.key(initialize())
    changed = [
        initialize(capabilities={"window": {"workDoneProgress": True}}),
        initialize(initializationOptions={"index": {"enabled": False}}),
        initialize(clientInfo={"name": "Neovim"}),
        # The volatile params by their shape: a processId of another type may not be valid.
        initialize(processId=None),
        initialize(processId="4242"),
        initialize(processId=True),
        initialize(workspaceFolders=None),
        initialize(workspaceFolders=[{"uri": "file:///work/a"}]),
        initialize(workspaceFolders=[{"uri": 1, "name": "a"}]),
    ]
    keys_changed = [keys.key(message) for message in changed]
    assert base not in keys_changed
    assert len(set(keys_changed)) == len(changed)
    other_code = InitializeCache(tmp_path / "initialize.json", signature="other code")
    assert other_code.key(initialize()) != base


def test_params_that_are_not_an_object_have_no_key(tmp_path: Path) -> None:
    keys = cache(tmp_path)
    assert keys.key({"id": 1, "method": "initialize"}) is None
    assert keys.key({"id": 1, "method": "initialize", "params": [1, 2]}) is None
    assert keys.lookup({"id": 1, "method": "initialize", "params": "x"}) is None


def test_shape_keeps_structure_and_types_not_values() -> None:
    assert shape({"b": [1, 2], "a": "x"}) == {"a": "str", "b": ['"int"']}
    assert shape(True) == "bool" and shape(1) == "int" and shape(None) == "NoneType"
    assert shape([{"uri": "u", "name": "n"}, {"name": "m", "uri": "v"}]) == \
        [json.dumps({"name": "str", "uri": "str"})]


def test_a_stored_answer_is_found_again_and_the_newest_are_kept(tmp_path: Path) -> None:
    keys = cache(tmp_path)
    messages = [initialize(capabilities={"n": n}) for n in range(CACHE_ENTRIES + 2)]
    for n, message in enumerate(messages):
        keys.store(keys.key(message), {"capabilities": {"n": n}})
    assert keys.lookup(messages[-1]) == {"capabilities": {"n": CACHE_ENTRIES + 1}}
    assert keys.lookup(messages[2]) == {"capabilities": {"n": 2}}
    assert keys.lookup(messages[0]) is None and keys.lookup(messages[1]) is None
    stored = json.loads((tmp_path / "initialize.json").read_text())
    assert len(stored["entries"]) == CACHE_ENTRIES
    assert not list(tmp_path.glob("*.tmp"))


def test_a_corrupt_cache_file_is_ignored_then_replaced(tmp_path: Path) -> None:
    keys = cache(tmp_path)
    (tmp_path / "initialize.json").write_text('{"format": 1, "entries": [')
    assert keys.lookup(initialize()) is None
    keys.store(keys.key(initialize()), {"capabilities": {}})
    assert keys.lookup(initialize()) == {"capabilities": {}}


def test_an_unwritable_cache_folder_is_not_an_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    keys = InitializeCache(blocker / "initialize.json", signature="code")
    keys.store("key", {"capabilities": {}})  # logged, not raised
    assert keys.lookup(initialize()) is None


def test_the_code_signature_follows_the_files(tmp_path: Path, monkeypatch) -> None:
    package = tmp_path / "pkg_sig"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("x = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    before = code_signature(("pkg_sig",))
    assert code_signature(("pkg_sig",)) == before
    (package / "a.py").write_text("x = 22\n")
    assert code_signature(("pkg_sig",)) != before


def test_only_the_stdio_server_starts_reading_early() -> None:
    for argv in (["serve", "--tcp", "127.0.0.1:1"], ["serve", "--tcp=127.0.0.1:1"],
                 ["serve", "--help"], ["generate", "x.py"], [], ["--version"]):
        assert early_start(argv) is None, argv


def test_the_early_reader_loads_no_protocol_library() -> None:
    """What answers `initialize` early must not import what makes the server slow to load."""
    program = ("import sys, hearth.entry, hearth.lsp.early\n"
               "print([m for m in ('pygls', 'lsprotocol', 'cattrs', 'attrs', 'hearth.cli',"
               " 'hearth.settings', 'hearth.lsp.server') if m in sys.modules])")
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
