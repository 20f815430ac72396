"""Atomic writes: a process killed in the middle of writing the index leaves a store that
reopens usable and consistent (the previous state, or the new one repaired)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from hearth.core.memory import IndexSettings, WorkspaceIndex
from hearth.core.memory.index import EmbedderPool

# One pool for the module: loading the embedder takes seconds.
EMBEDDERS = EmbedderPool()

# The child builds an index, edits a file, then re-indexes it with one write step patched
# to announce itself and hang, so that the parent can SIGKILL it at exactly that point.
CHILD = textwrap.dedent('''\
    import sys, time
    from pathlib import Path
    from hearth.core.memory import IndexSettings, WorkspaceIndex
    from hearth.core.memory import catalogue, vectors

    root, cache, step = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]

    def hang(*args, **kwargs):
        print("PAUSED", flush=True)
        time.sleep(600)

    # the base model, like the parent's embedder (auto could pick a tuned one)
    index = WorkspaceIndex(root, cache_dir=cache, settings=IndexSettings(embedding_model="base"))
    index.build()
    (root / "tools.py").write_text(
        "def brew_coffee(beans):\\n    return beans.grind().brew()\\n")
    if step == "catalogue":
        original = catalogue.Catalogue.add_chunks
        def add_then_hang(self, chunks):
            original(self, chunks)
            hang()
        catalogue.Catalogue.add_chunks = add_then_hang
        index.update_file(root / "tools.py")
    else:
        import os as real_os
        class PatchedOs:
            def __getattr__(self, name):
                return hang if name == "replace" else getattr(real_os, name)
        vectors.os = PatchedOs()
        index.update_file(root / "tools.py")
        index.close()
''')


@pytest.fixture(scope="module")
def embedder():
    return EMBEDDERS.get("onnx", IndexSettings().max_embed_tokens)


def kill_when_paused(root: Path, cache: Path, step: str) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(root), str(cache), step],
        stdout=subprocess.PIPE, text=True, env=os.environ.copy(),
    )
    try:
        line = child.stdout.readline()
        assert line.strip() == "PAUSED", f"child ended early with {child.wait()}"
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(timeout=60)
        child.stdout.close()
    assert child.returncode == -signal.SIGKILL


def make_workspace(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    root.mkdir()
    (root / "tools.py").write_text("def boil_water(kettle):\n    return kettle.heat(100)\n")
    (root / "notes.md").write_text("# Notes\n\nTea before coffee.\n")
    return root


@pytest.mark.parametrize("step", ["catalogue", "vectors"])
def test_kill_during_a_write_leaves_a_usable_index(tmp_path: Path, embedder, step: str) -> None:
    root = make_workspace(tmp_path)
    cache = tmp_path / "cache"
    kill_when_paused(root, cache, step)
    if step == "vectors":
        assert list(cache.glob(".vectors-*.tmp")), "the kill should leave a half-written file"
    with WorkspaceIndex(root, cache_dir=cache, embedder=embedder) as index:
        hits = index.search("boil water in a kettle", 1, mode="hybrid")
        assert hits, "the reopened index must answer"
        ids = index._catalogue.chunk_ids()
        assert len(index._vectors) == len(ids) == len(index._lexical)
        names = [hit.name for hit in index.search("brew coffee beans", 3)]
        if step == "catalogue":
            # the transaction never committed: the previous state is what we find
            assert hits[0].name == "boil_water" and "brew_coffee" not in names
        else:
            # the catalogue had committed; the vectors are rebuilt from stored embeddings
            assert "brew_coffee" in names and "boil_water" not in names
        assert not list(cache.glob(".vectors-*.tmp")), "leftovers are cleaned on open"
        assert index.build().embedded <= 1
        assert index.search("brew coffee beans", 1)[0].name == "brew_coffee"
