"""Hearth's main job on the demo project, through a real LSP client (pygls' LanguageClient).

Starts `hearth serve`, opens examples/demo_project/inventory/stock.py, asks for the code
actions at the stub, resolves "Generate implementation" and prints the diff and the timings.
The file on disk is not changed.
"""

from __future__ import annotations

import asyncio
import difflib
import sys
import time
from pathlib import Path

from lsprotocol import types
from pygls.lsp.client import LanguageClient

from hearth.core.text import TextEdit, apply_edits, split_lines
from hearth.lsp.convert import to_core

PROJECT = Path(__file__).resolve().parent / "demo_project"
TARGET = PROJECT / "inventory" / "stock.py"


def client_capabilities() -> types.ClientCapabilities:
    return types.ClientCapabilities(
        general=types.GeneralClientCapabilities(position_encodings=["utf-16"]),
        window=types.WindowClientCapabilities(work_done_progress=True),
        workspace=types.WorkspaceClientCapabilities(
            workspace_edit=types.WorkspaceEditClientCapabilities(document_changes=True)),
        text_document=types.TextDocumentClientCapabilities(
            code_action=types.CodeActionClientCapabilities(
                resolve_support=types.ClientCodeActionResolveOptions(properties=["edit"]))))


async def main() -> int:
    text = TARGET.read_text(encoding="utf-8")
    stub_line = next(i for i, line in enumerate(text.splitlines()) if line.strip() == "pass")
    client = LanguageClient("hearth-demo", "1")

    @client.feature(types.WINDOW_WORK_DONE_PROGRESS_CREATE)
    def create_progress(params: types.WorkDoneProgressCreateParams) -> None:
        return None

    @client.feature(types.PROGRESS)
    def progress(params: types.ProgressParams) -> None:
        message = params.value.get("message") or params.value.get("title")
        if message:
            print(f"  … {message}", file=sys.stderr)

    @client.feature("hearth/status")
    def status(params: object) -> None:
        return None

    @client.feature(types.WINDOW_LOG_MESSAGE)
    def log_message(params: types.LogMessageParams) -> None:
        print(f"  server: {params.message}", file=sys.stderr)

    started = time.perf_counter()
    await client.start_io(sys.executable, "-m", "hearth", "serve", "--stdio")
    result = await client.initialize_async(types.InitializeParams(
        capabilities=client_capabilities(), root_uri=PROJECT.as_uri(),
        workspace_folders=[types.WorkspaceFolder(uri=PROJECT.as_uri(), name="demo")]))
    initialize_s = time.perf_counter() - started
    client.initialized(types.InitializedParams())
    encoding = result.capabilities.position_encoding or "utf-16"

    uri = TARGET.as_uri()
    client.text_document_did_open(types.DidOpenTextDocumentParams(types.TextDocumentItem(
        uri=uri, language_id="python", version=1, text=text)))
    cursor = types.Position(stub_line, 4)
    t0 = time.perf_counter()
    actions = await client.text_document_code_action_async(types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri), range=types.Range(cursor, cursor),
        context=types.CodeActionContext(diagnostics=[])))
    list_s = time.perf_counter() - t0
    titles = [a.title for a in actions or []]
    print(f"Code actions at {TARGET.relative_to(PROJECT.parent)}:{stub_line + 1}: {titles}")
    generate = next((a for a in actions or [] if "Generate" in a.title), None)
    if generate is None:
        print("hearth demo: no Generate action was offered at the stub", file=sys.stderr)
        return 1

    t0 = time.perf_counter()
    resolved = await client.code_action_resolve_async(generate)
    generate_s = time.perf_counter() - t0
    change = resolved.edit.document_changes[0]
    lines = split_lines(text)
    edits = [TextEdit(to_core(lines, e.range.start, encoding), to_core(lines, e.range.end, encoding),
                      e.new_text) for e in change.edits]
    after = apply_edits(text, edits)
    print("".join(difflib.unified_diff(text.splitlines(True), after.splitlines(True),
                                       "a/inventory/stock.py", "b/inventory/stock.py")))
    data = resolved.data if isinstance(resolved.data, dict) else {}
    # A second `make demo` is answered from the project's history (docs/history.md).
    cached = (" from the history: the same request was answered before (`hearth history "
              "clear` in examples/demo_project asks the model again)") if data.get("cached") \
        else ""
    print(f"server start to initialize: {initialize_s:.2f} s, code actions listed in "
          f"{list_s * 1000:.0f} ms, Generate resolved in {generate_s:.1f} s{cached} "
          f"({resolved.title})")
    await client.shutdown_async(None)
    client.exit(None)
    await client.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
