"""Benchmark the workspace index on code nobody here wrote: the sdists of requests and flask
(29k lines of Python, 51k lines in all) and, for scale, CPython's standard library (its
test suites excluded; crawled and chunked by default, fully indexed with --stdlib full).

Measures cold index time, chunks/s, size on disk, peak memory, one-file re-index time,
query latency, and retrieval quality: the first sentence of >= 100 docstrings as queries
against an index of the same code with every docstring removed (recall@1/@5 for vector,
BM25 and hybrid, plus sweeps of the hybrid weight and of hnswlib's M/ef_construction).

    .venv/bin/python tests/bench/bench_index.py [--quick] [--embedder onnx|torch]
        [--stdlib chunk|full|only] [--sdists NAME ...]

``--sdists`` swaps the corpus (for instance ``--sdists click attrs`` checks on code the
defaults were not tuned on).

Figures go to stdout (Markdown) and to .bench/bench_index.json.
"""

from __future__ import annotations

import argparse
import ast
import json
import logging
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "server"))

from hearth.core.memory import IndexSettings, WorkspaceIndex  # noqa: E402
from hearth.core.memory.cache import cache_base  # noqa: E402
from hearth.core.memory.embed import DIMENSION, load_embedder, resolve_model  # noqa: E402
from hearth.core.memory.tune import documented_functions, tune_embedder  # noqa: E402
from hearth.core.memory.tune import strip_docstrings as strip_source_docstrings  # noqa: E402
from hearth.core.memory.vectors import SLOTS  # noqa: E402

STDLIB = Path("/root/.pyenv/versions/3.11.7/lib/python3.11")
SDISTS = ("requests", "flask")
WEIGHTS = (1.0, 0.9, 0.8, 0.7, 0.6, 0.5)
DEMOTIONS = (0.0, 0.1, 0.2, 0.3)
HNSW_GRID = ((8, 100), (16, 100), (16, 200), (32, 200))


@dataclass(frozen=True)
class Target:
    """A documented function: where its ``def`` is and the query made from its docstring."""

    rel_path: str
    def_line: int
    name: str
    query: str


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="requests only; no stdlib, no sweeps")
    parser.add_argument("--embedder", choices=("onnx", "torch"), default="onnx")
    parser.add_argument("--max-tokens", type=int, default=IndexSettings().max_embed_tokens)
    parser.add_argument("--embedding-model", choices=("auto", "base", "tuned"),
                        default="tuned", help="tuned (the default here) makes the tuned "
                        "model first if it is missing, and also measures the base model")
    parser.add_argument("--similarity-weight", type=float,
                        default=IndexSettings().similarity_weight)
    parser.add_argument("--stdlib", choices=("chunk", "full", "only"), default="chunk",
                        help="stdlib scale: crawl and chunk only (default), a full cold "
                             "index (slow), or only the crawl-and-chunk stage")
    parser.add_argument("--sdists", nargs="+", default=list(SDISTS),
                        help="PyPI projects whose sdists form the corpus")
    parser.add_argument("--out", type=Path, default=REPO / ".bench" / "bench_index.json")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    settings = IndexSettings(embedder=args.embedder, max_embed_tokens=args.max_tokens,
                             similarity_weight=args.similarity_weight,
                             embedding_model=args.embedding_model)
    results: dict = {"command": " ".join([Path(sys.executable).name] + sys.argv),
                     "machine": machine(), "date": datetime.now(timezone.utc).isoformat(
                         timespec="seconds"), "settings": vars(settings).copy()}

    def record(key: str, value: object) -> None:
        """Keep every figure as soon as it exists: a long run cut short still reports."""
        results[key] = value
        results["peak_rss_mb"] = peak_rss_mb()
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=2, default=str))
        print(f"{key}: {json.dumps(value, default=str)}", file=sys.stderr, flush=True)

    excluded = ["test/", "tests/", "idle_test/"]
    stdlib_settings = IndexSettings(**{**vars(settings), "exclude": excluded})
    with tempfile.TemporaryDirectory(prefix="hearth-bench-") as scratch_name:
        scratch = Path(scratch_name)
        if args.stdlib == "only":
            record("stdlib_chunking", bench_crawl_and_chunk(STDLIB, stdlib_settings))
            print(json.dumps(results, indent=2, default=str))
            return
        if args.embedding_model == "tuned":
            tuning = tune_embedder(cache_base())
            record("tuning", {"created": tuning.created, "pairs": tuning.pairs,
                              "steps": tuning.steps, "elapsed_s": round(tuning.elapsed_s, 1),
                              "model_dir": str(tuning.model_dir)})
        project = gather_project(scratch, args.sdists[:1] if args.quick else args.sdists)
        record("model_load_s", time_model_load(settings))
        record("project", bench_cold_and_incremental(project, scratch / "cache-project",
                                                     settings))
        targets, stripped = strip_docstrings(project, scratch / "stripped")
        record("quality", bench_quality(stripped, scratch / "cache-stripped", settings,
                                        targets, sweep=not args.quick))
        if args.embedding_model == "tuned":  # the base model, same run, same corpus
            base = IndexSettings(**{**vars(settings), "embedding_model": "base"})
            record("quality_base_model", bench_quality(stripped, scratch / "cache-base",
                                                       base, targets, sweep=False))
        if not args.quick:
            record("hnsw", bench_hnsw(scratch / "cache-stripped", settings, targets))
            record("embedders", compare_embedders(scratch / "cache-project", settings))
            record("stdlib_chunking", bench_crawl_and_chunk(STDLIB, stdlib_settings))
            if args.stdlib == "full":
                record("stdlib", bench_cold(STDLIB, scratch / "cache-stdlib", stdlib_settings))
    print(report(results))


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in
                Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")),
               platform.processor())
    return (f"{os.cpu_count()} cores ({cpu}), Python {platform.python_version()}, "
            f"{platform.system()}")


def peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def gather_project(scratch: Path, names: list[str]) -> Path:
    """Download the sdists (no wheels, no dependencies) and unpack them side by side."""
    downloads = scratch / "sdists"
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--no-binary", ":all:",
         "--no-deps", "--dest", str(downloads), *names], check=True,
    )
    project = scratch / "project"
    project.mkdir()
    for archive in sorted(downloads.glob("*.tar.gz")):
        with tarfile.open(archive) as tar:
            tar.extractall(project, filter="data")
    return project


def time_model_load(settings: IndexSettings) -> float:
    model = resolve_model(settings.embedding_model, cache_base())
    load_embedder(settings.embedder, cache_base(), settings.max_embed_tokens, model=model)
    started = time.perf_counter()  # the export is cached by the call above
    load_embedder(settings.embedder, cache_base(), settings.max_embed_tokens, model=model)
    return round(time.perf_counter() - started, 2)


def count_lines(root: Path, suffix: str | None = None) -> int:
    total = 0
    for path in root.rglob("*"):
        if path.is_file() and (suffix is None or path.suffix == suffix):
            try:
                total += len(path.read_text(encoding="utf-8").splitlines())
            except (UnicodeDecodeError, OSError):
                continue
    return total


def disk_size_mb(folder: Path) -> float:
    return round(sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 2**20, 1)


def bench_cold(root: Path, cache: Path, settings: IndexSettings) -> dict:
    index = WorkspaceIndex(root, cache_dir=cache, settings=settings)
    stats = index.build()
    index.close()
    return {
        "root": str(root), "files": stats.files, "chunks": stats.chunks,
        "lines_python": count_lines(root, ".py"), "embedded": stats.embedded,
        "cold_index_s": round(stats.elapsed_s, 1),
        "chunks_per_s": round(stats.embedded / stats.elapsed_s, 1),
        "disk_mb": disk_size_mb(cache), "peak_rss_mb": peak_rss_mb(),
    }


def bench_crawl_and_chunk(root: Path, settings: IndexSettings) -> dict:
    """Everything a cold build does except embedding and storing: crawl, read, chunk,
    BM25 terms (the model's share follows from chunks / chunks per second)."""
    from hearth.core.memory.chunk import chunk_file
    from hearth.core.memory.crawl import crawl, read_indexable
    from hearth.core.memory.chunk import embedding_text
    from hearth.core.memory.tokens import terms

    started = time.perf_counter()
    files = crawl(root, settings)
    crawl_s = time.perf_counter() - started
    chunks = lines = 0
    for item in files:
        text = read_indexable(item.path, settings)
        if text is None:
            continue
        lines += text.count("\n")
        for chunk in chunk_file(item.rel_path, text, settings):
            terms(embedding_text(chunk))
            chunks += 1
    return {"root": str(root), "excluded": settings.exclude, "files": len(files),
            "lines": lines, "chunks": chunks, "crawl_s": round(crawl_s, 2),
            "crawl_read_chunk_s": round(time.perf_counter() - started, 1),
            "peak_rss_mb": peak_rss_mb()}


def bench_cold_and_incremental(project: Path, cache: Path, settings: IndexSettings) -> dict:
    figures = bench_cold(project, cache, settings)
    figures["lines_all"] = count_lines(project)
    index = WorkspaceIndex(project, cache_dir=cache, settings=settings)
    started = time.perf_counter()
    index.build()
    figures["reopen_and_noop_build_s"] = round(time.perf_counter() - started, 2)
    figures["reindex_one_file"] = time_one_file_reindex(index, project)
    queries = [target.query for target in collect_targets(project)][:100]
    for mode in ("vector", "bm25", "hybrid"):
        figures[f"query_ms_{mode}"] = time_queries(index, queries, mode)
    index.close()
    return figures


def time_one_file_reindex(index: WorkspaceIndex, project: Path) -> dict:
    """Edit one function of a large module five times; time update_file after each edit."""
    path = max(project.rglob("sessions.py"), key=lambda p: p.stat().st_size, default=None) \
        or max(project.rglob("*.py"), key=lambda p: p.stat().st_size)
    original = path.read_text(encoding="utf-8")
    anchor = re.search(r"\n    def \w+\(self[^\n]*:\n", original)
    assert anchor, "no method to edit"
    timings, embedded = [], []
    try:
        for edit in range(5):
            edited = (original[:anchor.end()] + f"        edit_marker = {edit}\n"
                      + original[anchor.end():])
            path.write_text(edited, encoding="utf-8")
            started = time.perf_counter()
            embedded.append(index.update_file(path))
            timings.append((time.perf_counter() - started) * 1000)
    finally:
        path.write_text(original, encoding="utf-8")
        index.update_file(path)
    return {"file": path.name, "lines": original.count("\n"), "embedded_per_edit": embedded,
            "ms_median": round(statistics.median(timings), 1),
            "ms_max": round(max(timings), 1)}


def time_queries(index: WorkspaceIndex, queries: list[str], mode: str) -> dict:
    timings = []
    for query in queries:
        started = time.perf_counter()
        index.search(query, 8, mode=mode)
        timings.append((time.perf_counter() - started) * 1000)
    timings.sort()
    return {"p50": round(statistics.median(timings), 1),
            "p95": round(timings[int(0.95 * (len(timings) - 1))], 1), "queries": len(timings)}


# -- retrieval quality -------------------------------------------------------------------

def collect_targets(root: Path) -> list[Target]:
    """Documented functions outside tests whose docstring opens with a real sentence."""
    targets = []
    for path in sorted(root.rglob("*.py")):
        rel_path = path.relative_to(root).as_posix()
        if "/tests/" in f"/{rel_path}" or "/docs/" in f"/{rel_path}":
            continue
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError):
            continue
        targets += [Target(rel_path, node.lineno, node.name, query)
                    for node, query in documented_functions(tree)]
    return targets


def strip_docstrings(project: Path, out: Path) -> tuple[list[Target], Path]:
    """Copy every Python file with its docstrings blanked out (line numbers kept);
    return the targets and the copy."""
    targets = collect_targets(project)
    for path in sorted(project.rglob("*.py")):
        rel_path = path.relative_to(project)
        try:
            source = path.read_text(encoding="utf-8")
            tree = ast.parse(source)
        except (SyntaxError, UnicodeDecodeError):
            continue
        stripped = strip_source_docstrings(source, tree)
        ast.parse(stripped)  # the copy must still be valid Python
        target = out / rel_path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(stripped, encoding="utf-8")
    return targets, out


def recall(index: WorkspaceIndex, targets: list[Target], mode: str) -> dict:
    at1 = at5 = 0
    for target in targets:
        hits = index.search(target.query, 5, mode=mode)
        found = [index.root / target.rel_path == hit.path
                 and hit.start_line <= target.def_line <= hit.end_line for hit in hits]
        at1 += any(found[:1])
        at5 += any(found)
    return {"recall@1": round(at1 / len(targets), 3), "recall@5": round(at5 / len(targets), 3)}


def bench_quality(stripped: Path, cache: Path, settings: IndexSettings,
                  targets: list[Target], sweep: bool) -> dict:
    index = WorkspaceIndex(stripped, cache_dir=cache, settings=settings)
    stats = index.build()
    figures: dict = {"targets": len(targets), "files": stats.files, "chunks": stats.chunks}
    for mode in ("vector", "bm25", "hybrid"):
        figures[mode] = recall(index, targets, mode)
    if sweep:
        figures["hybrid_weight_sweep"] = sweep_setting(index, targets, "similarity_weight",
                                                       WEIGHTS)
        figures["test_demotion_sweep"] = sweep_setting(index, targets, "test_demotion",
                                                       DEMOTIONS)
    index.close()
    return figures


def sweep_setting(index: WorkspaceIndex, targets: list[Target], name: str,
                  values: tuple[float, ...]) -> dict:
    """Hybrid recall for each value of one ranking setting; the setting is put back."""
    chosen = getattr(index.settings, name)
    figures = {}
    for value in values:
        setattr(index.settings, name, value)
        figures[str(value)] = recall(index, targets, "hybrid")
    setattr(index.settings, name, chosen)
    return figures


def bench_hnsw(cache: Path, settings: IndexSettings, targets: list[Target]) -> dict:
    """Build hnswlib indexes of the stored vectors (code and label) with several
    (M, ef_construction); report build time and recall@10 against exact search."""
    import sqlite3

    import hnswlib
    import numpy as np

    with sqlite3.connect(cache / "catalogue.sqlite") as db:
        rows = db.execute("SELECT id, embedding FROM chunks").fetchall()
    blocks = [np.frombuffer(row[1], dtype=np.float32).reshape(-1, DIMENSION) for row in rows]
    ids = np.array([row[0] * SLOTS + slot for row, block in zip(rows, blocks)
                    for slot in range(len(block))])  # every vector: code and label
    data = np.vstack(blocks)
    embedder = load_embedder(settings.embedder, cache_base(), settings.max_embed_tokens)
    queries = embedder.embed([target.query for target in targets])
    exact = np.argsort(-(queries @ data.T), axis=1)[:, :10]
    figures = {}
    for m, ef_construction in HNSW_GRID:
        index = hnswlib.Index(space="cosine", dim=data.shape[1])
        index.init_index(max_elements=len(ids), M=m, ef_construction=ef_construction)
        started = time.perf_counter()
        index.add_items(data, ids)
        build_s = time.perf_counter() - started
        index.set_ef(settings.hnsw_ef_search)
        labels, _ = index.knn_query(queries, k=10)
        overlap = np.mean([len(set(labels[row]) & set(ids[exact[row]])) / 10
                           for row in range(len(queries))])
        figures[f"M={m},ef_construction={ef_construction}"] = {
            "build_s": round(build_s, 2), "recall@10_vs_exact": round(float(overlap), 3)}
    return figures


def compare_embedders(cache: Path, settings: IndexSettings) -> dict:
    """Load time, chunks/s and agreement of the ONNX int8 and torch embedders on the same
    256 chunks (each loaded in a fresh process for the start-up time)."""
    import sqlite3

    with sqlite3.connect(cache / "catalogue.sqlite") as db:
        texts = [row[0] for row in db.execute("SELECT text FROM chunks ORDER BY id LIMIT 256")]
    figures, vectors = {}, {}
    for backend in ("onnx", "torch"):
        figures[backend] = {"start_s_fresh_process": fresh_process_load_s(backend, settings)}
        embedder = load_embedder(backend, cache_base(), settings.max_embed_tokens)
        started = time.perf_counter()
        vectors[backend] = embedder.embed(texts)
        figures[backend]["chunks_per_s"] = round(len(texts) / (time.perf_counter() - started), 1)
    cosine = (vectors["onnx"] * vectors["torch"]).sum(axis=1)
    figures["cosine_onnx_vs_torch"] = {"min": round(float(cosine.min()), 4),
                                       "mean": round(float(cosine.mean()), 4)}
    return figures


def fresh_process_load_s(backend: str, settings: IndexSettings) -> float:
    code = (
        "import time; t = time.perf_counter(); "
        "from hearth.core.memory.embed import load_embedder; "
        "from hearth.core.memory.cache import cache_base; "
        f"e = load_embedder({backend!r}, cache_base(), {settings.max_embed_tokens}); "
        "e.embed(['warm up']); print(time.perf_counter() - t)"
    )
    env = dict(os.environ, PYTHONPATH=str(REPO / "server"))
    output = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                            text=True, env=env).stdout
    return round(float(output.strip().splitlines()[-1]), 2)


def report(results: dict) -> str:
    out = [f"Command: `{results['command']}`", f"Machine: {results['machine']}",
           f"Date: {results['date']}", f"Model load (warm cache): {results['model_load_s']} s",
           "", "| corpus | files | chunks | python lines | cold s | chunks/s | disk MB |",
           "|---|---|---|---|---|---|---|"]
    for key in ("project", "stdlib"):
        if key in results:
            row = results[key]
            out.append(f"| {key} | {row['files']} | {row['chunks']} | {row['lines_python']} | "
                       f"{row['cold_index_s']} | {row['chunks_per_s']} | {row['disk_mb']} |")
    project = results["project"]
    out += ["", f"All lines in project: {project['lines_all']}; peak RSS "
            f"{results['peak_rss_mb']} MB; re-open + no-op build "
            f"{project['reopen_and_noop_build_s']} s",
            f"One-file re-index: {project['reindex_one_file']}"]
    for mode in ("vector", "bm25", "hybrid"):
        out.append(f"Query latency {mode}: {project[f'query_ms_{mode}']} ms")
    quality = results["quality"]
    out += ["", f"Retrieval quality ({quality['targets']} documented functions, docstrings "
            f"removed, {quality['chunks']} chunks):", "| mode | recall@1 | recall@5 |",
            "|---|---|---|"]
    for mode in ("vector", "bm25", "hybrid"):
        out.append(f"| {mode} | {quality[mode]['recall@1']} | {quality[mode]['recall@5']} |")
    for weight, figures in quality.get("hybrid_weight_sweep", {}).items():
        out.append(f"| hybrid w={weight} | {figures['recall@1']} | {figures['recall@5']} |")
    for demotion, figures in quality.get("test_demotion_sweep", {}).items():
        out.append(f"| hybrid test_demotion={demotion} | {figures['recall@1']} | "
                   f"{figures['recall@5']} |")
    if "quality_base_model" in results:
        base = results["quality_base_model"]
        out += ["", "Same corpus, base (untuned) embedder:", "| mode | recall@1 | recall@5 |",
                "|---|---|---|"]
        out += [f"| {mode} | {base[mode]['recall@1']} | {base[mode]['recall@5']} |"
                for mode in ("vector", "bm25", "hybrid")]
    for key in ("tuning", "hnsw", "embedders", "stdlib_chunking"):
        if key in results:
            out.append(f"\n{key}: {json.dumps(results[key])}")
    return "\n".join(out)


if __name__ == "__main__":
    main()
