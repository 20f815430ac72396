"""A real `hearth serve` moves its index to the code-tuned embedder once it appears, answering
from the packaged model's vectors until then (issue 16, first run).

The server has a cache of its own (never the user's: a "tuned" model here is the packaged one's
files with a tuning record, tests/unit/fake_tuner.py). Under tests it starts no tuning itself;
the model appears as another process's tuning would leave it, and `hearth.indexWorkspace`
(as any later build) finds it. The tuning process itself is tested in
tests/unit/test_memory_background_tune.py.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from pathlib import Path

from lsprotocol import types
from pytest_lsp import ClientServerConfig

from hearth.core.memory.cache import cache_base
from hearth.core.memory.model_files import bundled_model_dir
from hearth.core.memory.onnx_export import ensure_onnx_model, onnx_model_path
from tests.e2e.conftest import ROOT, capabilities, client_factory
from tests.unit.fake_tuner import make_tuned_copy

SOURCE = "def parse_header(line):\n    name, _, value = line.partition(':')\n    return name\n"


async def wait_for_log(client, text: str, timeout: float = 180.0) -> str:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        for message in client.log_messages:
            if text in message.message:
                return message.message
        await asyncio.sleep(0.1)
    raise AssertionError(f"no log message with {text!r}: "
                         f"{[m.message for m in client.log_messages]}")


async def test_the_server_switches_to_the_tuned_embedder_once_it_appears(tmp_path: Path):
    base_export = ensure_onnx_model(bundled_model_dir(), cache_base())
    cache = tmp_path / "cache"
    export = onnx_model_path(bundled_model_dir(), cache)
    export.parent.mkdir(parents=True)
    shutil.copyfile(base_export, export)
    workspace = tmp_path / "project"
    workspace.mkdir()
    (workspace / "headers.py").write_text(SOURCE)
    env = {**os.environ, "HEARTH_LOG_DIR": str(tmp_path / "logs"),
           "HEARTH_CACHE_DIR": str(cache), "PYTHONPATH": str(ROOT / "server")}
    env.pop("HEARTH_TUNE_IN_BACKGROUND", None)
    env.pop("CI", None)  # else "CI is set" is the reason given; this test checks pytest's
    client = await ClientServerConfig(
        server_command=[sys.executable, "-m", "hearth", "serve", "--stdio"],
        client_factory=client_factory, server_env=env).start()
    try:
        await client.initialize_session(types.InitializeParams(
            capabilities=capabilities("visual-studio-code"), root_uri=workspace.as_uri(),
            workspace_folders=[types.WorkspaceFolder(uri=workspace.as_uri(), name="ws")]))
        first = await wait_for_log(client, "Hearth indexed")
        assert "base embedder (not tuning in the background: running under tests" in first

        make_tuned_copy(cache, base_export)
        await client.workspace_execute_command_async(
            types.ExecuteCommandParams(command="hearth.indexWorkspace"))
        switched = await wait_for_log(client, "with the code-tuned embedder")
        assert str(workspace) in switched
        await client.workspace_execute_command_async(
            types.ExecuteCommandParams(command="hearth.indexWorkspace"))
        await asyncio.sleep(0.5)
        assert [m.message for m in client.log_messages].count(switched) == 1  # said once
        latest = [m.message for m in client.log_messages
                  if m.message.startswith("Hearth indexed")][-1]
        assert "; code-tuned embedder" in latest and "(rebuilt)" not in latest
    finally:
        try:
            await client.shutdown_session()
        finally:
            await client.stop()
