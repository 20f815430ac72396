"""A docstring with no doctest but an example in prose (`'hELLO wORLD' -> 'Hello World'`)
decides between the real model's candidates: one that contradicts it loses, with that reason."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from hearth.core.pipeline.types import Candidate
from hearth.core.session import Session
from hearth.core.text import Pos
from hearth.settings import GenerationSettings, IndexSettings, ModelSettings, Settings
from tests.e2e.conftest import require_default_model

pytestmark = pytest.mark.model

STUB = '''def title_words(text: str) -> str:
    """Return text with the first letter of every word in upper case and the rest in lower case.

    'hELLO wORLD' -> 'Hello World'
    """
    pass
'''


# Which seeds give a candidate that contradicts the example depends on the thread count and
# the order of float sums (on one machine seeds 0 and 2 of the first four did; in CI seed 0
# did not; with the AVX-512 build of llama.cpp none of 0-8 did, 9 did): try seeds until the real
# model writes one, then check that it loses.
SEEDS = range(12)


def test_a_candidate_that_contradicts_a_prose_example_loses(tmp_path: Path) -> None:
    require_default_model()
    # Several candidates of the small model, so that there is something to choose between.
    settings = Settings(model=ModelSettings(name="qwen2.5-coder-0.5b"),
                        generation=GenerationSettings(samples=5),
                        index=IndexSettings(enabled=False))
    path = tmp_path / "names.py"
    path.write_text(STUB)
    session = Session(settings, tmp_path)
    try:
        for seed in SEEDS:
            options = replace(session.engine_options("generate"), seed=seed)
            ranker = options.ranker
            seen: list[Candidate] = []

            def recording(request, candidates, seen=seen, ranker=ranker):
                seen.extend(candidates)
                return ranker(request, candidates)

            request = session.request(STUB, Pos(5, 4), path=path)
            result = session.run("generate", request,
                                 options=replace(options, ranker=recording))
            wrong = [c for c in seen if any(f.rule == "example-failed" for f in c.findings)]
            if wrong and len(wrong) < len(seen):
                break
        else:
            pytest.fail(f"no seed of {list(SEEDS)} gave both a candidate that contradicts the "
                        "example and one that does not: the test proves nothing")
    finally:
        session.close()
    assert all(c.confidence < result.confidence for c in wrong)
    namespace: dict = {}
    exec(compile(result.new_source, "names.py", "exec"), namespace)  # noqa: S102
    assert namespace["title_words"]("hELLO wORLD") == "Hello World"
    assert any("example" in line for line in result.evidence), result.evidence
