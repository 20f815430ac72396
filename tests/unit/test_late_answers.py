"""Failures the long fuzz run found in the server's threads and answers: the client's answer to
a server request the server stopped waiting for (its job was cancelled) is dropped quietly,
where pygls set a result on the cancelled future and raised (seed 1, sequence 198); ASTs are
built one at a time (seed 1, sequence 1627); and an answer that carries an edit is checked
again as it is written (seed 1, sequence 341)."""

from __future__ import annotations

import io
import logging

import pytest
from lsprotocol import types

from hearth.lsp.server import create_server


class Capture:
    def __init__(self) -> None:
        self.written: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def close(self) -> None:
        pass


@pytest.mark.parametrize("answer", [{"result": {"applied": True}},
                                    {"error": {"code": -32603, "message": "x"}}])
def test_an_answer_to_a_cancelled_request_is_dropped(
        answer: dict, caplog: pytest.LogCaptureFixture) -> None:
    server = create_server()
    server.protocol.set_writer(Capture())
    future = server.protocol.send_request(
        types.WORKSPACE_APPLY_EDIT,
        types.ApplyWorkspaceEditParams(edit=types.WorkspaceEdit(changes={})))
    [msg_id] = [key for key, value in server.protocol._request_futures.items()
                if value is future]
    future.cancel()
    with caplog.at_level(logging.DEBUG, logger="hearth"):
        server.protocol.receive({"jsonrpc": "2.0", "id": msg_id, **answer})
    assert msg_id not in server.protocol._request_futures
    assert "after it was cancelled" in caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_the_server_builds_one_ast_at_a_time() -> None:
    # CPython 3.11's AST constructor keeps its recursion depth per interpreter: two threads
    # building ASTs at once can fail with a spurious SystemError (python/cpython#106905).
    import ast
    import threading

    create_server()
    create_server()  # installed once
    assert getattr(ast.parse, "hearth_serialized", False)
    assert ast.literal_eval("[1, (2, 3)]") == [1, (2, 3)]
    source = "def f(x):\n    return [x, (x, {x: [x]})]\n" * 200
    failures: list[BaseException] = []

    def parse_many() -> None:
        try:
            for _ in range(20):
                ast.parse(source)
        except BaseException as error:  # noqa: BLE001 - the test reports any of them
            failures.append(error)

    threads = [threading.Thread(target=parse_many) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


def test_a_lone_surrogate_in_a_log_message_is_written_escaped(
        tmp_path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    # A client's URI of "\ud800", quoted in an error message: the log file's strict UTF-8
    # encoder failed the record and logging printed a traceback (seed 1, sequence 1556).
    from hearth import logs

    monkeypatch.setenv("HEARTH_LOG_DIR", str(tmp_path))
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        path = logs.setup_logging(logging.INFO)
        # The server's stderr escapes it as Python's stderr does; pytest's capture would not.
        logs._stderr_handler.setStream(io.StringIO())
        logging.getLogger("hearth.test").info("%s is not open in the editor", "\ud800")
        for handler in root.handlers:
            handler.flush()
    finally:
        for handler in root.handlers:
            if handler not in saved[0]:
                handler.close()
        root.handlers[:], root.level = saved
    assert "\\ud800 is not open in the editor" in path.read_text(encoding="utf-8")
    assert "Logging error" not in capsys.readouterr().err


def answers(capture: Capture) -> list[dict]:
    import json

    return [json.loads(data.split(b"\r\n\r\n", 1)[1]) for data in capture.written]


def test_a_recheck_turns_an_answer_gone_stale_into_its_error() -> None:
    # Seed 1, sequence 341: a resolved Fix was written after the server had read a change to
    # its document (pygls writes an answer from the task's done callback, and the change and
    # a later request were handled in between).
    from concurrent.futures import Future

    from hearth.lsp.server import content_modified

    server = create_server()
    capture = Capture()
    server.protocol.set_writer(capture)
    checked: list[str] = []

    def stale():
        checked.append("stale")
        return content_modified("The document changed")

    def current():
        checked.append("current")
        return None

    for msg_id, check in (("r1", stale), ("r2", current)):
        server.protocol.recheck_before_answer(msg_id, check)
        done: Future = Future()
        done.set_result({"title": "Hearth: Fix F401", "edit": {"changes": {}}})
        server.protocol._send_handler_result(done, msg_id=msg_id)
    # A failed handler's own error stands; its recheck is dropped, not run.
    server.protocol.recheck_before_answer("r3", stale)
    failed: Future = Future()
    failed.set_exception(content_modified("changed before the check"))
    server.protocol._send_handler_result(failed, msg_id="r3")

    first, second, third = answers(capture)
    assert first["id"] == "r1" and "result" not in first
    assert first["error"]["code"] == types.LSPErrorCodes.ContentModified
    assert second["id"] == "r2" and second["result"]["title"] == "Hearth: Fix F401"
    assert third["error"]["message"] == "changed before the check"
    assert checked == ["stale", "current"] and not server.protocol._rechecks


def test_an_answer_is_current_only_for_the_same_version_and_text() -> None:
    from types import SimpleNamespace

    from hearth.lsp.actions import changed_since

    server = create_server()
    open_now = {"file:///a.py": SimpleNamespace(version=3, source="x = 1\n")}
    server.document = open_now.get
    assert changed_since(server, "file:///a.py", 3, "x = 1\n") is None
    for version, source in ((4, "x = 1\n"), (3, "x = 2\n")):  # reopened at 3 with other text
        error = changed_since(server, "file:///a.py", version, source)
        assert error is not None and error.code == types.LSPErrorCodes.ContentModified
    assert changed_since(server, "file:///closed.py", 3, "x = 1\n") is not None
