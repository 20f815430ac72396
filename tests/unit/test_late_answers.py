"""Two failures the long fuzz run found in the server's threads: the client's answer to a server
request the server stopped waiting for (its job was cancelled) is dropped quietly, where pygls
set a result on the cancelled future and raised (seed 1, sequence 198); and ASTs are built one
at a time (seed 1, sequence 1627)."""

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
