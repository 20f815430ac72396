"""Code actions: listed at once, computed in codeAction/resolve or workspace/executeCommand."""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import platformdirs

from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams

from hearth.core.cancel import CancelToken
from hearth.core.errors import HearthError
from hearth.core.history.history import digest as text_hash
from hearth.core.pipeline.types import Action, ActionRequest, ActionResult
from hearth.core.text import Pos, TextEdit, split_lines
from hearth.lsp.convert import edits_to_client
from hearth.lsp.diagnostics import from_lsp, to_lsp
from hearth.lsp.progress import TextStream, WorkProgress, last_line
from hearth.lsp.server import HearthServer, content_modified

log = logging.getLogger(__name__)
LIST_ACTIONS = "hearth.listActions"
# The whole answer so far of an action that streams (Explain), for clients that declare
# `experimental.hearth.streamsMarkdown` (the VS Code extension's preview).
ANSWER_PROGRESS = "hearth/explainProgress"


@dataclass
class Invocation:
    """What an action was asked to do: from a code action's data or a command's arguments."""

    action: str
    uri: str
    position: types.Position
    end: types.Position | None = None
    version: int | None = None
    instruction: str | None = None
    extra: dict[str, Any] | None = None  # what the menu entry carried (Offer.data)
    # A hash of the text the action was offered for: a document closed and reopened at the
    # same version with other text is not the one the user chose the action in.
    text_hash: str | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"action": self.action, "uri": self.uri,
                                "position": {"line": self.position.line,
                                             "character": self.position.character}}
        if self.end is not None:
            data["end"] = {"line": self.end.line, "character": self.end.character}
        if self.version is not None:
            data["version"] = self.version
        if self.instruction:
            data["instruction"] = self.instruction
        if self.extra:
            data["extra"] = self.extra
        if self.text_hash is not None:
            data["textHash"] = self.text_hash
        return data

    @classmethod
    def from_json(cls, action: str, value: Any, where: str | None = None) -> Invocation:
        """The invocation a client sent back; `JsonRpcInvalidParams` saying what is wrong
        when it does not fit (a fuzzer, a broken client, data from another server)."""
        where = where or f"hearth.{action}"
        if not isinstance(value, dict) or not isinstance(value.get("uri"), str):
            raise JsonRpcInvalidParams(
                f"{where} expects one argument {{uri, position, ...}}, got {value!r:.200}")
        ranged = value.get("range")
        ranged = ranged if isinstance(ranged, dict) else {}
        start = position_of(value, "position", where) or position_of(ranged, "start", where)
        if start is None:
            raise JsonRpcInvalidParams(f"{where} needs a position {{line, character}}")
        end = position_of(value, "end", where) or position_of(ranged, "end", where)
        version = value.get("version")
        instruction = value.get("instruction")
        extra = value.get("extra")
        hashed = value.get("textHash")
        return cls(action, value["uri"], start, end,
                   version if isinstance(version, int) and not isinstance(version, bool)
                   else None,
                   instruction if isinstance(instruction, str) else None,
                   extra if isinstance(extra, dict) else None,
                   hashed if isinstance(hashed, str) else None)


MAX_UINTEGER = 2**31 - 1  # LSP's uinteger


def position_of(value: dict[str, Any], key: str, where: str) -> types.Position | None:
    """``value[key]`` as a position; None when absent; invalid params when malformed."""
    raw = value.get(key)
    if raw is None:
        return None
    numbers = [raw.get(part) for part in ("line", "character")] if isinstance(raw, dict) else []
    if len(numbers) != 2 or not all(isinstance(n, int) and not isinstance(n, bool)
                                    and 0 <= n <= MAX_UINTEGER for n in numbers):
        raise JsonRpcInvalidParams(
            f"{where}: {key} must be {{line, character}} with whole numbers from 0 to "
            f"{MAX_UINTEGER}, got {raw!r:.200}")
    return types.Position(*numbers)


def action_named(server: HearthServer, name: str) -> Action:
    for action in server.actions:
        if action.name == name:
            return action
    raise JsonRpcInvalidParams(f"Unknown Hearth action {name!r}")


def supports_resolving_edits(server: HearthServer) -> bool:
    text = server.client_capabilities.text_document
    code_action = text.code_action if text else None
    resolve = code_action.resolve_support if code_action else None
    return bool(resolve and "edit" in resolve.properties)


def workspace_edit(server: HearthServer, uri: str, version: int | None,
                   request: ActionRequest, result: ActionResult) -> types.WorkspaceEdit:
    """The result as one edit: the document's (versioned where the client allows) and any
    other files' (created where needed)."""
    encoding = server.workspace.position_encoding or types.PositionEncodingKind.Utf16
    workspace = server.client_capabilities.workspace
    edit_caps = workspace.workspace_edit if workspace else None
    versioned = bool(edit_caps and edit_caps.document_changes)
    can_create = versioned and types.ResourceOperationKind.Create in (
        edit_caps.resource_operations or [])
    document_changes: list = []
    changes: dict[str, list[types.TextEdit]] = {}
    if result.edits:
        edits = edits_to_client(request.source, result.edits, encoding)
        if versioned:
            # Versioned: the client refuses the edit if the document moved on meanwhile.
            document_changes.append(types.TextDocumentEdit(
                text_document=types.OptionalVersionedTextDocumentIdentifier(uri=uri,
                                                                            version=version),
                edits=edits))
        else:
            changes[uri] = edits
    for change in result.files:
        file_uri = change.path.resolve().as_uri()
        if change.old_text is None and not can_create:
            raise HearthError(f"Your editor cannot create {change.path.name} through an edit.",
                              "Run `hearth tests FILE:LINE --write` from a terminal instead.")
        whole = edits_to_client(change.old_text or "", [TextEdit(
            Pos(0, 0), Pos(1 << 30, 1 << 30), change.new_text)], encoding)
        if versioned:
            if change.old_text is None:
                document_changes.append(types.CreateFile(
                    uri=file_uri, options=types.CreateFileOptions(ignore_if_exists=True)))
            document_changes.append(types.TextDocumentEdit(
                text_document=types.OptionalVersionedTextDocumentIdentifier(
                    uri=file_uri, version=server.document_version(file_uri)),
                edits=whole))
        else:
            changes[file_uri] = whole
    if versioned:
        return types.WorkspaceEdit(document_changes=document_changes)
    return types.WorkspaceEdit(changes=changes)


def show_markdown(server: HearthServer, result: ActionResult) -> str | None:
    """Write an explanation to the cache folder and ask the client to show it."""
    markdown = result.markdown
    if not markdown:
        return None
    folder = Path(os.environ.get("HEARTH_CACHE_DIR") or platformdirs.user_cache_dir("hearth"))
    folder = folder / "explain"
    folder.mkdir(parents=True, exist_ok=True)
    # errors="replace": a lone surrogate from the editor's text has no UTF-8 form.
    digest = hashlib.sha256(markdown.encode("utf-8", "replace")).hexdigest()[:12]
    path = folder / f"explain-{digest}.md"
    path.write_text(markdown, encoding="utf-8", errors="replace")
    window = server.client_capabilities.window
    shows_itself = server.client_declares("showsMarkdown")
    if window and window.show_document and window.show_document.support and not shows_itself:
        server.window_show_document(types.ShowDocumentParams(
            uri=path.as_uri(), external=False, take_focus=False))
    return str(path)


def answer_stream(server: HearthServer, action: Action, call: Invocation, request_id: Any,
                  progress: WorkProgress) -> TextStream | None:
    """The answer as it is written: its last line as `$/progress` messages (every action's:
    the line of prose or code being written), and, for an action that streams (Explain), the
    whole text so far as `hearth/explainProgress` to a client that declares `streamsMarkdown`;
    None when nobody would see it."""
    notify = action.streams and server.client_declares("streamsMarkdown")
    if server.loop is None or not (notify or progress.active):
        return None

    def send(text: str) -> None:
        if server.protocol.shutdown_received:
            return  # the protocol would drop it anyway; stop building messages
        progress.report_now(last_line(text))
        if notify:
            server.protocol.notify(ANSWER_PROGRESS, {"id": request_id, "uri": call.uri,
                                                     "action": action.name, "text": text})
    return TextStream(server.loop, send)


def changed_since(server: HearthServer, uri: str, version: int | None,
                  source: str) -> JsonRpcException | None:
    """ContentModified when the document is no longer the one an answer was computed for (its
    version or its text: a document closed and reopened meanwhile starts again at a version
    it may have had before), else None."""
    now = server.document(uri)
    if now is None or now.version != version or now.source != source:
        return content_modified("The document changed while Hearth was working; nothing was "
                                "applied. Run the action again.")
    return None


async def compute(server: HearthServer, call: Invocation,
                  progress_token: types.ProgressToken | None = None,
                  ) -> tuple[ActionResult, ActionRequest, int | None]:
    """Run one action for the document as it is now; refuse if it changes meanwhile."""
    action = action_named(server, call.action)
    try:
        request, version = server.action_request(call.uri, call.position, call.end,
                                                 call.instruction, call.extra)
    except HearthError as exc:
        raise server.user_error(exc) from None
    if call.version is not None and version is not None and call.version != version:
        raise content_modified(
            f"The document changed (version {call.version} -> {version}) since the action "
            "was offered; run it again.")
    if call.text_hash is not None and call.text_hash != text_hash(request.source):
        raise content_modified("The document's text changed since the action was offered "
                               "(it was closed and reopened, or replaced); run it again.")
    cancel = CancelToken()
    job_id = server.track_job(cancel)
    session = server.session
    overlay = server.memory.overlay if server.memory is not None else dict
    try:
        async with WorkProgress(server, action.title, cancel, progress_token) as progress:
            server.status("busy", action.title)
            stream = answer_stream(server, action, call, job_id, progress)
            try:
                result = await server.run_inference(
                    lambda token: session.run(action, request, cancel=token,
                                              progress=progress.report, overlay=overlay,
                                              on_text=stream),
                    cancel)
            finally:
                if stream is not None:
                    stream.close()
    except Exception as exc:  # noqa: BLE001 - every failure becomes a clear answer
        raise server.user_error(exc) from None
    finally:
        server.untrack_job(job_id)
    stale = changed_since(server, call.uri, version, request.source)
    if stale is not None:
        server.status("ready", "Document changed; nothing applied")
        raise stale
    server.status("ready", result.title, lastAction={
        "name": action.name, "elapsed_s": round(result.elapsed_s, 2),
        "confidence": result.confidence})
    prompt = result.prompt
    evaluated = (f", prompt {prompt.tokens} tokens ({prompt.evaluated} evaluated)"
                 if prompt is not None and prompt.evaluated is not None else "")
    server.log_to_client(
        f"{result.title}: {result.samples} sample(s), {result.tokens} tokens{evaluated}, "
        f"{result.elapsed_s:.1f} s, confidence {result.confidence}")
    return result, request, version


def summary(result: ActionResult, applied: bool | None = None) -> dict[str, Any]:
    out = {"title": result.title, "confidence": result.confidence,
           "lowConfidence": result.low_confidence, "reasons": result.reasons,
           "samples": result.samples, "tokens": result.tokens,
           "elapsed_s": round(result.elapsed_s, 3),
           "context": [{"path": c.path, "name": c.name, "start_line": c.start_line,
                        "end_line": c.end_line} for c in result.context]}
    if applied is not None:
        out["applied"] = applied
    if result.history_id is not None:
        out["historyId"] = result.history_id
    out["cached"] = result.cached
    out.update({k: v for k, v in result.report().items()
                if isinstance(v, (str, int, float)) and k != "history_id"})  # historyId above
    return out


def register(server: HearthServer) -> None:
    kinds = sorted({action.kind for action in server.actions})

    @server.feature(types.TEXT_DOCUMENT_CODE_ACTION,
                    types.CodeActionOptions(code_action_kinds=kinds, resolve_provider=True))
    def code_actions(params: types.CodeActionParams) -> list[types.CodeAction]:
        uri = params.text_document.uri
        try:
            request, version = server.action_request(uri, params.range.start, params.range.end)
        except HearthError:
            return []
        lines = split_lines(request.source)
        request.diagnostics = [finding for d in params.context.diagnostics
                               if (finding := from_lsp(server, lines, d)) is not None]
        resolvable = supports_resolving_edits(server)
        offered_for = text_hash(request.source)
        offered = []
        for action in server.actions:
            try:
                offers = action.offers(request)
            except Exception:  # noqa: BLE001 - listing must never fail the request
                log.exception("%s.offers failed", action.name)
                continue
            # An action without an edit (Explain) is always a command; others resolve lazily.
            lazy = resolvable and action.makes_edits
            for offer in offers:
                call = Invocation(action.name, uri, params.range.start, params.range.end,
                                  version, extra=offer.data or None, text_hash=offered_for)
                offered.append(types.CodeAction(
                    title=offer.title, kind=action.kind, data=call.to_json() if lazy else None,
                    diagnostics=[to_lsp(server, lines, d) for d in offer.diagnostics] or None,
                    command=None if lazy else types.Command(
                        title=offer.title, command=action.command,
                        arguments=[call.to_json()])))
        return offered

    @server.feature(types.CODE_ACTION_RESOLVE)
    async def resolve(code_action: types.CodeAction) -> types.CodeAction:
        data = code_action.data
        if not isinstance(data, dict) or not isinstance(data.get("action"), str):
            raise JsonRpcInvalidParams(
                f"codeAction/resolve: this code action's data is not Hearth's: {data!r:.200}")
        call = Invocation.from_json(data["action"], data, "codeAction/resolve")
        result, request, version = await compute(server, call)
        # Checked again as the answer is written: a change read after compute's check and
        # before pygls writes the answer must stop the edit too.
        server.protocol.recheck_before_answer(
            server.protocol.msg_id,
            lambda: changed_since(server, call.uri, version, request.source))
        code_action.edit = workspace_edit(server, call.uri, version, request, result)
        code_action.title = result.title
        if result.history_id is not None:
            code_action.data = {**data, "historyId": result.history_id,
                                "cached": result.cached}
            if server.outcomes is not None:
                server.outcomes.offered(call.uri, result, request.source)
        return code_action

    def command_for(action: Action) -> None:
        @server.command(action.command)
        async def run_command(*args: Any) -> dict[str, Any]:
            call = Invocation.from_json(action.name, args[0] if args else None)
            result, request, version = await compute(server, call)
            if not (result.edits or result.files):
                out = summary(result)
                if result.markdown is not None:
                    out["path"] = show_markdown(server, result)
                return out
            response = await server.workspace_apply_edit_async(types.ApplyWorkspaceEditParams(
                edit=workspace_edit(server, call.uri, version, request, result),
                label=result.title))
            if server.outcomes is not None:
                server.outcomes.applied(call.uri, result, response.applied, request.source)
            if not response.applied:
                server.show(f"Hearth: the editor did not apply the edit "
                            f"({response.failure_reason or 'no reason given'}).",
                            types.MessageType.Warning)
            return summary(result, response.applied)

    for action in server.actions:
        command_for(action)

    @server.command(LIST_ACTIONS)
    def list_actions(*args: Any) -> dict[str, Any]:
        """The actions this server runs, so that a client's menus follow the server's."""
        return {"actions": [{"command": action.command, "name": action.name,
                             "title": action.title.removeprefix("Hearth: "),
                             "kind": action.kind, "makesEdits": action.makes_edits,
                             "languages": sorted(action.languages)}
                            for action in server.actions]}
