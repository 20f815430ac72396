"""The code-tuned embedder: training pairs, the tuning run, and how the index picks it up.

The tuning run here is tiny (2 steps on a dozen pairs) but real: torch trains the packaged
all-MiniLM-L6-v2, the result is saved, exported to int8 ONNX and loaded back."""

from __future__ import annotations

import ast
import json
import os
import random
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from hearth.core.cancel import Cancelled
from hearth.core.errors import HearthError
from hearth.core.memory import IndexSettings, WorkspaceIndex
from hearth.core.memory.embed import EmbeddingModel, load_embedder, resolve_model
from hearth.core.memory.model_files import (
    TUNE_INFO_FILE,
    TuneRecipe,
    bundled_model_dir,
    tuned_model_dir,
)
from hearth.core.memory.onnx_export import onnx_model_path
from hearth.core.memory.tune_lock import LOCK_FILE
from hearth.core.memory.tune import (
    TrainingPair,
    _batches,
    first_sentence,
    strip_docstrings,
    training_pairs,
    tune_embedder,
)

pytest.importorskip("torch")
pytest.importorskip("sentence_transformers")

MODULE = '''\
"""Shapes and their areas."""
import math


def circle_area(radius):
    """Compute the area of a circle from its radius.

    More words that are not the first sentence.
    """
    return math.pi * radius ** 2


def only_doc():
    """Return nothing at all, on purpose."""


def one_line(): "Inline docstrings stay where they are."; return 1


def __private_dunder__():
    """Dunder methods are left out of the pairs."""
    return 0


class Square:
    """A square with a side."""

    def area(self):
        """Multiply the side by itself."""
        return self.side * self.side

    def short(self):
        """Two words."""
        return 1
'''

TOPICS = ["parse a header line into a name and a value", "open a socket to a remote host",
          "sort the list of users by their age", "compress bytes with zlib",
          "read the configuration file from disk", "render a template with variables",
          "hash a password with a random salt", "retry a request after a failure",
          "convert celsius degrees to fahrenheit", "count the words in a text",
          "merge two dictionaries into one", "format a date as an ISO string"]


def test_first_sentence_joins_lines_and_stops_at_the_full_stop() -> None:
    assert first_sentence("Parse the\n   header.  Then more.\n\nBody.") == "Parse the header."
    assert first_sentence("No full stop here") == "No full stop here"


def test_strip_docstrings_keeps_line_numbers_and_valid_code() -> None:
    stripped = strip_docstrings(MODULE)
    assert stripped.count("\n") == MODULE.count("\n")
    ast.parse(stripped)
    assert "Compute the area" not in stripped and "Shapes and their areas" not in stripped
    assert "Multiply the side" not in stripped
    lines = stripped.splitlines()
    only_doc = next(i for i, line in enumerate(lines) if line.startswith("def only_doc"))
    assert lines[only_doc + 1] == "    pass"  # a docstring that was the whole body
    assert "Inline docstrings stay" in stripped  # one-line def left alone
    assert "return math.pi * radius ** 2" in stripped


def test_training_pairs_read_documented_functions_without_their_docstrings(
    tmp_path: Path,
) -> None:
    (tmp_path / "shapes.py").write_text(MODULE)
    (tmp_path / "test").mkdir()
    (tmp_path / "test" / "test_shapes.py").write_text(MODULE)  # test suites are skipped
    pairs = training_pairs(tmp_path)
    queries = [pair.query for pair in pairs]
    assert queries == ["Compute the area of a circle from its radius.",
                       "Return nothing at all, on purpose.", "Multiply the side by itself."]
    circle = pairs[0]
    assert circle.code.startswith("circle area\n") and "math.pi" in circle.code
    assert "Compute the area" not in circle.code
    assert circle.label == "circle area (radius)"
    assert pairs == training_pairs(tmp_path)  # same data, same order, every time


def test_batches_never_hold_the_same_sentence_twice() -> None:
    pairs = [TrainingPair(f"Sentence {i % 5}.", f"code {i}", "") for i in range(40)]
    batches = list(_batches(pairs, 4, random.Random(0)))
    assert batches and all(len(batch) == 4 for batch in batches)
    for batch in batches:
        assert len({pair.query for pair in batch}) == len(batch)


def write_corpus(root: Path) -> None:
    for number, topic in enumerate(TOPICS):
        name = "_".join(topic.split()[:3])
        (root / f"m{number}.py").write_text(textwrap.dedent(f'''\
            def {name}(value, other=None):
                """{topic.capitalize()} for the caller.

                Longer text.
                """
                result = [value, other, {number}]
                return result
            '''))


@pytest.fixture(scope="module")
def tiny_tuned(tmp_path_factory) -> tuple[Path, Path, TuneRecipe, Path]:
    """(cache, corpus, recipe, model folder) of a real 2-step tuning run."""
    cache = tmp_path_factory.mktemp("cache")
    corpus = tmp_path_factory.mktemp("corpus")
    write_corpus(corpus)
    recipe = TuneRecipe(steps=2, batch_size=4)
    steps: list[tuple[int, int]] = []
    result = tune_embedder(cache, recipe=recipe, data_root=corpus,
                           progress=lambda done, total: steps.append((done, total)))
    assert result.created and result.pairs == len(TOPICS) and result.steps == 2
    assert steps == [(1, 2), (2, 2)]
    return cache, corpus, recipe, result.model_dir


def test_tuning_writes_a_loadable_model_with_its_record(tiny_tuned) -> None:
    cache, corpus, recipe, model_dir = tiny_tuned
    assert model_dir == tuned_model_dir(cache, bundled_model_dir(), recipe, corpus)
    info = json.loads((model_dir / TUNE_INFO_FILE).read_text())
    assert info["recipe"]["steps"] == 2 and info["pairs"] == len(TOPICS)
    assert not [p for p in model_dir.parent.iterdir() if p.name.startswith(".tune-")]
    # its ONNX export is its own, not the base model's
    base_onnx = onnx_model_path(bundled_model_dir(), cache)
    tuned_onnx = onnx_model_path(model_dir, cache)
    assert tuned_onnx != base_onnx and tuned_onnx.is_file()
    # a second call finds it and trains nothing
    again = tune_embedder(cache, recipe=recipe, data_root=corpus)
    assert not again.created and again.model_dir == model_dir


def test_the_tuned_weights_differ_from_the_base_model(tiny_tuned) -> None:
    cache, _, _, model_dir = tiny_tuned
    texts = ["Compute the area of a circle.", "def area(r):\n    return 3.14 * r * r"]
    base = load_embedder("torch", cache, 128, model=resolve_model("base", cache)).embed(texts)
    tuned = load_embedder("torch", cache, 128, model=EmbeddingModel(model_dir, "+code-test"))
    vectors = tuned.embed(texts)
    assert tuned.model_id.endswith("+code-test@torch/128")
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert not np.allclose(base, vectors, atol=1e-4)


def test_cancelling_a_tuning_run_leaves_nothing(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    write_corpus(corpus)
    cache = tmp_path / "cache"
    with pytest.raises(Cancelled):
        tune_embedder(cache, recipe=TuneRecipe(steps=5, batch_size=4), data_root=corpus,
                      cancel=lambda: True)
    assert [p.name for p in (cache / "models").iterdir()] == [LOCK_FILE]  # the lock stays


def test_too_little_data_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "one.py").write_text(MODULE)
    with pytest.raises(HearthError, match="Only 3 documented functions"):
        tune_embedder(tmp_path / "cache", recipe=TuneRecipe(steps=1, batch_size=8),
                      data_root=tmp_path)


def test_auto_picks_the_tuned_model_once_it_exists_and_the_index_rebuilds(
    tiny_tuned, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, _, _, tiny_dir = tiny_tuned
    cache = tmp_path / "cache"
    monkeypatch.setenv("HEARTH_CACHE_DIR", str(cache))
    with pytest.raises(HearthError, match="hearth tune-embedder"):
        resolve_model("tuned", cache)
    assert not resolve_model("auto", cache).tuned
    workspace = tmp_path / "project"
    workspace.mkdir()
    (workspace / "shapes.py").write_text(MODULE)
    settings = IndexSettings(embedder="torch")
    with WorkspaceIndex(workspace, settings=settings) as index:
        assert "+code" not in index.model_id
        assert index.build().chunks > 0
    # `hearth tune-embedder` done: the default recipe's folder now exists
    shutil.copytree(tiny_dir, tuned_model_dir(cache, bundled_model_dir()))
    assert resolve_model("auto", cache).tuned and resolve_model("tuned", cache).tuned
    assert not resolve_model("base", cache).tuned
    with WorkspaceIndex(workspace, settings=settings) as index:
        assert "+code-" in index.model_id
        stats = index.build()
        assert stats.rebuilt and stats.embedded > 0
        assert index.search("circle area", k=1)[0].name == "circle_area"
    with WorkspaceIndex(workspace, settings=IndexSettings(embedder="torch",
                                                          embedding_model="base")) as index:
        assert "+code" not in index.model_id and index.build().rebuilt


def test_unknown_embedding_model_setting_is_refused() -> None:
    with pytest.raises(HearthError, match="Unknown embedding model"):
        IndexSettings(embedding_model="large")


@pytest.mark.parametrize("choice", ["auto", "base", "tuned"])
def test_doctor_reports_the_embedding_model(choice: str, tmp_path: Path) -> None:
    """With an empty cache: auto and base use the base model, tuned is a problem to fix."""
    env = {**os.environ, "HEARTH_CACHE_DIR": str(tmp_path)}
    done = subprocess.run([sys.executable, "-m", "hearth", "doctor", "--no-load", "--json",
                           "--embedding-model", choice], capture_output=True, text=True,
                          timeout=120, env=env)
    embedding = json.loads(done.stdout)["embedding"]
    assert embedding["setting"] == choice
    if choice == "tuned":
        assert embedding["using"] is None and "hearth tune-embedder" in embedding["problem"]
        assert done.returncode != 0
    else:
        assert embedding["using"] == "base" and "problem" not in embedding
        assert ("tune-embedder" in embedding.get("note", "")) == (choice == "auto")
