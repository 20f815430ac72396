"""Workspace memory in a real session: the model uses a helper from another file it sees only
through retrieval."""

from __future__ import annotations

import asyncio
from pathlib import Path

from lsprotocol import types

from tests.e2e.conftest import capabilities, generate_actions, open_document
from tests.e2e.lsp_utils import apply_text_edits, edits_for, position_of

HELPER = '''"""Pricing rules of the shop."""

ZORBLAX_RATES = {"north": 0.07, "south": 0.11}


def zorblax_levy(amount: float, region: str) -> float:
    """Return the Zorblax levy due on ``amount`` in ``region`` (the shop's regional tax)."""
    return round(amount * ZORBLAX_RATES[region], 2)
'''

ORDERS = '''"""Orders."""

from pricing import zorblax_levy


def order_total(prices: list[float], region: str) -> float:
    """Return the sum of prices plus the Zorblax levy on that sum for the region."""
    pass
'''


async def wait_for_index(client, timeout: float = 180.0) -> str:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        for message in client.log_messages:
            if message.message.startswith("Hearth indexed"):
                return message.message
        await asyncio.sleep(0.1)
    raise AssertionError("the workspace was not indexed in time")


async def generate_order_total(client, uri: str) -> dict:
    """Run Generate on the stub of ``order_total``; the command's result."""
    [action] = await generate_actions(client, uri, position_of(ORDERS, "pass"))
    return await client.workspace_execute_command_async(types.ExecuteCommandParams(
        command="hearth.generate", arguments=action.command.arguments if action.command else
        [action.data]))


async def test_generate_uses_a_helper_from_another_file(start, tmp_path: Path):
    workspace = tmp_path / "shop"
    workspace.mkdir()
    (workspace / "pricing.py").write_text(HELPER)
    (workspace / "orders.py").write_text(ORDERS)
    client = await start(capabilities("visual-studio-code"), root=workspace)
    summary = await wait_for_index(client)
    assert "2 files" in summary
    uri = open_document(client, workspace / "orders.py", ORDERS)
    result = await generate_order_total(client, uri)
    used = {(c["path"], c["name"]) for c in result["context"]}
    assert ("pricing.py", "zorblax_levy") in used
    edits, _ = edits_for(client.applied_edits[-1].edit, uri)
    after = apply_text_edits(ORDERS, edits)
    assert "zorblax_levy(" in after.split("def order_total")[1]


async def test_a_workspace_of_100_000_files_neither_hangs_nor_silently_truncates(
    start, tmp_path: Path
):
    """100,000 files and a symlink loop: the editor is served while the index works, the
    crawl stops at index.maxFiles with a warning the user sees, and shutdown is prompt."""
    workspace = tmp_path / "huge"
    for number in range(100_000):
        folder = workspace / f"pkg{number // 1000:03d}"
        if number % 1000 == 0:
            folder.mkdir(parents=True)
        (folder / f"mod{number % 1000:04d}.py").write_bytes(b"VALUE = 1\n")
    (workspace / "pkg000" / "loop").symlink_to(workspace, target_is_directory=True)
    source = "import os\n\n\ndef area(width, height):\n    pass\n"
    client = await start(capabilities("neovim"), root=workspace,
                         init_options={"index": {"maxFiles": 2000}})
    uri = open_document(client, workspace / "shapes.py", source)
    # Served at once, whatever the indexer is doing (the list needs no model).
    actions = await asyncio.wait_for(generate_actions(client, uri, position_of(source, "pass")),
                                     timeout=60)
    assert actions
    warning = await wait_for_message(client, "indexed only the first", timeout=600)
    assert "2,000 files" in warning and "hearth.index.maxFiles" in warning


async def wait_for_message(client, text: str, timeout: float) -> str:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        for message in client.messages:
            if text in message.message:
                return message.message
        await asyncio.sleep(0.2)
    raise AssertionError(f"no window/showMessage containing {text!r}")


async def test_changed_index_settings_reindex_the_workspace(start, tmp_path: Path):
    """An exclude pattern added in the editor's settings takes effect without a restart: the
    index is re-opened with it and the excluded file leaves the retrieved context."""
    workspace = tmp_path / "shop"
    workspace.mkdir()
    (workspace / "pricing.py").write_text(HELPER)
    (workspace / "orders.py").write_text(ORDERS)
    client = await start(capabilities("visual-studio-code"), root=workspace)
    assert "2 files" in await wait_for_index(client)
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(
        settings={"hearth": {"index": {"exclude": ["pricing.py"]}}}))
    summary = await wait_for_log(client, "Hearth indexed", nth=2)
    assert "1 files" in summary
    uri = open_document(client, workspace / "orders.py", ORDERS)
    result = await generate_order_total(client, uri)
    assert all(c["path"] != "pricing.py" for c in result["context"])


async def wait_for_log(client, prefix: str, nth: int, timeout: float = 180.0) -> str:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        found = [m.message for m in client.log_messages if m.message.startswith(prefix)]
        if len(found) >= nth:
            return found[nth - 1]
        await asyncio.sleep(0.1)
    raise AssertionError(f"fewer than {nth} log messages starting {prefix!r}")
