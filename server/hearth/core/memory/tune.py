"""Tune all-MiniLM-L6-v2 for code search, once, on this machine, from code nobody here wrote.

The model was trained on prose. It is tuned on pairs of (the first sentence of a function's
docstring, that function's chunk with every docstring removed) taken from the Python
standard library of the interpreter that runs Hearth: no download, the same data on every
machine with the same Python. Training is contrastive with in-batch negatives (each
sentence must pick its own chunk out of the batch), with a fixed recipe and seed. The result
is a sentence-transformers folder in the cache, exported to int8 ONNX like the base model;
the index uses it when it exists (``index.embeddingModel`` "auto").

Why, and what it buys, is measured in docs/memory.md ("Tuned embedder"). Torch is needed
here only; the tuned model then runs on onnxruntime like the base one.
"""

from __future__ import annotations

import ast
import json
import logging
import os
import random
import re
import shutil
import sys
import sysconfig
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from hearth.core.cancel import Cancelled
from hearth.core.errors import HearthError
from hearth.core.memory.chunk import chunk_file, embedding_text
from hearth.core.memory.model_files import (
    TUNE_INFO_FILE,
    TuneRecipe,
    bundled_model_dir,
    is_tuned_model,
    offline_hugging_face,
    tuned_model_dir,
)
from hearth.core.memory.onnx_export import ensure_onnx_model
from hearth.core.memory.settings import IndexSettings
from hearth.core.memory.tune_lock import TAKE_PATIENCE_S, TuneLock, tune_lock_path
from hearth.core.models.threads import usable_cores

logger = logging.getLogger(__name__)

STDLIB_SKIPPED = frozenset({
    "test", "tests", "idlelib", "idle_test", "lib2to3", "tkinter", "turtledemo", "ensurepip",
    "site-packages", "dist-packages", "__pycache__",
})
"""Standard-library folders left out: test suites, and GUI or vendored code unlike a project."""
_STALE_EXPORT_S = 3600.0


class TuningBusy(HearthError):
    """Another process is tuning the embedder on this machine right now."""


@dataclass(frozen=True)
class TrainingPair:
    query: str  # the first sentence of the docstring
    code: str  # what the index embeds for the chunk (name in words, then the code)
    label: str  # the definition's label ("session get adapter (url)")


@dataclass
class TuneResult:
    model_dir: Path
    pairs: int
    steps: int
    elapsed_s: float
    first_loss: float
    last_loss: float
    created: bool  # False when the model was already there


# -- training data ------------------------------------------------------------------------

def first_sentence(docstring: str) -> str:
    """The docstring's first sentence, on one line."""
    paragraph = docstring.strip().split("\n\n")[0]
    return re.split(r"(?<=[.!?])\s", " ".join(paragraph.split()))[0].strip()


def documented_functions(tree: ast.AST) -> Iterator[tuple[ast.FunctionDef
                                                          | ast.AsyncFunctionDef, str]]:
    """Functions and methods (dunders left out) whose docstring opens with a sentence of three
    words or more, with that sentence."""
    for node in ast.walk(tree):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        docstring = ast.get_docstring(node)
        if not docstring or node.name.startswith("__"):
            continue
        sentence = first_sentence(docstring)
        if len(sentence.split()) >= 3 and node.body[0].lineno > node.lineno:
            yield node, sentence


def strip_docstrings(source: str, tree: ast.Module | None = None) -> str:
    """``source`` with every module, class and function docstring blanked out, line numbers
    kept (a docstring that was a whole body becomes ``pass``)."""
    tree = tree or ast.parse(source)
    lines = source.splitlines()
    for node in ast.walk(tree):
        if not isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef,
                                 ast.AsyncFunctionDef)):
            continue
        if ast.get_docstring(node, clean=False) is None:
            continue
        doc = node.body[0]
        if not isinstance(node, ast.Module) and doc.lineno == node.lineno:
            continue  # def f(): "doc" on one line: leave it
        for number in range(doc.lineno, doc.end_lineno + 1):
            lines[number - 1] = ""
        if len(node.body) == 1:
            lines[doc.lineno - 1] = " " * doc.col_offset + "pass"
    return "\n".join(lines) + "\n"


def stdlib_root() -> Path:
    return Path(sysconfig.get_paths()["stdlib"])


def training_pairs(root: Path, settings: IndexSettings | None = None) -> list[TrainingPair]:
    """One pair per documented function under ``root`` (sorted walk, skipped folders left
    out): its docstring's first sentence, and its chunk as the index would embed it with the
    docstrings removed."""

    settings = settings or IndexSettings()
    pairs = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        if STDLIB_SKIPPED.intersection(rel.parts[:-1]):
            continue
        try:
            source = path.read_text(encoding="utf-8")
            tree = ast.parse(source)
            stripped = strip_docstrings(source, tree)
        except (SyntaxError, UnicodeDecodeError, ValueError, OSError):
            continue
        chunks = [chunk for chunk in chunk_file(rel.as_posix(), stripped, settings)
                  if chunk.kind in ("function", "method", "class")]
        for node, sentence in documented_functions(tree):
            chunk = next((chunk for chunk in chunks
                          if chunk.start_line <= node.lineno <= chunk.end_line), None)
            if chunk is not None:
                pairs.append(TrainingPair(sentence, embedding_text(chunk), chunk.label))
    return pairs


# -- training -------------------------------------------------------------------------------

def tune_embedder(
    cache_base: Path,
    *,
    recipe: TuneRecipe | None = None,
    data_root: Path | None = None,
    force: bool = False,
    progress: Callable[[int, int], None] | None = None,
    cancel: Callable[[], bool] | None = None,
    wait: bool = True,
    threads: int | None = None,
) -> TuneResult:
    """Make the tuned model (and its ONNX export) in the cache unless it is there already.

    Takes about 10 minutes on 2 cores with the default recipe, training on ``threads``
    (every usable core by default). One tuning runs per machine: with ``wait`` this waits for
    another one to end (and usually finds its model made), else raises ``TuningBusy``.
    Written atomically: an interrupted run leaves no model behind, and the scratch folders of
    runs that were killed are removed by the next one. Raises ``Cancelled`` when ``cancel()``
    turns true, ``HearthError`` when torch or the training data are missing."""

    lock = TuneLock(tune_lock_path(cache_base))
    if not lock.acquire(wait=False, patience_s=TAKE_PATIENCE_S):
        if not wait:
            raise TuningBusy(
                f"Another process (pid {lock.holder()}) is tuning the embedder already.",
                "It makes the same model; wait for it to finish.")
        logger.warning("Waiting for the tuning already under way (pid %s) to finish",
                       lock.holder())
        lock.acquire(wait=True)
    try:
        return _tune_locked(cache_base, recipe or TuneRecipe(), data_root, force, progress,
                            cancel, threads)
    finally:
        lock.release()


def _tune_locked(cache_base: Path, recipe: TuneRecipe, data_root: Path | None, force: bool,
                 progress: Callable[[int, int], None] | None,
                 cancel: Callable[[], bool] | None, threads: int | None) -> TuneResult:
    base_dir = bundled_model_dir()
    target = tuned_model_dir(cache_base, base_dir, recipe, data_root)
    if is_tuned_model(target) and not force:
        ensure_onnx_model(target, cache_base)
        info = json.loads((target / TUNE_INFO_FILE).read_text(encoding="utf-8"))
        return TuneResult(target, info["pairs"], info["steps"], 0.0, info["first_loss"],
                          info["last_loss"], created=False)
    _remove_killed_scratch(target.parent)
    root = data_root or stdlib_root()
    started = time.perf_counter()
    pairs = training_pairs(root, IndexSettings(max_embed_tokens=recipe.max_tokens))
    if len(pairs) < recipe.batch_size:
        raise HearthError(
            f"Only {len(pairs)} documented functions were found under {root} to tune on.",
            "The Python standard library should give thousands; is it installed in full?",
        )
    logger.info("Tuning all-MiniLM-L6-v2 on %d pairs from %s (%d steps)", len(pairs), root,
                recipe.steps)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".tune-") as scratch:
        out = Path(scratch) / "model"
        losses = _train(base_dir, pairs, recipe, out, progress, cancel,
                        threads or usable_cores())
        info = {"recipe": asdict(recipe), "data": str(root), "pairs": len(pairs),
                "steps": recipe.steps, "first_loss": losses[0], "last_loss": losses[-1],
                "python": sys.version.split()[0],
                "elapsed_s": round(time.perf_counter() - started, 1)}
        (out / TUNE_INFO_FILE).write_text(json.dumps(info, indent=2), encoding="utf-8")
        if target.exists():  # a stale or forced one: replaced whole
            shutil.rmtree(target, ignore_errors=True)
        os.replace(out, target)
    ensure_onnx_model(target, cache_base)
    return TuneResult(target, len(pairs), recipe.steps, time.perf_counter() - started,
                      losses[0], losses[-1], created=True)


def _remove_killed_scratch(models: Path) -> None:
    """Scratch folders of tunings and exports that were killed (a background tuning ends
    with the language server). Called holding the lock, so no tuning is using one; an
    export scratch may be a language server's own export of the base model under way (it
    takes well under a minute), so only those an hour old go."""
    if not models.is_dir():
        return
    for leftover in models.glob(".tune-*"):
        shutil.rmtree(leftover, ignore_errors=True)
    for leftover in models.glob("*/.export-*"):
        try:
            stale = time.time() - leftover.stat().st_mtime > _STALE_EXPORT_S
        except OSError:
            continue
        if stale:
            shutil.rmtree(leftover, ignore_errors=True)


def _train(base_dir: Path, pairs: list[TrainingPair], recipe: TuneRecipe, out: Path,
           progress: Callable[[int, int], None] | None,
           cancel: Callable[[], bool] | None, threads: int) -> list[float]:

    offline_hugging_face()
    try:
        import torch
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:
        raise HearthError(
            f"Tuning the embedding model needs {exc.name}.",
            "Install torch==2.13.0 first, then sentence-transformers.",
        ) from exc

    _quiet_transformers()
    torch.manual_seed(recipe.seed)
    torch.set_num_threads(threads)
    shuffler = random.Random(recipe.seed)
    model = SentenceTransformer(str(base_dir), device="cpu", local_files_only=True)
    model.max_seq_length = recipe.max_tokens
    optimiser = torch.optim.AdamW(model.parameters(), lr=recipe.learning_rate,
                                  weight_decay=0.01)
    warmup = max(1, int(recipe.steps * recipe.warmup_share))
    decay = max(1, recipe.steps - warmup)
    schedule = torch.optim.lr_scheduler.LambdaLR(  # linear warm-up, then linear decay to 0
        optimiser, lambda step: min((step + 1) / warmup, max(0.0, (recipe.steps - step) / decay)))

    def encode(texts: list[str]) -> torch.Tensor:
        features = model.preprocess(texts) if hasattr(model, "preprocess") \
            else model.tokenize(texts)
        return torch.nn.functional.normalize(model(features)["sentence_embedding"], dim=-1)

    losses: list[float] = []
    model.train()
    while len(losses) < recipe.steps:
        for batch in _batches(pairs, recipe.batch_size, shuffler):
            if cancel is not None and cancel():
                raise Cancelled()
            queries = [pair.query for pair in batch]
            targets = [pair.label if pair.label and shuffler.random() < recipe.label_share
                       else pair.code for pair in batch]
            similarity = encode(queries) @ encode(targets).T * recipe.scale
            loss = torch.nn.functional.cross_entropy(similarity, torch.arange(len(batch)))
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimiser.step()
            schedule.step()
            optimiser.zero_grad()
            losses.append(float(loss.item()))
            if progress is not None:
                progress(len(losses), recipe.steps)
            if len(losses) >= recipe.steps:
                break
    model.eval()
    model.save(str(out))
    return losses


def _batches(pairs: list[TrainingPair], size: int,
             shuffler: random.Random) -> Iterator[list[TrainingPair]]:
    """One shuffled pass in batches of ``size``; a sentence already in the batch (different
    functions with the same first sentence) waits for the next pass, since in-batch
    negatives would otherwise teach the model that its own answer is wrong."""
    order = list(range(len(pairs)))
    shuffler.shuffle(order)
    batch: list[TrainingPair] = []
    seen: set[str] = set()
    for index in order:
        key = pairs[index].query.lower()
        if key in seen:
            continue
        seen.add(key)
        batch.append(pairs[index])
        if len(batch) == size:
            yield batch
            batch, seen = [], set()


def _quiet_transformers() -> None:
    """No "Loading weights" progress bar on stderr: the CLI draws its own."""
    try:
        from transformers.utils import logging as transformers_logging
    except ImportError:
        return
    transformers_logging.disable_progress_bar()
    transformers_logging.set_verbosity_error()
