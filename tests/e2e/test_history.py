"""The history through a real LSP session and through the CLI, on the real default model: what
became of an answer (applied, kept, undone), feedback, the response cache, and the commands that
list the history and its figures."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from lsprotocol import types

from tests.e2e.conftest import (
    capabilities,
    change_document,
    generate_actions,
    open_document,
)
from tests.e2e.lsp_utils import apply_text_edits, edits_for, position_of

ROOT = Path(__file__).resolve().parents[2]

SOURCE = '''"""Shapes."""

import math


def circle_area(radius: float) -> float:
    """Return the area of a circle with the given radius."""
    pass
'''
SQUARE = '''"""More shapes."""


def square_area(side: float) -> float:
    """Return the area of a square with the given side."""
    pass
'''


async def command(client, name: str, argument=None):
    return await client.workspace_execute_command_async(types.ExecuteCommandParams(
        command=name, arguments=[argument] if argument is not None else []))


async def entry(client, entry_id: int) -> dict:
    listed = await command(client, "hearth.history", {"limit": 50})
    return next(e for e in listed["entries"] if e["id"] == entry_id)


def save(client, uri: str) -> None:
    client.text_document_did_save(types.DidSaveTextDocumentParams(
        text_document=types.TextDocumentIdentifier(uri=uri)))


async def test_an_answer_applied_by_the_client_is_kept_then_rated(start, tmp_path: Path):
    client = await start(capabilities("visual-studio-code"))
    uri = open_document(client, tmp_path / "shapes.py", SOURCE)
    [action] = await generate_actions(client, uri, position_of(SOURCE, "pass"))
    resolved = await client.code_action_resolve_async(action)
    entry_id = resolved.data["historyId"]
    assert isinstance(entry_id, int) and resolved.data["cached"] is False
    assert (await entry(client, entry_id))["outcome"] is None

    edits, _ = edits_for(resolved.edit, uri)
    change_document(client, uri, apply_text_edits(SOURCE, edits), 2)
    assert (await entry(client, entry_id))["outcome"] == "applied"
    save(client, uri)
    assert (await entry(client, entry_id))["outcome"] == "kept"

    assert await command(client, "hearth.feedback",
                         {"id": entry_id, "rating": "bad", "note": "too clever"}) == {
        "id": entry_id, "rating": "bad"}
    listed = await entry(client, entry_id)
    assert listed["feedback"] == "bad" and listed["action"] == "generate"
    assert listed["file"] == "shapes.py" and listed["target"] == "circle_area"
    stats = await command(client, "hearth.stats")
    assert stats["enabled"] and stats["actions"]["generate"]["rejected"] == 1

    for bad, message in (({"id": 999999, "rating": "good"}, "no history entry #999999"),
                         ({"id": entry_id, "rating": "meh"}, "good or bad"),
                         ({"rating": "good"}, "id must be"), ("x", "one object")):
        with pytest.raises(Exception, match=message):
            await command(client, "hearth.feedback", bad)


async def test_a_repeated_command_is_answered_from_the_cache_and_undone_if_never_kept(
        start, tmp_path: Path):
    client = await start(capabilities("neovim@v0.7.0"))
    uri = open_document(client, tmp_path / "square.py", SQUARE)
    call = {"uri": uri, "position": {"line": 5, "character": 4}}
    first = await command(client, "hearth.generate", call)
    second = await command(client, "hearth.generate", call)
    assert first["applied"] and not first["cached"]
    assert second["cached"] and second["cached_from"] == first["historyId"]
    assert second["historyId"] != first["historyId"] and "history_id" not in second
    assert second["title"] == first["title"] and second["confidence"] == first["confidence"]
    assert len(client.applied_edits) == 2
    assert client.applied_edits[0].edit == client.applied_edits[1].edit
    assert (await entry(client, first["historyId"]))["outcome"] == "applied"
    # The client said it applied the edit but never sent the change: at the save the
    # answer is not in the document.
    save(client, uri)
    assert (await entry(client, first["historyId"]))["outcome"] == "undone"
    stats = await command(client, "hearth.stats")
    assert stats["cache"]["hits"] == 1 and stats["actions"]["generate"]["cached"] == 1


async def test_history_off_answers_without_it(start, tmp_path: Path):
    client = await start(capabilities("visual-studio-code"),
                         init_options={"history": {"enabled": False}})
    uri = open_document(client, tmp_path / "square.py", SQUARE)
    answer = await command(client, "hearth.generate",
                           {"uri": uri, "position": {"line": 5, "character": 4}})
    assert "historyId" not in answer and answer["cached"] is False
    assert await command(client, "hearth.history") == {"enabled": False, "entries": []}
    with pytest.raises(Exception, match="the history is off"):
        await command(client, "hearth.feedback", {"id": 1, "rating": "good"})


def hearth(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "server"),
           "HEARTH_LOG_DIR": str(cwd.parent / "logs")}
    return subprocess.run([sys.executable, "-m", "hearth", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=900)


def test_the_cli_caches_rates_lists_and_clears(tmp_path: Path):
    project = tmp_path / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text("[project]\nname = 'shapes'\n")
    (project / "square.py").write_text(SQUARE)
    first = hearth("generate", "square.py:6", "--json", "--no-context", cwd=project)
    assert first.returncode == 0, first.stderr
    first_json = json.loads(first.stdout)
    assert "cached" not in first_json and isinstance(first_json["history_id"], int)
    again = hearth("generate", "square.py:6", "--json", "--no-context", cwd=project)
    again_json = json.loads(again.stdout)
    assert again_json["cached"] is True and again_json["cached_from"] == first_json["history_id"]
    assert again_json["new_text"] == first_json["new_text"]
    fresh = hearth("generate", "square.py:6", "--no-context", "--no-cache", cwd=project)
    assert fresh.returncode == 0 and "from the history" not in fresh.stderr
    assert "hearth feedback" in fresh.stderr

    rated = hearth("feedback", str(first_json["history_id"]), "good", "--note", "fine",
                   "--json", cwd=project)
    assert json.loads(rated.stdout) == {"ok": True, "id": first_json["history_id"],
                                        "rating": "good", "note": "fine"}
    listed = json.loads(hearth("history", "--json", cwd=project).stdout)["entries"]
    assert [e["cached"] for e in listed] == [False, True, False]
    assert listed[-1]["feedback"] == "good" and listed[-1]["target"] == "square_area"
    shown = json.loads(hearth("history", "show", str(first_json["history_id"]), "--json",
                              cwd=project).stdout)["entry"]
    assert "def square_area" in shown["answer"] and shown["note"] == "fine"
    stats = json.loads(hearth("stats", "--json", cwd=project).stdout)
    assert stats["actions"]["generate"]["requests"] == 3
    assert stats["cache"] == {"lookups": 2, "hits": 1, "hit_rate": 0.5}

    missing = hearth("feedback", "999999", "good", cwd=project)
    assert missing.returncode == 2 and "no history entry #999999" in missing.stderr
    off = hearth("history", "--no-history", cwd=project)
    assert off.returncode == 1 and "history is off" in off.stderr
    cleared = json.loads(hearth("history", "clear", "--json", cwd=project).stdout)
    assert cleared["removed"] == 3
    assert json.loads(hearth("history", "--json", cwd=project).stdout)["entries"] == []


TITLE_STUB = '''def title_for(name: str) -> str:
    """The title shown for ``name``."""
    pass
'''
LABEL_STUB = '''def label_for(name: str) -> str:
    """The label shown for ``name``."""
    pass
'''


def test_an_accepted_answers_convention_is_followed_by_the_next_similar_request(
        tmp_path: Path):
    """The user dictates a convention once (Generate with an instruction), rates the answer
    good, and the file goes away; the next similar request, which names no convention,
    follows it, though neither the index nor a file shows it to the model."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text("[project]\nname = 'labels'\n")
    (project / "labels.py").write_text(LABEL_STUB)
    before = json.loads(hearth("generate", "labels.py:3", "--json", cwd=project).stdout)
    assert "<<" not in before["new_text"]  # the model's own guess, without the convention
    (project / "titles.py").write_text(TITLE_STUB)
    first = json.loads(hearth("generate", "titles.py:3", "--json", "--instruction",
                              'return f"<<{name.upper()}>>"', cwd=project).stdout)
    assert "<<" in first["new_text"], first["new_text"]
    assert hearth("feedback", str(first["history_id"]), "good", cwd=project).returncode == 0
    shown = json.loads(hearth("history", "show", str(first["history_id"]), "--json",
                              cwd=project).stdout)["entry"]
    assert shown["target"] == "title_for" and shown["answer"].startswith("def title_for")
    (project / "titles.py").unlink()

    after = json.loads(hearth("generate", "labels.py:3", "--json", cwd=project).stdout)
    assert after["examples"] == [first["history_id"]] and not after.get("cached")
    assert "<<" in after["new_text"] and ".upper()" in after["new_text"], after["new_text"]


QUANTITY_STUB = '''def parse_quantity(text: str) -> int:
    """The quantity in ``text``: a whole number from 1 to 999."""
    pass
'''
QUANTITY_CHECK = """
from app.errors import AppError
from app.quantities import parse_quantity
assert parse_quantity("3") == 3
for bad in ("0", "1000", "abc"):
    try:
        parse_quantity(bad)
    except AppError:
        continue
    raise SystemExit(f"no AppError for {bad!r}")
"""


def test_asked_again_after_a_bad_rating_the_answer_follows_the_users_note(tmp_path: Path):
    """The user rates an answer bad with a note saying what the project does, and asks again:
    the model is shown its rejected answer and the note, and the new answer follows it (the
    import it needs added by Generate)."""
    project = tmp_path / "project"
    (project / "app").mkdir(parents=True)
    (project / "pyproject.toml").write_text("[project]\nname = 'app'\n")
    (project / "app" / "__init__.py").write_text("")
    (project / "app" / "errors.py").write_text(
        'class AppError(Exception):\n    """Everything this package raises."""\n')
    (project / "app" / "quantities.py").write_text(QUANTITY_STUB)
    first = json.loads(hearth("generate", "app/quantities.py:3", "--json", cwd=project).stdout)
    assert "AppError" not in first["new_text"], first["new_text"]  # the model's own guess
    note = "Out of range or not a number raises AppError (app.errors), never ValueError."
    assert hearth("feedback", str(first["history_id"]), "bad", "--note", note,
                  cwd=project).returncode == 0
    again = hearth("generate", "app/quantities.py:3", "--json", "--write", cwd=project)
    answer = json.loads(again.stdout)
    assert answer["examples"] == [first["history_id"]] and not answer.get("cached")
    written = (project / "app" / "quantities.py").read_text()
    assert written.startswith("from app.errors import AppError\n"), written
    run = subprocess.run([sys.executable, "-c", QUANTITY_CHECK], cwd=project,
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, (run.stderr, written)
