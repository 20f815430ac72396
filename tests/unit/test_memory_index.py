"""The workspace index end to end with the real embedding model: build, search, persist,
incremental updates, renames and deletes, prompt context, recovery and bad input."""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from hearth.core.errors import HearthError
from hearth.core.memory import IndexSettings, WorkspaceIndex
from hearth.core.memory.index import EmbedderPool

# One pool for the module: loading the embedder takes seconds.
EMBEDDERS = EmbedderPool()

HELPERS = '''\
def slugify_title(title):
    """Turn a page title into a lowercase URL slug."""
    return "-".join(title.lower().split())


def parse_duration(text):
    """Parse '1h30m' into seconds."""
    hours, _, rest = text.partition("h")
    return int(hours) * 3600 + int(rest.rstrip("m") or 0) * 60
'''

ROUTES = '''\
from util.text_helpers import slugify_title


def page_url(page):
    return "/pages/" + slugify_title(page.title)


class Cart:
    def total_price(self, items):
        return sum(item.price * item.quantity for item in items)
'''


@pytest.fixture(scope="module")
def embedder():
    return EMBEDDERS.get("onnx", IndexSettings().max_embed_tokens)


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    (root / "util").mkdir(parents=True)
    (root / "app").mkdir()
    (root / "util" / "text_helpers.py").write_text(HELPERS)
    (root / "app" / "routes.py").write_text(ROUTES)
    (root / "README.md").write_text("# Shop\n\nA tiny shop that sells tea.\n")
    (root / ".env").write_text("API_KEY=do-not-index\n")
    return root


def open_index(workspace: Path, embedder, **settings) -> WorkspaceIndex:
    return WorkspaceIndex(workspace, cache_dir=workspace.parent / "cache",
                          settings=IndexSettings(**settings), embedder=embedder)


def names(hits) -> list[str]:
    return [hit.name for hit in hits]


def consistent(index: WorkspaceIndex) -> None:
    """Catalogue, vectors and BM25 agree on which chunks exist, and every file's chunks
    match the file's current text."""
    catalogue = index._catalogue
    ids = catalogue.chunk_ids()
    assert len(index._vectors) == len(ids) == len(index._lexical)
    assert all(chunk_id in index._vectors for chunk_id in ids)
    for path in catalogue.files():
        text = (index.root / path).read_text()
        for stored in catalogue.chunks_of(path):
            lines = text.splitlines()[stored.chunk.start_line - 1:stored.chunk.end_line]
            assert "\n".join(lines) in stored.chunk.text


def test_importing_the_package_loads_no_model_runtime() -> None:
    code = ("import sys, hearth.core.memory; heavy = {'torch', 'onnxruntime', "
            "'sentence_transformers', 'transformers'} & set(sys.modules); print(sorted(heavy))")
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True).stdout
    assert output.strip() == "[]"


def test_build_then_search_in_every_mode(workspace: Path, embedder) -> None:
    progress = []
    with open_index(workspace, embedder) as index:
        stats = index.build(progress=lambda done, total: progress.append((done, total)))
        assert (stats.files, stats.embedded) == (3, stats.chunks)
        assert progress[-1] == (3, 3)
        for mode in ("vector", "bm25", "hybrid"):
            hits = index.search("make a url slug out of a title", 3, mode=mode)
            assert hits[0].name == "slugify_title", mode
        hit = index.search("parse duration in hours and minutes", 1)[0]
        assert hit.path == workspace / "util" / "text_helpers.py"
        assert (hit.kind, hit.start_line, hit.end_line) == ("function", 6, 9)
        assert hit.text.startswith("def parse_duration(text):")
        assert not index.search("API_KEY do-not-index", 5, mode="bm25")
        consistent(index)


def test_index_persists_and_unchanged_files_are_not_embedded_again(
    workspace: Path, embedder
) -> None:
    with open_index(workspace, embedder) as index:
        first = index.build()
    with open_index(workspace, embedder) as index:
        again = index.build()
        assert (again.files, again.chunks, again.embedded) == (first.files, first.chunks, 0)
        assert index.search("url slug", 1)[0].name == "slugify_title"
        consistent(index)


def test_update_file_embeds_only_the_changed_chunk(workspace: Path, embedder) -> None:
    with open_index(workspace, embedder) as index:
        index.build()
        path = workspace / "util" / "text_helpers.py"
        path.write_text(HELPERS.replace("* 3600", "* 60 * 60"))
        assert index.update_file(path) == 1
        assert index.update_file(path) == 0
        path.write_text("\n\n" + path.read_text())  # spans move, contents do not
        assert index.update_file(path) == 0
        hit = index.search("parse duration", 1, mode="bm25")[0]
        assert (hit.start_line, "60 * 60" in hit.text) == (8, True)
        consistent(index)


def test_update_file_with_given_text_and_new_files(workspace: Path, embedder) -> None:
    with open_index(workspace, embedder) as index:
        index.build()
        new = workspace / "app" / "billing.py"
        new.write_text("def refund_order(order):\n    return order.total\n")
        assert index.update_file(new) == 1
        assert index.search("refund an order", 1)[0].name == "refund_order"
        assert index.update_file(workspace / ".env", "API_KEY=x\n") == 0
        with pytest.raises(HearthError):
            index.update_file(workspace.parent / "elsewhere.py")
        consistent(index)


def test_deletes_and_renames_keep_the_catalogue_consistent(workspace: Path, embedder) -> None:
    with open_index(workspace, embedder) as index:
        index.build()
        old = workspace / "util" / "text_helpers.py"
        new = workspace / "util" / "strings.py"
        old.rename(new)
        stats = index.build()
        assert (stats.removed, stats.embedded) == (1, 0)  # embeddings reused by content
        assert index.search("url slug", 1)[0].path == new
        (workspace / "README.md").unlink()
        index.remove_file(workspace / "README.md")
        index.remove_file(workspace / "app")  # a whole folder
        assert sorted(index._catalogue.files()) == ["util/strings.py"]
        assert "Cart.total_price" not in names(index.search("total price of items", 5))
        consistent(index)


def test_context_excludes_the_edited_chunk_and_fits_the_budget(
    workspace: Path, embedder
) -> None:
    routes = workspace / "app" / "routes.py"
    with open_index(workspace, embedder) as index:
        index.build()
        context = index.context_for("build the url of a page from its title slug",
                                    budget_tokens=200, exclude_path=routes,
                                    exclude_lines=(4, 5))
        assert "slugify_title" in names(context)
        assert "page_url" not in names(context)
        assert sum(len(hit.text) for hit in context) <= 200 * 3
        assert len({hit.text for hit in context}) == len(context)
        whole_file = index.context_for("page url slug", budget_tokens=1000,
                                       exclude_path=routes)
        assert all(hit.path != routes for hit in whole_file)
        assert index.context_for("anything", budget_tokens=0) == []


def test_test_code_is_demoted_except_for_a_prompt_written_in_a_test(
    workspace: Path, embedder
) -> None:
    (workspace / "tests").mkdir()
    (workspace / "tests" / "test_text_helpers.py").write_text(
        "from util.text_helpers import slugify_title\n\n\n"
        "def test_slugify_title_makes_a_url_slug():\n"
        "    assert slugify_title('Make A Slug') == 'make-a-slug'\n"
    )
    other_test = workspace / "tests" / "test_routes.py"
    query = "make a url slug out of a title"

    def score(hits) -> float:
        return next(hit.score for hit in hits if hit.name.startswith("test_slugify"))

    with open_index(workspace, embedder, test_demotion=0.0) as index:
        index.build()
        plain = score(index.search(query, 8))
    with open_index(workspace, embedder) as index:  # same store, same rankings
        assert index.build().embedded == 0
        hits = index.search(query, 8)
        assert hits[0].name == "slugify_title"
        assert score(hits) == pytest.approx(plain - IndexSettings().test_demotion)
        from_test = index.context_for(query, budget_tokens=1000, exclude_path=other_test)
        assert score(from_test) == pytest.approx(plain)
        from_code = index.context_for(query, budget_tokens=1000,
                                      exclude_path=workspace / "app" / "routes.py")
        assert score(from_code) == pytest.approx(plain - IndexSettings().test_demotion)


def test_every_definition_gets_a_code_and_a_label_vector(workspace: Path, embedder) -> None:
    with open_index(workspace, embedder) as index:
        index.build()
        rows = index._catalogue.chunk_rows(embedder.dim * 4)
        kinds = {stored.id: stored.chunk.kind for path in index._catalogue.files()
                 for stored in index._catalogue.chunks_of(path)}
        assert {kinds[chunk_id]: count for chunk_id, count in rows.items()} == {
            "function": 2, "class": 2, "module": 1, "window": 1}
        hits = index.search("slugify title", 3, mode="vector")
        assert hits[0].name == "slugify_title" and hits[0].score > 0.9  # the label's vector


def test_context_uses_unsaved_text_without_storing_it(workspace: Path, embedder) -> None:
    routes = workspace / "app" / "routes.py"
    unsaved = ROUTES + "\n\ndef apply_discount_code(cart, code):\n    return cart.total * 0.9\n"
    with open_index(workspace, embedder) as index:
        index.build()
        before = index._catalogue.chunk_ids()
        context = index.context_for("apply a discount code to the cart", budget_tokens=500,
                                    overlay={routes: unsaved})
        assert context[0].name == "apply_discount_code"
        assert context[0].path == routes and context[0].start_line == 13
        assert index._catalogue.chunk_ids() == before
        assert "apply_discount_code" not in names(index.search("apply a discount code", 8))


def test_an_open_file_as_saved_ranks_as_the_stored_one(workspace: Path, embedder) -> None:
    """The response cache keys on the context: the editor having a file open, unchanged, must
    not reorder it."""
    routes = workspace / "app" / "routes.py"
    query = "the url of a page with its title"
    with open_index(workspace, embedder) as index:
        index.build()
        stored = index.context_for(query, budget_tokens=2000)
        opened = index.context_for(query, budget_tokens=2000,
                                   overlay={routes: routes.read_text(encoding="utf-8")})
        assert [(h.path, h.name, h.score) for h in opened] == [
            (h.path, h.name, h.score) for h in stored]


def test_model_mismatch_rebuilds_with_a_message(
    workspace: Path, embedder, caplog: pytest.LogCaptureFixture
) -> None:
    with open_index(workspace, embedder) as index:
        index.build()

    class Renamed:
        model_id = "someone/else@v2"
        dim = embedder.dim

        def embed(self, texts):
            return embedder.embed(texts)

    with caplog.at_level(logging.WARNING), open_index(workspace, Renamed()) as index:
        stats = index.build()
        assert stats.rebuilt and stats.embedded == stats.chunks > 0
        assert "rebuilding" in caplog.text
        consistent(index)


def test_corrupt_catalogue_is_rebuilt(
    workspace: Path, embedder, caplog: pytest.LogCaptureFixture
) -> None:
    with open_index(workspace, embedder) as index:
        index.build()
    cache = workspace.parent / "cache"
    for stale in cache.glob("catalogue.sqlite-*"):
        stale.unlink()
    (cache / "catalogue.sqlite").write_bytes(b"this is not a database" * 100)
    with caplog.at_level(logging.WARNING), open_index(workspace, embedder) as index:
        stats = index.build()
        assert stats.rebuilt and stats.embedded == stats.chunks > 0
        assert "unreadable" in caplog.text
        assert index.search("url slug", 1)[0].name == "slugify_title"


def test_corrupt_vector_file_is_rebuilt_from_stored_embeddings(
    workspace: Path, embedder
) -> None:
    query = "make a url slug out of a title"
    with open_index(workspace, embedder) as index:
        index.build()
        before = index.search(query, 5, mode="vector")
    (vectors,) = (workspace.parent / "cache").glob("vectors-*.hnsw")
    vectors.write_bytes(b"\x00garbage" * 1000)
    with open_index(workspace, embedder) as index:
        assert index.build().embedded == 0
        after = index.search(query, 5, mode="vector")
        assert after[0].name == "slugify_title"
        assert [(hit.name, round(hit.score, 5)) for hit in after] == [
            (hit.name, round(hit.score, 5)) for hit in before]
        consistent(index)


def test_searches_run_while_a_build_writes(workspace: Path, embedder) -> None:
    for number in range(40):
        (workspace / "app" / f"gen_{number}.py").write_text(
            f"def handler_{number}(request):\n    return request.args[{number}]\n")
    errors: list[BaseException] = []
    with open_index(workspace, embedder) as index:
        builder = threading.Thread(target=lambda: index.build())
        builder.start()
        while builder.is_alive():
            try:
                index.search("handler request args", 5)
                index.context_for("slug", budget_tokens=100)
            except BaseException as exc:  # noqa: BLE001 - collected for the assert
                errors.append(exc)
                break
        builder.join()
        assert errors == []
        consistent(index)
        assert len(index._catalogue.files()) == 43


def test_a_build_that_hits_max_files_says_so(workspace: Path, embedder) -> None:
    with open_index(workspace, embedder, max_files=2) as index:
        stats = index.build()
        assert (stats.files, stats.truncated) == (2, True)
    with open_index(workspace, embedder) as index:
        stats = index.build()
        assert (stats.files, stats.truncated) == (3, False)


def test_cancelled_build_keeps_what_it_did(workspace: Path, embedder) -> None:
    with open_index(workspace, embedder) as index:
        index.build()
        (workspace / "README.md").unlink()
        stats = index.build(cancel=lambda: True)
        assert stats.cancelled and stats.removed == 0
        assert index.build().removed == 1


def test_bad_input_raises_hearth_errors(workspace: Path, embedder) -> None:
    with pytest.raises(HearthError):
        WorkspaceIndex(workspace / "missing")
    with open_index(workspace, embedder) as index:
        with pytest.raises(HearthError):
            index.search("   ")
        with pytest.raises(HearthError):
            index.search("slug", mode="fuzzy")
        with pytest.raises(HearthError):
            index.search("slug", k=0)
        assert index.search("slug", 3) == []  # nothing built yet: empty, not an error
