"""The language server starts without its heavy dependencies: the model runtime, the index's
numeric libraries, jedi and the HTTP client load at their first use, not before the server has
answered `initialize` (issue 16: the editor waits for that answer)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

# Each of these takes tens of milliseconds to seconds to import, and none is needed to answer
# `initialize`. (flake8 is not listed yet: core.analysis imports it with the package.)
HEAVY = ("llama_cpp", "numpy", "torch", "sentence_transformers", "transformers", "onnxruntime",
         "tokenizers", "hnswlib", "jedi", "parso", "httpx", "pathspec", "sqlite3")

PREAMBLE = textwrap.dedent("""\
    import json, sys
    HEAVY = {heavy!r}

    def loaded(stage):
        print(json.dumps({{"stage": stage,
                           "heavy": sorted(m for m in HEAVY if m in sys.modules)}}))
    """)

# What `hearth serve` runs before it reads the first message: the CLI's parser and the server
# with every feature registered; then one `initialize`, answered through a captured writer.
SERVE = textwrap.dedent("""\
    import asyncio
    import hearth.lsp.server
    loaded("import hearth.lsp.server")
    from hearth import cli
    cli.build_parser()
    server = hearth.lsp.server.create_server()
    loaded("hearth serve, before the first message")

    class Capture:
        def __init__(self):
            self.written = []
        def write(self, data):
            self.written.append(data)
        def close(self):
            pass

    capture = Capture()
    server.protocol.set_writer(capture)

    async def initialize():
        server.protocol.receive({{"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {{
            "processId": None, "rootUri": {root!r}, "capabilities": {{}}}}}})
        while not capture.written:
            await asyncio.sleep(0)

    asyncio.run(initialize())
    answer = json.loads(capture.written[0].decode().split("\\r\\n\\r\\n", 1)[1])
    assert "capabilities" in answer["result"], answer
    loaded("initialize answered")
    """)


def stages(program: str) -> list[dict]:
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


@pytest.fixture(scope="module")
def serve_stages(tmp_path_factory: pytest.TempPathFactory) -> list[dict]:
    root = tmp_path_factory.mktemp("workspace").as_uri()
    return stages(PREAMBLE.format(heavy=HEAVY) + SERVE.format(root=root))


def test_the_server_answers_initialize_before_loading_anything_heavy(
        serve_stages: list[dict]) -> None:
    assert [stage["stage"] for stage in serve_stages] == [
        "import hearth.lsp.server", "hearth serve, before the first message",
        "initialize answered"]
    for stage in serve_stages:
        assert stage["heavy"] == [], stage


@pytest.mark.parametrize("module", ["hearth.core.memory", "hearth.core.session",
                                    "hearth.core.models.registry", "hearth.cli"])
def test_importing_the_engine_loads_nothing_heavy(module: str) -> None:
    program = PREAMBLE.format(heavy=HEAVY) + f"import {module}\nloaded({module!r})\n"
    assert stages(program) == [{"stage": module, "heavy": []}]


def test_the_heavy_modules_do_load_at_first_use(tmp_path) -> None:
    """The check above is not vacuous: opening an index loads what it needs then."""
    program = PREAMBLE.format(heavy=HEAVY) + textwrap.dedent(f"""\
        from hearth.core.memory import IndexSettings, WorkspaceIndex
        WorkspaceIndex({str(tmp_path)!r}, cache_dir={str(tmp_path / "cache")!r},
                       settings=IndexSettings())
        loaded("index opened")
        """)
    (stage,) = stages(program)
    assert {"hnswlib", "pathspec"} <= set(stage["heavy"])
