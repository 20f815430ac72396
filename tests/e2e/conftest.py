"""Start the real server (`python -m hearth serve`) under a pytest-lsp client.

Each test states which editor it stands for by the recorded capabilities it sends.
"""

from __future__ import annotations

import copy
import os
import sys
import typing
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities
from pytest_lsp.client import make_test_lsp_client

from hearth.core.memory.cache import cache_base
from hearth.core.models.manifest import load_manifest, model_file
from hearth.core.session import models_in_use
from hearth.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def require_default_model() -> None:
    """Every model the actions run on by default (Generate's and the others')."""
    for name in models_in_use(Settings()):
        spec = load_manifest().get(name)
        if not model_file(spec).is_file():
            pytest.fail(f"The model {name} is not provisioned at {model_file(spec)}: "
                        "run `make setup` (or `hearth models pull`).", pytrace=False)


def capabilities(name: str, *, encodings: list[str] | None = None,
                 resolve: bool | None = None) -> types.ClientCapabilities:
    """Recorded capabilities of a real client, optionally adjusted for one test."""
    caps = copy.deepcopy(client_capabilities(name))
    if encodings is not None:
        caps.general = caps.general or types.GeneralClientCapabilities()
        caps.general.position_encodings = encodings
    if resolve is False and caps.text_document and caps.text_document.code_action:
        caps.text_document.code_action.resolve_support = None
    return caps


def client_factory() -> LanguageClient:
    client = make_test_lsp_client()
    converter = client.protocol._converter

    def command_or_code_action(value: Any, _type: Any) -> types.Command | types.CodeAction:
        # lsprotocol's converter reads a CodeAction that carries a command as a Command (it
        # coerces the command object to a string): tell them apart by the command's type.
        if isinstance(value.get("command"), str):
            return converter.structure(value, types.Command)
        return converter.structure(value, types.CodeAction)

    converter.register_structure_hook(typing.Union[types.Command, types.CodeAction],
                                      command_or_code_action)
    # pytest-lsp keeps the diagnostics; also keep the version they were published for.
    client.diagnostic_versions: dict[str, int | None] = {}
    features = client.protocol.fm.features
    keep_diagnostics = features[types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS]

    def publish_diagnostics(params: types.PublishDiagnosticsParams) -> None:
        client.diagnostic_versions[params.uri] = params.version
        keep_diagnostics(params)

    features[types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS] = publish_diagnostics
    client.applied_edits: list[types.ApplyWorkspaceEditParams] = []
    client.statuses: list[dict[str, Any]] = []

    @client.feature(types.WORKSPACE_APPLY_EDIT)
    def apply_edit(params: types.ApplyWorkspaceEditParams) -> types.ApplyWorkspaceEditResult:
        client.applied_edits.append(params)
        return types.ApplyWorkspaceEditResult(applied=True)

    @client.feature("hearth/status")
    def status(params: Any) -> None:
        client.statuses.append(params)

    return client


Starter = Callable[..., Any]


@pytest.fixture(scope="session")
def shared_cache(tmp_path_factory) -> Path:
    """One cache for the session: the embedder is exported to ONNX once, not per test;
    each workspace still gets its own index folder in it. The models made by `make setup`
    (the ONNX exports and the code-tuned embedder) are shared in, so the servers embed
    as a set-up user's would."""
    cache = tmp_path_factory.mktemp("hearth-cache")
    models = cache_base() / "models"
    if models.is_dir():
        (cache / "models").symlink_to(models, target_is_directory=True)
    return cache


@pytest_asyncio.fixture
async def start(tmp_path: Path, shared_cache: Path) -> AsyncIterator[Starter]:
    """``await start(caps, init_options=..., configuration=...)`` gives an initialized client."""
    require_default_model()
    clients: list[LanguageClient] = []
    env = {**os.environ, "HEARTH_LOG_DIR": str(tmp_path / "logs"),
           "HEARTH_CACHE_DIR": str(shared_cache), "PYTHONPATH": str(ROOT / "server")}

    async def starter(caps: types.ClientCapabilities, *, init_options: Any = None,
                      configuration: dict[str, Any] | None = None,
                      root: Path | None = None) -> LanguageClient:
        config = ClientServerConfig(
            server_command=[sys.executable, "-m", "hearth", "serve", "--stdio"],
            client_factory=client_factory, server_env=env)
        client = await config.start()
        clients.append(client)
        if configuration is not None:
            client.set_configuration(configuration)
        workspace = root or tmp_path
        # kept on the client: what the server advertised
        client.initialize_result = await client.initialize_session(types.InitializeParams(
            capabilities=caps, root_uri=workspace.as_uri(),
            workspace_folders=[types.WorkspaceFolder(uri=workspace.as_uri(), name="ws")],
            initialization_options=init_options))
        return client

    yield starter
    for client in clients:
        try:
            await client.shutdown_session()
        finally:
            await client.stop()


def open_document(client: LanguageClient, path: Path, text: str, version: int = 1,
                  language: str = "python") -> str:
    uri = path.as_uri()
    client.text_document_did_open(types.DidOpenTextDocumentParams(
        text_document=types.TextDocumentItem(uri=uri, language_id=language, version=version,
                                             text=text)))
    return uri


def change_document(client: LanguageClient, uri: str, text: str, version: int) -> None:
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
        content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)]))


async def code_actions(client: LanguageClient, uri: str, position: types.Position
                       ) -> list[types.CodeAction]:
    result = await client.text_document_code_action_async(types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri=uri),
        range=types.Range(position, position),
        context=types.CodeActionContext(diagnostics=[])))
    return [item for item in result or [] if isinstance(item, types.CodeAction)]


async def generate_actions(client: LanguageClient, uri: str, position: types.Position
                           ) -> list[types.CodeAction]:
    """Only Hearth's Generate entries (other actions may be offered at the same place)."""
    def is_generate(action: types.CodeAction) -> bool:
        if action.command is not None:
            return action.command.command == "hearth.generate"
        return isinstance(action.data, dict) and action.data.get("action") == "generate"
    return [a for a in await code_actions(client, uri, position) if is_generate(a)]
