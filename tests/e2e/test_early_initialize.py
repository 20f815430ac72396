"""`hearth serve --stdio` answers a repeated client's `initialize` from its cache while it loads
(hearth.lsp.early), with exactly the answer the server gives, and works as ever after it.

Raw JSON-RPC over the real process, as in test_lifecycle; each test has its own cache folder.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from hearth.lsp.early import CACHE_FILE, InitializeCache
from tests.e2e import test_lifecycle
from tests.e2e.conftest import ROOT
from tests.e2e.test_lifecycle import CAPABILITIES, NO_INDEX

serve = test_lifecycle.serve  # the fixture, over this module's `environment`

FROM_CACHE = "Answered initialize from the cache"
NOT_CACHED = "initialize is not in the cache"
REPLACED = "The cached answer to initialize was not the server's"


@pytest.fixture
def environment(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "HEARTH_LOG_DIR": str(tmp_path / "logs"),
            "HEARTH_CACHE_DIR": str(tmp_path / "cache"), "PYTHONPATH": str(ROOT / "server")}


def params(root: Path, capabilities: dict[str, Any] = CAPABILITIES, **extra: Any) -> dict:
    return {"processId": os.getpid(), "rootUri": root.as_uri(), "capabilities": capabilities,
            "workspaceFolders": [{"uri": root.as_uri(), "name": root.name}],
            "initializationOptions": NO_INDEX, **extra}


def logged(tmp_path: Path, text: str, times: int = 1, within_s: float = 30.0) -> bool:
    """Whether the servers' log file (the whole of it: stderr is read from its tail) says
    ``text`` ``times`` times within ``within_s``: the servers of a test share the file."""
    log = tmp_path / "logs" / "hearth.log"
    deadline = time.monotonic() + within_s
    while not (log.exists()
               and log.read_text(encoding="utf-8", errors="replace").count(text) >= times):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def workspace(tmp_path: Path, name: str) -> Path:
    root = tmp_path / name
    root.mkdir(exist_ok=True)
    (root / "mod.py").write_text("import os\n\n\ndef f(x):\n    return x\n")
    return root


def start_and_initialize(serve, root: Path, **extra: Any) -> tuple[Any, dict]:
    client = serve()
    result = client.call("initialize", params(root, **extra))
    client.notify("initialized", {})
    return client, result


def cached_entries(tmp_path: Path) -> list[dict]:
    path = tmp_path / "cache" / CACHE_FILE
    return json.loads(path.read_text())["entries"] if path.exists() else []


def works(client: Any, root: Path) -> None:
    """The server behind an answer works: diagnostics for an open file, then a clean end."""
    uri = client.open(root / "mod.py", (root / "mod.py").read_text())
    codes = [d.get("code") for d in client.diagnostics_for(uri)]
    assert "F401" in codes, codes
    assert client.shutdown_and_exit() == 0


def test_a_second_start_answers_initialize_from_the_cache_as_the_server_did(
        serve, tmp_path: Path) -> None:
    first, answer = start_and_initialize(serve, workspace(tmp_path, "one"))
    assert logged(tmp_path, NOT_CACHED)
    works(first, tmp_path / "one")
    assert len(cached_entries(tmp_path)) == 1

    # Another workspace and process id: the same client, so the same answer, given early.
    second, again = start_and_initialize(serve, workspace(tmp_path, "two"),
                                         processId=os.getppid())
    assert again == answer
    assert logged(tmp_path, FROM_CACHE)
    works(second, tmp_path / "two")
    assert not logged(tmp_path, REPLACED, within_s=0)
    assert len(cached_entries(tmp_path)) == 1


def test_another_client_is_answered_by_the_server_and_kept_apart(serve, tmp_path: Path) -> None:
    root = workspace(tmp_path, "ws")
    first, plain = start_and_initialize(serve, root)
    works(first, root)
    inline = {**CAPABILITIES, "textDocument": {**CAPABILITIES["textDocument"],
                                               "inlineCompletion": {}}}
    second, answer = start_and_initialize(serve, root, capabilities=inline)
    assert logged(tmp_path, NOT_CACHED, times=2)
    assert "inlineCompletionProvider" in answer["capabilities"]
    assert "inlineCompletionProvider" not in plain["capabilities"]
    works(second, root)
    assert len(cached_entries(tmp_path)) == 2


def test_a_stale_cached_answer_is_replaced_by_the_servers(serve, tmp_path: Path) -> None:
    root = workspace(tmp_path, "ws")
    # What an answer kept by other code under the same key looks like: the server's own
    # files decide the key, so this stands for an answer that no longer matches them.
    cache = InitializeCache(tmp_path / "cache" / CACHE_FILE)
    message = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": params(root)}
    cache.store(cache.key(message), {"capabilities": {"stale": True}})

    client, answer = start_and_initialize(serve, root)
    assert answer == {"capabilities": {"stale": True}}
    assert logged(tmp_path, FROM_CACHE) and logged(tmp_path, REPLACED)
    works(client, root)

    fresh, again = start_and_initialize(serve, root)
    assert "stale" not in again["capabilities"]
    assert "codeActionProvider" in again["capabilities"]
    assert logged(tmp_path, FROM_CACHE, times=2)
    assert not logged(tmp_path, REPLACED, times=2, within_s=0)
    assert fresh.shutdown_and_exit() == 0


def test_exit_right_after_an_early_answer_ends_the_process_with_the_specs_code(
        serve, tmp_path: Path) -> None:
    root = workspace(tmp_path, "ws")
    first, _ = start_and_initialize(serve, root)
    assert first.shutdown_and_exit() == 0

    quick = serve()
    quick.call("initialize", params(root))
    quick.notify("exit")  # no shutdown: 1, whether or not the server had loaded
    assert quick.exit_code() == 1

    polite = serve()
    polite.call("initialize", params(root))
    polite.request("shutdown")
    polite.notify("exit")
    assert polite.exit_code() == 0


def test_an_initialize_of_another_shape_is_checked_by_the_server(serve, tmp_path: Path) -> None:
    root = workspace(tmp_path, "ws")
    first, _ = start_and_initialize(serve, root)
    assert first.shutdown_and_exit() == 0

    bad = serve()
    msg_id = bad.request("initialize", params(root, processId="not a number"))
    error = bad.error(msg_id)
    assert error["code"] == -32602, error  # InvalidParams, as without a cache
    assert logged(tmp_path, NOT_CACHED, times=2)
    # ...and the life cycle goes on: a valid initialize is still accepted.
    assert "capabilities" in bad.call("initialize", params(root))
    assert bad.shutdown_and_exit() == 0


def test_verbose_and_python_dash_m_start_early_too(serve, tmp_path: Path) -> None:
    root = workspace(tmp_path, "ws")
    first, _ = start_and_initialize(serve, root)
    assert first.shutdown_and_exit() == 0
    client = serve(command=[sys.executable, "-m", "hearth", "-v", "serve", "--stdio"])
    assert "capabilities" in client.call("initialize", params(root))
    assert logged(tmp_path, FROM_CACHE)
    assert logged(tmp_path, "The cached answer to initialize was the server's")
    assert client.shutdown_and_exit() == 0
