"""The client's answer to a server request the server stopped waiting for (its job was
cancelled) is dropped quietly: pygls would set a result on the cancelled future and raise
(found by the long fuzz run, seed 1 sequence 198)."""

from __future__ import annotations

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
    future = server.protocol.send_request(types.WORKSPACE_APPLY_EDIT, types.ApplyWorkspaceEditParams(
        edit=types.WorkspaceEdit(changes={})))
    [msg_id] = [key for key, value in server.protocol._request_futures.items()
                if value is future]
    future.cancel()
    with caplog.at_level(logging.DEBUG, logger="hearth"):
        server.protocol.receive({"jsonrpc": "2.0", "id": msg_id, **answer})
    assert msg_id not in server.protocol._request_futures
    assert "after it was cancelled" in caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
