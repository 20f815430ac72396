"""Prompt evaluation and decoding speed of the llama-cpp-python build in use (not run by
`make test`): docs/BENCHMARKS.md, "Build".

    .venv/bin/python tests/bench/bench_prompt_speed.py [--threads 2]

The default model; 1,000 prompt tokens of CPython's ``ftplib.py`` evaluated cold in chunks of
32 and of 128 tokens, then 40 greedy tokens decoded after a 500-token prompt. To compare two
builds, install each wheel into a folder of its own (``pip install --no-deps --target DIR``)
and run this script once with ``PYTHONPATH=DIR`` for each, one after the other.
"""

from __future__ import annotations

import argparse
import inspect
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "server"))

from hearth.core.models.backend import SamplingParams  # noqa: E402
from hearth.core.models.llama_batch import BatchDecoder  # noqa: E402
from hearth.core.models.llama_cpp import LlamaCppBackend  # noqa: E402
from hearth.core.models.manifest import load_manifest, model_file  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    import ftplib

    import llama_cpp

    backend = LlamaCppBackend(model_file(load_manifest().get(None)))
    backend.load()
    text = inspect.getsource(ftplib)[:5000]
    tokens = backend._llm.tokenize(text.encode(), add_bos=False, special=True)[:1000]
    print(f"llama_cpp from {llama_cpp.__file__}, {args.threads} threads")
    for chunk in (32, 128):
        decoder = BatchDecoder(backend._llm, n_ctx=4096, n_threads=args.threads,
                               exact_reuse=True, sequences=2, prefill_chunk=chunk)
        decoder.decode(tokens[:50], [SamplingParams(max_tokens=1)], [0])  # warm up
        decoder.forget_prompt()
        start = time.perf_counter()
        decoder.decode(tokens, [SamplingParams(max_tokens=1)], [0])
        prompt_s = time.perf_counter() - start
        start = time.perf_counter()
        [sample] = decoder.decode(tokens[:500], [SamplingParams(max_tokens=40)], [0])
        decode_s = time.perf_counter() - start
        print(f"chunk {chunk}: prompt {len(tokens) / prompt_s:.0f} tok/s; "
              f"decode {sample.tokens / decode_s:.1f} tok/s")
        decoder.close()
    backend.close()


if __name__ == "__main__":
    main()
