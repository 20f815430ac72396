"""Document events, each dispatched to the features that care: diagnostics and memory."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from lsprotocol import types
from pygls.uris import to_fs_path

from hearth.lsp import diagnostics
from hearth.lsp.server import HearthServer
from hearth.lsp.workspace import document_key


def register(server: HearthServer) -> None:
    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(params: types.DidOpenTextDocumentParams) -> None:
        diagnostics.schedule(server, params.text_document.uri, 0)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(params: types.DidChangeTextDocumentParams) -> None:
        uri = params.text_document.uri
        delay = server.typing.delay(document_key(uri), time.monotonic(),
                                    server.settings.diagnostics.debounce_ms / 1000)
        diagnostics.schedule(server, uri, delay)
        document = server.document(uri)
        if server.outcomes is not None and document is not None:
            server.outcomes.changed(uri, document.source)

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE)
    def did_save(params: types.DidSaveTextDocumentParams) -> None:
        uri = params.text_document.uri
        diagnostics.schedule(server, uri, 0)
        document = server.document(uri)
        if server.outcomes is not None and document is not None:
            server.outcomes.saved(uri, document.source)
        if server.memory is not None and uri.startswith("file:"):
            asyncio.ensure_future(server.memory.file_changed(Path(to_fs_path(uri))))

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(params: types.DidCloseTextDocumentParams) -> None:
        uri = params.text_document.uri
        diagnostics.clear(server, uri)
        server.typing.forget(document_key(uri))
        if server.outcomes is not None:
            server.outcomes.closed(uri)
        if server.completions is not None:
            server.completions.forget(document_key(uri))
        server.session.completer.forget(Path(to_fs_path(uri)) if uri.startswith("file:")
                                        else None)
