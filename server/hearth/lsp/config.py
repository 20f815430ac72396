"""Settings from the client: initializationOptions, workspace/configuration, and their changes."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.uris import to_fs_path

from hearth.core.cancel import CancelToken
from hearth.core.inference import Priority
from hearth.core.session import Session
from hearth.lsp.server import HearthServer
from hearth.settings import load_settings

log = logging.getLogger(__name__)


def _hearth_section(value: Any) -> dict[str, Any]:
    """Accept both ``{"hearth": {...}}`` and the bare settings object."""
    if isinstance(value, Mapping):
        inner = value.get("hearth")
        return dict(inner) if isinstance(inner, Mapping) else dict(value)
    return {}


def editor_layer(init_options: dict[str, Any], pulled: dict[str, Any] | None) -> dict[str, Any]:
    """The editor's settings: its ``workspace/configuration`` answer once it has given one.

    initializationOptions are the same settings as they were at start-up; once the client
    answers with an object, that answer is the current truth (a setting the user removed
    must not live on in the start-up snapshot).
    """
    return pulled if pulled is not None else init_options


def apply_settings(server: HearthServer) -> None:
    settings, problems = load_settings(
        server.root, editor_layer(server.init_options, server.client_settings))
    server.session.update_settings(settings)
    server.unloader.settings_changed()
    if problems:
        message = "Hearth settings: " + "; ".join(problems)
        log.warning(message)
        server.show(message, types.MessageType.Warning)


async def pull_configuration(server: HearthServer) -> None:
    capabilities = server.client_capabilities
    if not (capabilities.workspace and capabilities.workspace.configuration):
        return
    scope = server.root.as_uri() if server.root else None
    try:
        result = await server.workspace_configuration_async(types.ConfigurationParams(
            items=[types.ConfigurationItem(scope_uri=scope, section="hearth")]))
    except Exception as exc:  # noqa: BLE001 - a client that fails here must not stop us
        log.warning("workspace/configuration failed: %s", exc)
        return
    value = result[0] if result else None
    server.client_settings = _hearth_section(value) if isinstance(value, Mapping) else None


def register(server: HearthServer) -> None:
    @server.feature(types.INITIALIZE)
    def initialize(params: types.InitializeParams) -> None:
        root_uri = params.root_uri
        if params.workspace_folders:
            root_uri = params.workspace_folders[0].uri
        root = None
        if root_uri and root_uri.startswith("file:"):
            root = Path(to_fs_path(root_uri))
        elif params.root_path:
            root = Path(params.root_path)
        server.init_options = _hearth_section(params.initialization_options)
        # Problems are reported once the client can show messages, in `initialized`.
        settings, _ = load_settings(root, server.init_options)
        server.session = Session(
            settings, root, audit=server.audit,
            on_problem=lambda message: server.call_soon(server.show, f"Hearth: {message}",
                                                        types.MessageType.Warning))

    @server.feature(types.INITIALIZED)
    async def initialized(params: types.InitializedParams) -> None:
        server.loop = asyncio.get_running_loop()
        await pull_configuration(server)
        apply_settings(server)
        server.status("ready", "Hearth is ready")
        for hook in server.after_initialized:
            await hook()
        # jedi and flake8 load typeshed and their plugins once (about 2 s): pay it now, off
        # the event loop, rather than in the first action the user waits for. On the
        # inference thread, behind any action: jedi's state is never used by two threads.
        session = server.session
        server.queue.submit(lambda token: session.warm_up(), priority=Priority.BACKGROUND,
                            cancel=CancelToken())

    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    async def did_change_configuration(params: types.DidChangeConfigurationParams) -> None:
        pushed = params.settings
        if isinstance(pushed, Mapping) and isinstance(pushed.get("hearth"), Mapping):
            server.client_settings = dict(pushed["hearth"])
        else:
            await pull_configuration(server)
        apply_settings(server)
        for hook in server.after_settings_changed:
            await hook()
