"""Diagnostics: flake8 and the security rules, debounced per document, never waiting for the
model."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from lsprotocol import types
from pygls.uris import to_fs_path

from hearth.core.analysis import Finding, Severity
from hearth.core.errors import HearthError
from hearth.core.text import Pos, split_lines
from hearth.lsp.convert import to_client, to_core
from hearth.lsp.server import MAX_DOCUMENT_CHARS, HearthServer
from hearth.lsp.workspace import document_key

log = logging.getLogger(__name__)

SEVERITY = {Severity.ERROR: types.DiagnosticSeverity.Error,
            Severity.WARNING: types.DiagnosticSeverity.Warning,
            Severity.INFORMATION: types.DiagnosticSeverity.Information,
            Severity.HINT: types.DiagnosticSeverity.Hint}
LSP_TO_SEVERITY = {value: key for key, value in SEVERITY.items()}


def analyse(server: HearthServer, uri: str, source: str) -> list[Finding]:
    """Every finding the settings ask for, for one Python document's text."""
    path = Path(to_fs_path(uri)) if uri.startswith("file:") else Path("untitled.py")

    def flake8_failed(exc: HearthError) -> None:  # a broken flake8 configuration: say so
        server.show(f"Hearth: {exc}", types.MessageType.Warning)

    return server.session.diagnostics(source, path, flake8_failed)


def to_lsp(server: HearthServer, lines: list[str], finding: Finding) -> types.Diagnostic:
    encoding = server.workspace.position_encoding or types.PositionEncodingKind.Utf16
    text_caps = server.client_capabilities.text_document
    publish = text_caps.publish_diagnostics if text_caps else None
    described = bool(publish and publish.code_description_support)
    return types.Diagnostic(
        range=types.Range(to_client(lines, Pos(finding.line, finding.column), encoding),
                          to_client(lines, Pos(finding.end_line, finding.end_column), encoding)),
        message=finding.message, severity=SEVERITY[Severity(finding.severity)],
        code=finding.code, source=finding.source,
        code_description=types.CodeDescription(href=finding.url)
        if described and finding.url else None)


def from_lsp(server: HearthServer, lines: list[str],
             diagnostic: types.Diagnostic) -> Finding | None:
    """A client's diagnostic (from a code action's context) as a core finding, if it is ours."""
    if diagnostic.source not in ("flake8", "hearth") or diagnostic.code is None:
        return None
    encoding = server.workspace.position_encoding or types.PositionEncodingKind.Utf16
    start = to_core(lines, diagnostic.range.start, encoding)
    end = to_core(lines, diagnostic.range.end, encoding)
    severity = LSP_TO_SEVERITY.get(diagnostic.severity or types.DiagnosticSeverity.Warning,
                                   Severity.WARNING)
    return Finding(code=str(diagnostic.code), message=diagnostic.message, line=start.line,
                   column=start.col, end_line=end.line, end_column=end.col, severity=severity,
                   source=diagnostic.source, url=None, explanation=None)


async def publish_later(server: HearthServer, uri: str, delay_s: float) -> None:
    """Wait out the debounce, analyse off the event loop, publish if still current."""
    await asyncio.sleep(delay_s)
    document = server.document(uri)
    if document is None:
        return
    uri, version, source = document.uri, document.version, document.source
    if document.language_id != "python" and not uri.endswith((".py", ".pyi")):
        findings: list[Finding] = []
    elif len(source) > MAX_DOCUMENT_CHARS:
        findings = []
        if not server.large_documents_reported.get(uri):
            server.large_documents_reported[uri] = True
            server.log_to_client(f"Hearth: {uri} is too large to analyse; no diagnostics.",
                                 types.MessageType.Warning)
    else:
        findings = await asyncio.to_thread(analyse, server, uri, source)
    current = server.document(uri)
    if current is None or current.version != version:
        return  # closed or edited meanwhile: a newer run will publish
    lines = split_lines(source)
    server.text_document_publish_diagnostics(types.PublishDiagnosticsParams(
        uri=uri, version=version, diagnostics=[to_lsp(server, lines, f) for f in findings]))


def schedule(server: HearthServer, uri: str, delay_s: float) -> None:
    """Debounce per document: a new edit cancels the pending run for that document."""
    key = document_key(uri)
    pending = server.diagnostic_tasks.pop(key, None)
    if pending is not None:
        pending.cancel()
    task = asyncio.ensure_future(publish_later(server, uri, delay_s))
    server.diagnostic_tasks[key] = task
    task.add_done_callback(lambda t: _forget(server, key, t))


def _forget(server: HearthServer, key: str, task: asyncio.Task) -> None:
    if server.diagnostic_tasks.get(key) is task:
        del server.diagnostic_tasks[key]
    if not task.cancelled() and task.exception() is not None:
        log.error("Diagnostics for %s failed", key, exc_info=task.exception())


def clear(server: HearthServer, uri: str) -> None:
    pending = server.diagnostic_tasks.pop(document_key(uri), None)
    if pending is not None:
        pending.cancel()
    server.text_document_publish_diagnostics(
        types.PublishDiagnosticsParams(uri=uri, diagnostics=[]))
