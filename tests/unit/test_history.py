"""The history: the database (migrations, a corrupt file, a kill during a write, retention,
history off), the response cache's key (each dependency misses it), what is stored (never a
secret) and what past answers teach a new request. A scripted model stands in for the real
one (the end-to-end test runs the default model); the checks and the ranker run for real."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from hearth.core.errors import NoAnswer
from hearth.core.history import Entry, HistoryStore, Retention, history_path
from hearth.core.history.learn import (
    already_shown,
    normalised_code,
    repeated_rejection,
    similarity,
)
from hearth.core.history.store import SCHEMA_VERSION
from hearth.core.memory.records import Chunk
from hearth.core.memory.retrieve import Candidate, promote
from hearth.core.session import Session
from hearth.core.text import Pos
from hearth.settings import HistorySettings, Settings
from tests.unit.scripted import ScriptedModel

STUB = '''class ParseError(Exception):
    """Everything this module raises."""


def parse_port(text: str) -> int:
    """The port number in ``text``, from 1 to 65535."""
    pass
'''
GOOD = ("    port = int(text)\n    if not 1 <= port <= 65535:\n"
        "        raise ParseError(f'bad port: {text}')\n    return port\n")
PLAIN = "    return int(text)\n"
SECRET = "sk-live-51HxQzR8mT2vLkP9wYbN3cD4eF5gH6jK"


def entry(**changes) -> Entry:
    base = Entry(action="generate", title="Generate parse_port", source_hash="s",
                 settings_hash="k", elapsed_s=1.0, file="ports.py", target="parse_port")
    return replace(base, **changes)


# -- the database -------------------------------------------------------------------------
def test_entries_are_stored_read_back_and_judged(tmp_path: Path) -> None:
    store = HistoryStore(tmp_path / "h.sqlite3")
    first = store.add(entry(answer="a"))
    second = store.add(entry(answer="b", action="fix"))
    assert [e.id for e in store.entries()] == [second, first]
    assert [e.id for e in store.entries(action="fix")] == [second]
    assert store.set_outcome(first, "kept") and store.get(first).accepted
    assert store.set_feedback(first, "bad", "wrong bounds")
    got = store.get(first)
    assert (got.feedback, got.note) == ("bad", "wrong bounds")
    assert (got.accepted, got.rejected) == (False, True)
    assert not store.set_feedback(999, "good")
    with pytest.raises(ValueError):
        store.set_feedback(first, "meh")


def test_the_database_is_in_wal_mode_at_the_current_schema_version(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite3"
    HistoryStore(path).add(entry())
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_a_database_from_an_older_schema_is_migrated_in_place(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite3"
    sqlite3.connect(path).execute("CREATE TABLE unrelated (x)").connection.commit()
    store = HistoryStore(path)
    store.add(entry())
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert db.execute("SELECT count(*) FROM unrelated").fetchone()[0] == 0  # kept


def test_a_corrupt_database_is_set_aside_with_a_message_and_a_new_one_made(
        tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite3"
    path.write_bytes(b"SQLite format 3\x00" + os.urandom(4096))
    said: list[str] = []
    store = HistoryStore(path, on_problem=said.append)
    new_id = store.add(entry())
    assert store.get(new_id) is not None
    assert len(said) == 1 and "could not be read" in said[0] and "moved to" in said[0]
    assert [p.name for p in tmp_path.glob("h.sqlite3.corrupt-*")]


def test_a_version_1_history_gains_the_final_column_and_keeps_its_entries(
        tmp_path: Path) -> None:
    from hearth.core.history.store import MIGRATIONS, _statements

    path = tmp_path / "h.sqlite3"
    db = sqlite3.connect(path)
    for statement in _statements(MIGRATIONS[0]):
        db.execute(statement)
    db.execute("INSERT INTO entries (time, action, source_hash, settings_hash, title, "
               "elapsed_s, answer, outcome) VALUES (1, 'generate', 's', 'k', 't', 1, "
               "'def f(): return 1', 'kept')")
    db.execute("PRAGMA user_version = 1")
    db.commit()
    db.close()
    store = HistoryStore(path)
    [old] = store.entries()
    assert old.answer == "def f(): return 1" and old.final is None and old.accepted
    assert store.set_outcome(old.id, "edited", "def f():\n    return 2\n")
    again = store.get(old.id)
    assert again.outcome == "edited" and again.accepted
    assert again.taught == "def f():\n    return 2\n"


def test_a_saved_answer_is_kept_edited_or_undone(tmp_path: Path) -> None:
    from types import SimpleNamespace

    from hearth.core.pipeline.types import ActionResult
    from hearth.core.text import TextEdit
    from hearth.lsp.history import Outcomes

    store = HistoryStore(tmp_path / "h.sqlite3")
    server = SimpleNamespace(session=SimpleNamespace(history=SimpleNamespace(store=store)))
    outcomes = Outcomes(server)
    stub = "def port(text):\n    pass\n"
    answer = "    return int(text)"
    edited = "def port(text):\n    log.debug('port %s', text)\n    return int(text)\n"
    ids = {}
    for name in ("kept", "edited", "undone"):
        ids[name] = store.add(entry(answer=answer))
        result = ActionResult(action="generate", title="t", edits=[TextEdit(Pos(1, 0), Pos(1, 8),
                              answer)], confidence=1.0, low_confidence=False,
                              reasons=[], samples=1, tokens=1, elapsed_s=1.0,
                              function="port", history_id=ids[name],
                              new_source=stub.replace("    pass", answer))
        uri = f"file:///{name}.py"
        outcomes.applied(uri, result, True, stub)
        saved = {"kept": stub.replace("    pass", answer), "edited": edited, "undone": stub}
        outcomes.saved(uri, saved[name])
    assert store.get(ids["kept"]).outcome == "kept"
    assert store.get(ids["edited"]).outcome == "edited"
    assert store.get(ids["edited"]).final == edited.rstrip("\n")
    assert store.get(ids["undone"]).outcome == "undone"  # the stub is back: not an edit


def test_a_database_from_a_newer_hearth_is_set_aside_not_downgraded(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite3"
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    db.close()
    said: list[str] = []
    HistoryStore(path, on_problem=said.append).add(entry())
    assert said and "newer" in said[0]


WRITER = """
import sys, time
sys.path.insert(0, sys.argv[2])
from hearth.core.history import Entry, HistoryStore
store = HistoryStore(__import__('pathlib').Path(sys.argv[1]))
print('ready', flush=True)
i = 0
while True:
    store.add(Entry(action='generate', title=f'entry {i}', source_hash='s', settings_hash='k',
                    elapsed_s=0.1, answer='x' * 2000))
    i += 1
"""


def test_a_process_killed_while_writing_leaves_a_readable_database(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite3"
    server = Path(__file__).resolve().parents[2] / "server"
    for _ in range(3):
        writer = subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(server)],
                                  stdout=subprocess.PIPE, text=True)
        assert writer.stdout.readline().strip() == "ready"
        time.sleep(0.4)
        writer.send_signal(signal.SIGKILL)
        writer.wait()
    said: list[str] = []
    store = HistoryStore(path, on_problem=said.append)
    entries = store.entries()
    assert said == [] and len(entries) > 3
    assert all(e.answer == "x" * 2000 for e in entries)  # no entry half written
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_retention_drops_old_entries_and_keeps_the_newest(tmp_path: Path) -> None:
    store = HistoryStore(tmp_path / "h.sqlite3", Retention(max_age_days=30, max_entries=3))
    now = time.time()
    old = store.add(entry(time=now - 40 * 86400))
    recent = [store.add(entry(time=now - i)) for i in range(5)]
    store.prune(now)
    assert store.get(old) is None
    assert sorted(e.id for e in store.entries()) == sorted(recent[:3])


def test_retention_by_size_keeps_the_newest_entries_and_shrinks_the_file(
        tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite3"
    store = HistoryStore(path, Retention(max_megabytes=1))
    now = time.time()
    # 30 entries of 99 kB of answer (3 MB): over the limit of 1 MB.
    ids = [store.add(entry(answer="x" * 99_000, time=now - 30 + i)) for i in range(30)]
    store.prune(now)
    kept = sorted(e.id for e in store.entries())
    # Cut to nine tenths of the limit: the 9 newest entries hold 891 kB; a tenth would not fit.
    assert kept == ids[-9:]
    store.close()
    assert path.stat().st_size < 1_500_000  # compacted, not 3 MB of free pages
    unlimited = HistoryStore(tmp_path / "u.sqlite3", Retention(max_megabytes=0))
    for i in range(12):
        unlimited.add(entry(answer="x" * 100_000, time=now - i))
    assert unlimited.prune(now) == 0 and len(unlimited.entries()) == 12


def test_clear_empties_the_history(tmp_path: Path) -> None:
    store = HistoryStore(tmp_path / "h.sqlite3")
    store.add(entry())
    store.count("cache.hits")
    assert store.clear() == 1
    assert store.entries() == [] and store.counter("cache.hits") == 0


# -- through the Session --------------------------------------------------------------------
def session(tmp_path: Path, model: ScriptedModel, **history) -> Session:
    settings = Settings(history=HistorySettings(**history))
    settings.generation.samples = 1
    return Session(settings, tmp_path, backend=model)


def generate(sess: Session, source: str, path: Path, **run):
    path.write_text(source, encoding="utf-8")
    request = sess.request(source, Pos(6, 4), path=path)
    return sess.run("generate", request, use_context=False, **run)


def test_history_off_stores_nothing_and_caches_nothing(tmp_path: Path) -> None:
    model = ScriptedModel([PLAIN])
    sess = session(tmp_path, model, enabled=False)
    first = generate(sess, STUB, tmp_path / "ports.py")
    second = generate(sess, STUB, tmp_path / "ports.py")
    assert model.asked == 2 and first.history_id is None and not second.cached
    assert not history_path(tmp_path).exists()


def test_a_repeated_request_is_answered_from_the_cache(tmp_path: Path) -> None:
    model = ScriptedModel([GOOD])
    sess = session(tmp_path, model)
    first = generate(sess, STUB, tmp_path / "ports.py")
    second = generate(sess, STUB, tmp_path / "ports.py")
    assert model.asked == 1
    assert second.cached and second.cached_from == first.history_id
    assert second.history_id not in (None, first.history_id)
    assert (second.edits, second.new_source, second.confidence, second.title) == (
        first.edits, first.new_source, first.confidence, first.title)
    assert second.report()["cached"] is True
    third = generate(sess, STUB, tmp_path / "ports.py", use_cache=False)
    assert model.asked == 2 and not third.cached
    assert sess.history.stats()["cache"] == {"lookups": 2, "hits": 1, "hit_rate": 0.5}


def test_each_dependency_of_an_answer_misses_the_cache(tmp_path: Path) -> None:
    model = ScriptedModel([GOOD])
    sess = session(tmp_path, model)
    path = tmp_path / "ports.py"
    generate(sess, STUB, path)
    asked = model.asked
    # the file's text
    generate(sess, STUB + "\n# another line\n", path)
    assert model.asked == asked + 1
    # a setting
    sess.update_settings(replace(sess.settings, generation=replace(
        sess.settings.generation, max_tokens=200)))
    generate(sess, STUB, path)
    assert model.asked == asked + 2
    # the context the model is shown: another file's code the function uses
    (tmp_path / "helpers.py").write_text(
        "def clamp(value, low, high):\n    return max(low, min(high, value))\n")
    importing = "from helpers import clamp\n\n\n" + STUB
    request = sess.request(importing, Pos(9, 4), path=path)
    sess.run("generate", request)
    sess.run("generate", request)
    assert model.asked == asked + 3
    (tmp_path / "helpers.py").write_text(
        "def clamp(value, low, high):\n    \"\"\"Within [low, high].\"\"\"\n"
        "    return max(low, min(high, value))\n")
    sess.environment_changed()  # (jedi's answers are cached until the code changes)
    sess.run("generate", sess.request(importing, Pos(9, 4), path=path))
    assert model.asked == asked + 4
    # the model: a different backend is a different model
    sess2 = Session(sess.settings, tmp_path, backend=ScriptedModel([GOOD], name="other"))
    sess2.run("generate", sess2.request(STUB, Pos(6, 4), path=path), use_context=False)
    assert not sess2.history.store.entries(limit=1)[0].cached
    # the instruction
    sess.run("generate", sess.request(STUB, Pos(6, 4), path=path,
                                      instruction="check the bounds"), use_context=False)
    assert model.asked == asked + 5


def test_a_model_file_replaced_in_place_misses_the_cache(tmp_path: Path) -> None:
    weights = tmp_path / "model.gguf"
    weights.write_bytes(b"GGUF" + b"\0" * 10)
    settings = Settings()
    settings.model.path = str(weights)
    sess = Session(settings, tmp_path)
    action = sess.action("generate")
    before = sess.fingerprint(action, sess.engine_options(action))
    weights.write_bytes(b"GGUF" + b"\1" * 20)
    assert sess.fingerprint(action, sess.engine_options(action)) != before


def test_no_secret_reaches_the_database(tmp_path: Path) -> None:
    source = STUB.replace('class ParseError', f'API_KEY = "{SECRET}"\n\n\nclass ParseError')
    model = ScriptedModel([f"    print('{SECRET}')\n" + GOOD])
    sess = session(tmp_path, model)
    path = tmp_path / "ports.py"
    path.write_text(source, encoding="utf-8")
    request = sess.request(source, Pos(9, 4), path=path,
                           instruction=f"use the key {SECRET}")
    try:
        sess.run("generate", request, use_context=False)
    finally:
        sess.close()
    stored = b"".join(p.read_bytes() for p in history_path(tmp_path).parent.glob(
        history_path(tmp_path).name + "*"))
    assert stored and SECRET.encode() not in stored and b"HEARTH_SECRET" in stored


def test_a_failed_request_is_recorded_and_the_error_still_raised(tmp_path: Path) -> None:
    model = ScriptedModel(["    pass\n"])
    sess = session(tmp_path, model)
    with pytest.raises(Exception) as raised:
        generate(sess, STUB, tmp_path / "ports.py")
    assert "candidate" in str(raised.value)
    newest = sess.history.store.entries(limit=1)[0]
    assert newest.title.startswith("failed:") and newest.result is None


def test_an_unwritable_history_costs_the_history_not_the_answer(tmp_path: Path) -> None:
    model = ScriptedModel([GOOD])
    said: list[str] = []
    sess = Session(Settings(), tmp_path, backend=model, on_problem=said.append)
    sess.history.store.path = Path("/proc/hearth-cannot-write-here/h.sqlite3")
    result = generate(sess, STUB, tmp_path / "ports.py")
    again = generate(sess, STUB.replace("port number", "port"), tmp_path / "ports.py")
    assert result.new_source is not None and result.history_id is None
    assert again.new_source is not None
    assert len(said) == 1 and "not available" in said[0]  # told once, not at every step


# -- learning ---------------------------------------------------------------------------------
OTHER_STUB = STUB.replace("parse_port", "parse_timeout").replace(
    "The port number in ``text``, from 1 to 65535.", "The timeout in ``text``, in seconds.")


def test_an_accepted_answer_is_shown_as_an_example_to_a_similar_request(
        tmp_path: Path) -> None:
    model = ScriptedModel([GOOD])
    sess = session(tmp_path, model)
    first = generate(sess, STUB, tmp_path / "ports.py")
    sess.history.store.set_feedback(first.history_id, "good")
    model.bodies = ["    return float(text)\n"]
    second = generate(sess, OTHER_STUB, tmp_path / "timeouts.py")
    prompt = "\n".join(m.content for m in model.requests[-1].messages)
    assert "raise ParseError(f'bad port: {text}')" in prompt
    assert f"#{first.history_id}" in prompt
    assert second.examples == [first.history_id]
    assert sess.history.store.get(second.history_id).used == [first.history_id]
    # A rejected answer is never shown.
    sess.history.store.set_feedback(first.history_id, "bad")
    generate(sess, OTHER_STUB + "\n", tmp_path / "timeouts.py")
    assert "bad port" not in "\n".join(m.content for m in model.requests[-1].messages)


def test_an_answer_the_user_edited_teaches_their_version(tmp_path: Path) -> None:
    model = ScriptedModel([GOOD])
    sess = session(tmp_path, model)
    first = generate(sess, STUB, tmp_path / "ports.py")
    mine = ("def parse_port(text):\n    audit.note('port', text)\n"
            "    return int(text)\n")
    sess.history.store.set_outcome(first.history_id, "edited", mine)
    model.bodies = ["    return float(text)\n"]
    second = generate(sess, OTHER_STUB, tmp_path / "timeouts.py")
    prompt = "\n".join(m.content for m in model.requests[-1].messages)
    assert "audit.note('port', text)" in prompt and "bad port" not in prompt
    assert second.examples == [first.history_id]


def test_a_candidate_repeating_a_rejected_answer_is_penalised(tmp_path: Path) -> None:
    model = ScriptedModel([PLAIN])
    sess = session(tmp_path, model)
    first = generate(sess, STUB, tmp_path / "ports.py")
    sess.history.store.set_feedback(first.history_id, "bad")
    again = generate(sess, STUB, tmp_path / "ports.py", use_cache=False)
    assert again.confidence < first.confidence
    assert any(f"repeats answer #{first.history_id}, which you marked as bad" in reason
               for reason in again.reasons)
    # and the cache never gives a rejected answer back
    model.bodies = [GOOD]
    fresh = generate(sess, STUB, tmp_path / "ports.py")
    assert not fresh.cached and "ParseError" in (fresh.new_source or "")


def test_a_retry_is_shown_the_answer_the_user_rejected_and_their_note(
        tmp_path: Path) -> None:
    model = ScriptedModel([PLAIN])
    sess = session(tmp_path, model)
    first = generate(sess, STUB, tmp_path / "ports.py")
    assert sess.history.rate(first.history_id, "bad", "  raise ParseError out of range  ")
    model.bodies = [GOOD]
    again = generate(sess, STUB, tmp_path / "ports.py")
    # With a note, the note closes the request, and the rejected code is not shown (the model
    # copied it); the retry is sampled, not greedy (it gave the same answer again).
    request = model.requests[-1]
    *_, last = request.messages
    assert last.role == "user" and "Implement `parse_port`" in last.content
    assert last.content.endswith(f'earlier answer to this request (#{first.history_id}, '
                                 'parse_port) and said: "raise ParseError out of range". '
                                 "Follow what they said.")  # the note, trimmed
    assert "return int(text)" not in last.content
    assert request.params[0].temperature > 0
    assert again.examples == [first.history_id] and not again.cached
    assert "ParseError(f'bad port" in (again.new_source or "")


def test_a_rejection_without_a_note_is_shown_as_the_models_own_turn(tmp_path: Path) -> None:
    model = ScriptedModel([PLAIN])
    sess = session(tmp_path, model)
    first = generate(sess, STUB, tmp_path / "ports.py")
    assert sess.history.rate(first.history_id, "bad")
    generate(sess, STUB, tmp_path / "ports.py")
    *_, request, answer, verdict = model.requests[-1].messages
    assert request.role == "user" and "Implement `parse_port`" in request.content
    assert answer.role == "assistant" and "return int(text)" in answer.content
    assert verdict.role == "user" and verdict.content.startswith(
        f"The user rejected that answer (#{first.history_id}, parse_port). Find what was wrong")
    assert "Do not repeat the rejected answer" in verdict.content
    assert model.requests[-1].params[0].temperature > 0
    assert model.requests[0].params[0].temperature == 0  # the first request: greedy


def test_a_request_no_answer_passed_can_be_rated_with_a_note_that_goes_with_it_again(
        tmp_path: Path) -> None:
    model = ScriptedModel(["    return int(text\n"])  # does not parse: no usable answer
    sess = session(tmp_path, model)
    with pytest.raises(NoAnswer) as failed:
        generate(sess, STUB, tmp_path / "ports.py")
    entry_id = failed.value.history_id
    assert entry_id is not None
    # Rated bad without a note, it carries nothing to the next request.
    assert sess.history.rate(entry_id, "bad")
    with pytest.raises(NoAnswer):
        generate(sess, STUB, tmp_path / "ports.py")
    assert "No answer to this request" not in model.requests[-1].messages[-1].content
    assert sess.history.rate(entry_id, "bad", "raise ParseError when the port is out of range")
    model.bodies = [GOOD]
    again = generate(sess, STUB, tmp_path / "ports.py")
    *_, last = model.requests[-1].messages
    assert last.role == "user" and last.content.endswith(
        f"No answer to this request passed the checks before (#{entry_id}, line 7); the user "
        'said: "raise ParseError when the port is out of range". Follow what they said.')
    assert model.requests[-1].params[0].temperature > 0
    assert entry_id in again.examples and "ParseError(f'bad port" in (again.new_source or "")


def test_the_cli_says_how_to_rate_a_request_no_answer_passed(capsys) -> None:
    from argparse import Namespace

    from hearth.cli import fail

    error = NoAnswer("Generate parse_port: none of 1 candidate(s) passed the checks.", "Try again.")
    error.history_id = 12
    assert fail(Namespace(json=True), error, 1) == 1
    out, err = capsys.readouterr()
    assert '"history_id": 12' in out
    assert 'hearth feedback 12 bad --note "..."' in err


def test_the_language_server_says_how_to_rate_a_request_no_answer_passed() -> None:
    from hearth.lsp.server import HearthServer

    server = HearthServer()
    shown: list[str] = []
    server.show = lambda message, kind=None: shown.append(message)
    server.status = lambda *args, **kwargs: None
    error = NoAnswer("Fix F821: none of 5 candidate(s) passed the checks.", "Try again.")
    error.history_id = 7
    reply = server.user_error(error)
    assert reply.data == {"historyId": 7}
    assert "history entry #7: rate it bad with a note" in shown[0] and shown[0] in \
        f"Hearth: {reply.message}"
    # A client that rates failures itself (the VS Code extension) shows the message, once.
    from lsprotocol import types

    server.protocol.client_capabilities = types.ClientCapabilities(
        experimental={"hearth": {"ratesFailures": True}})
    reply = server.user_error(error)
    assert len(shown) == 1 and reply.data == {"historyId": 7}
    assert reply.message == "Fix F821: none of 5 candidate(s) passed the checks. Try again."


def test_an_example_in_the_users_note_is_a_check_of_the_retry(tmp_path: Path) -> None:
    model = ScriptedModel([PLAIN])
    sess = session(tmp_path, model)
    first = generate(sess, STUB, tmp_path / "ports.py")
    sess.history.rate(first.history_id, "bad", "parse_port('0') should raise ParseError")
    again = generate(sess, STUB, tmp_path / "ports.py")  # the same plain answer
    assert any(reason.startswith("contradicts your note on a rejected answer: "
                                 "`parse_port('0')` raises ParseError, but it returns 0")
               for reason in again.reasons), again.reasons
    model.bodies = [GOOD]
    fixed = generate(sess, STUB, tmp_path / "ports.py", use_cache=False)
    assert "passes the 1 example your note on a rejected answer gives" in fixed.evidence
    assert fixed.confidence > again.confidence


def test_a_rejection_is_not_shown_to_another_function_of_the_same_file(
        tmp_path: Path) -> None:
    model = ScriptedModel([PLAIN])
    sess = session(tmp_path, model)
    both = STUB + "\n\n" + OTHER_STUB.split("\n\n\n", 1)[1]
    path = tmp_path / "ports.py"
    path.write_text(both, encoding="utf-8")
    first = sess.run("generate", sess.request(both, Pos(6, 4), path=path), use_context=False)
    assert first.function == "parse_port"
    sess.history.rate(first.history_id, "bad", "raise ParseError for bad text")
    model.bodies = ["    return float(text)\n"]
    line = both.splitlines().index("    pass", 7)
    other = sess.run("generate", sess.request(both, Pos(line, 4), path=path),
                     use_context=False)
    assert other.function == "parse_timeout" and other.examples == []
    assert "ParseError for bad text" not in "\n".join(
        m.content for m in model.requests[-1].messages)
    assert not any("repeats answer" in reason for reason in other.reasons)


def test_a_note_stays_with_its_request(tmp_path: Path) -> None:
    model = ScriptedModel([PLAIN])
    sess = session(tmp_path, model)
    first = generate(sess, STUB, tmp_path / "ports.py")
    sess.history.rate(first.history_id, "bad", "raise ParseError for bad text")
    model.bodies = ["    return float(text)\n"]
    similar = generate(sess, OTHER_STUB, tmp_path / "timeouts.py")
    prompt = "\n".join(m.content for m in model.requests[-1].messages)
    assert "raise ParseError for bad text" not in prompt and "return int(text)" not in prompt
    assert similar.examples == []
    # A changed note is a changed prompt: the cache does not give the earlier retry's answer.
    again = generate(sess, STUB, tmp_path / "ports.py")
    sess.history.rate(first.history_id, "bad", "raise ParseError, never ValueError")
    third = generate(sess, STUB, tmp_path / "ports.py")
    assert not again.cached and not third.cached and model.asked == 4
    assert "never ValueError" in model.requests[-1].messages[-1].content


def test_a_note_is_stored_without_secrets_and_learning_off_shows_none(tmp_path: Path) -> None:
    model = ScriptedModel([PLAIN])
    sess = session(tmp_path, model, learn=False)
    first = generate(sess, STUB, tmp_path / "ports.py")
    assert sess.history.rate(first.history_id, "bad", f"the key is {SECRET}")
    assert SECRET not in (sess.history.store.get(first.history_id).note or "")
    assert not sess.history.rate(9999, "good")
    generate(sess, STUB, tmp_path / "ports.py", use_cache=False)
    assert "the key is" not in "\n".join(m.content for m in model.requests[-1].messages)


def test_an_accepted_answer_kept_in_the_document_is_not_shown_twice(tmp_path: Path) -> None:
    model = ScriptedModel([GOOD])
    sess = session(tmp_path, model)
    first = generate(sess, STUB, tmp_path / "ports.py")
    sess.history.store.set_feedback(first.history_id, "good")
    kept = first.new_source + "\n\n" + OTHER_STUB.split("\n\n\n", 1)[1]
    path = tmp_path / "ports.py"
    path.write_text(kept, encoding="utf-8")
    line = kept.splitlines().index("    pass")
    result = sess.run("generate", sess.request(kept, Pos(line, 4), path=path),
                      use_context=False)
    assert result.examples == []
    assert already_shown("def f():\n    return 1  # one\n", ["x = 0\ndef f():\n\n    return 1\n"])
    assert not already_shown("def f():\n    return 2\n", ["def f():\n    return 1\n"])


def test_learning_off_shows_no_examples(tmp_path: Path) -> None:
    model = ScriptedModel([GOOD])
    sess = session(tmp_path, model, learn=False)
    first = generate(sess, STUB, tmp_path / "ports.py")
    sess.history.store.set_feedback(first.history_id, "good")
    generate(sess, OTHER_STUB, tmp_path / "timeouts.py")
    assert "bad port" not in "\n".join(m.content for m in model.requests[-1].messages)


def test_accepted_code_is_promoted_in_retrieval() -> None:
    def candidate(path: str, name: str) -> Candidate:
        return Candidate(key=name, chunk=Chunk(path=path, start_line=1, end_line=2, kind="f",
                                               name=name, text="x"),
                         content_hash=name, importance=0.0)
    ranked = [(candidate("a.py", "first"), 0.9), (candidate("b.py", "Db.query"), 0.8)]
    promoted = promote(ranked, {("b.py", "query")}, 0.2)
    assert [c.chunk.name for c, _ in promoted] == ["Db.query", "first"]


def test_similarity_and_repetition() -> None:
    assert similarity("def parse_port(text)", "def parse_port(value)") > 0.5
    assert similarity("def parse_port(text)", "class Renderer: pass") == 0.0
    assert normalised_code("x = 1  # one\n\n  \ny = 2\n") == "x = 1\ny = 2"
    rejected = [entry(id=7, answer="def f():\n    return int(text)  # parse\n")]
    assert repeated_rejection("def f():\n    return int(text)\n", rejected).id == 7
    assert repeated_rejection("def f():\n    raise ParseError(text)\n", rejected) is None
