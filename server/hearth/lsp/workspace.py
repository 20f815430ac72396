"""Open documents keyed by one spelling of their URI, whichever spelling the client used."""

from __future__ import annotations

import logging
import re
from urllib.parse import unquote

import attrs
from lsprotocol import types
from pygls.uris import from_fs_path, to_fs_path
from pygls.workspace import TextDocument, Workspace

log = logging.getLogger(__name__)
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def valid_text(text: str) -> str:
    """``text`` with each lone surrogate as U+FFFD.

    JSON can carry a lone surrogate (``"\\ud800"``), and clients do send them, but nothing
    can encode one as UTF-8: not compile(), flake8, httpx, nor a file. U+FFFD is one code
    point for one, and the same length in UTF-8 and UTF-16, so every position stays valid.
    """
    return _LONE_SURROGATE.sub("\ufffd", text) if _LONE_SURROGATE.search(text) else text


def document_key(uri: str) -> str:
    """The URI as Hearth files a document under it.

    Clients escape differently (`my%20module.py` or `my module.py`, VS Code's `c%3A` or
    `C:`), and a client may send one spelling when it opens a file and another in a request
    about it: every spelling of a ``file:`` URI gives one key (decoded, then quoted the one
    way pygls quotes, the drive letter in lower case, ``localhost`` as no host).
    """
    if uri[:5].lower() == "file:":
        path = to_fs_path(uri)
        if path is not None:
            if path.startswith("//localhost/"):
                path = path[len("//localhost"):]
            return from_fs_path(path) or uri
    return unquote(uri)


class HearthWorkspace(Workspace):
    """pygls' workspace with text documents filed under `document_key`.

    A document keeps the URI the client opened it with (diagnostics are published under that
    spelling). Its text is `valid_text`: a lone surrogate is held as U+FFFD. A change to a
    document that is not open is logged and ignored: it is the client's mistake, and must not
    become an error shown to the user.
    """

    def find_text_document(self, uri: str) -> TextDocument | None:
        """The open document at ``uri``, or None (never a document read from disk)."""
        return self._text_documents.get(document_key(uri))

    def get_text_document(self, doc_uri: str) -> TextDocument:
        return self.find_text_document(doc_uri) or self._create_text_document(doc_uri)

    def put_text_document(self, text_document: types.TextDocumentItem,
                          notebook_uri: str | None = None) -> None:
        uri = text_document.uri
        self._text_documents[document_key(uri)] = self._create_text_document(
            uri, source=valid_text(text_document.text), version=text_document.version,
            language_id=text_document.language_id)
        if notebook_uri:  # notebooks keep pygls' own keys
            self._cell_in_notebook[unquote(uri)] = unquote(notebook_uri)

    def remove_text_document(self, doc_uri: str) -> None:
        self._text_documents.pop(document_key(doc_uri), None)
        self._cell_in_notebook.pop(unquote(doc_uri), None)

    def update_text_document(self, text_doc: types.VersionedTextDocumentIdentifier,
                             change: types.TextDocumentContentChangeEvent) -> None:
        document = self.find_text_document(text_doc.uri)
        if document is None:
            log.warning("Ignored a change to %s, which is not open", text_doc.uri)
            return
        if _LONE_SURROGATE.search(change.text):
            change = attrs.evolve(change, text=valid_text(change.text))
        document.apply_change(change)
        document.version = text_doc.version
