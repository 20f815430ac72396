"""The analysis context's locks: a code action list parses the document while a Generate's
checks run jedi on the inference thread, and must not wait for them."""

from __future__ import annotations

import threading

from hearth.core.analysis.context import AnalysisContext

SOURCE = "def f(x):\n    return x\n"


def test_parsing_does_not_wait_for_a_jedi_answer_being_computed() -> None:
    analysis = AnalysisContext()
    computing, release = threading.Event(), threading.Event()

    def slow_inference() -> str:  # stands for a jedi inference `memo` holds its lock through
        computing.set()
        release.wait(30)
        return "int"

    worker = threading.Thread(target=analysis.memo, args=(("returns", SOURCE), slow_inference))
    worker.start()
    try:
        assert computing.wait(30)
        parsed: list = []
        parser = threading.Thread(target=lambda: parsed.append(analysis.parse(SOURCE)))
        parser.start()
        parser.join(10)
        assert not parser.is_alive(), "parse waited for the inference's lock"
        assert parsed[0] is not None and parsed[0].body[0].name == "f"
    finally:
        release.set()
        worker.join(30)
    assert analysis.memo(("returns", SOURCE), lambda: "other") == "int"
    assert analysis.parse(SOURCE) is parsed[0]  # kept, the same tree


def test_invalidate_forgets_the_parsed_trees() -> None:
    analysis = AnalysisContext()
    tree = analysis.parse(SOURCE)
    assert analysis.parse(SOURCE) is tree
    analysis.invalidate()
    assert analysis.parse(SOURCE) is not tree
