"""The inline completion corpus: which positions the build takes from a module, when one is
cross-file, how positions.json is split, the document the benchmark shows at a position and
the scores it gives a suggestion (no model, no network)."""

from __future__ import annotations

import random
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "bench"))

from completion_tasks import (  # noqa: E402
    PositionError,
    code_end,
    document_at,
    key_before,
    load_by_path,
    load_positions,
    ratio,
    score,
    suggested_line,
    with_suggestion,
)
from corpus_tasks import Project  # noqa: E402

build = load_by_path("completion_corpus_build",
                     REPO / "tests" / "completion_corpus" / "build.py")

PROJECT = Project(name="pkg", version="1", sdist="pkg-1.tar.gz", sha256="0" * 64,
                  root="pkg-1", package="pkg")
HELPERS = textwrap.dedent('''\
    """Helpers."""


    def helper(x):
        return x


    class Box:
        pass


    LIMIT = 3
    ''')
MODULE = textwrap.dedent('''\
    """Uses the helpers."""
    from . import helpers
    from .helpers import LIMIT, helper


    def local():
        return 1


    def uses(values):
        """Doubles.

        Over two lines.
        """
        # a comment line
        total = helper(values)  # trailing comment
        box = helpers.Box()
        text = """a string
    over lines"""
        result = [
            local(),
        ]
        return total, box, text, result, LIMIT


    def shadowed(helper):
        """The parameter hides the import."""
        return helper(1)


    def outer():
        def inner(y):
            return helper(y)
        return inner


    def stub():
        """Not written yet."""
        pass


    class Thing:
        def method(self):
            """Doc."""
            value = helper(self)
            return value
    ''')
SOURCES = {"pkg/__init__.py": "", "pkg/helpers.py": HELPERS, "pkg/uses.py": MODULE}
LINES = MODULE.splitlines()


def line_of(text: str) -> int:
    return next(n for n, line in enumerate(LINES) if line.strip().startswith(text))


@pytest.fixture(scope="module")
def candidates() -> build.ModuleCandidates:
    definitions = build.quality.definitions_of(SOURCES, PROJECT)
    return build.module_candidates(PROJECT, "pkg/uses.py", MODULE, definitions,
                                   {("pkg/uses.py", "uses"): "pkg/uses.py::uses"})


def line_positions(candidates, kind: str = "line", col: int | None = None) -> dict:
    """The candidates as the build makes them, by the code of their line."""
    out = {}
    for function, line, uses in candidates.lines:
        at = line.indent if col is None else line.indent + col
        out[line.code] = build.line_position(PROJECT, "pkg/uses.py", function, line, uses,
                                             kind, at)
    return out


# -- which lines are positions ------------------------------------------------------------------
def test_only_code_lines_inside_function_bodies(candidates) -> None:
    codes = [line.code for _, line, _ in candidates.lines]
    assert codes == [
        "return 1", "total = helper(values)", "box = helpers.Box()",
        "result = [", "local(),", "return total, box, text, result, LIMIT",
        "return helper(1)", "def inner(y):", "return helper(y)", "return inner", "pass",
        "value = helper(self)", "return value"]
    # left out: the docstrings, the comment line, the string over two lines (both of its
    # lines), the closing bracket, module-level code and signatures


def test_code_stops_before_a_trailing_comment() -> None:
    lines = build.code_lines("x = 1  # one\ny = '#'  # two\n")
    assert [(line.code, line.end) for line in lines.values()] == [("x = 1", 5), ("y = '#'", 7)]


def test_innermost_function_owns_a_line(candidates) -> None:
    owners = {line.code: function for function, line, _ in candidates.lines}
    assert owners["def inner(y):"] == "outer"
    assert owners["return helper(y)"] == "outer.inner"
    assert owners["return inner"] == "outer"
    assert owners["value = helper(self)"] == "Thing.method"


def test_only_closing_brackets_is_not_usable() -> None:
    lines = build.code_lines("f(\n    [1,\n    ]),\n")
    assert [line.code for line in lines.values()] == ["f(", "[1,", "]),"]
    assert [line.code for line in lines.values() if build.usable(line)] == ["f(", "[1,"]


# -- cross-file ---------------------------------------------------------------------------------
def test_a_name_imported_from_another_module_is_cross_file(candidates) -> None:
    positions = line_positions(candidates)
    assert positions["total = helper(values)"].helpers == ["pkg.helpers.helper"]
    assert positions["box = helpers.Box()"].helpers == ["pkg.helpers.Box"]
    assert positions["return helper(y)"].cross_file  # in a nested function too
    assert positions["value = helper(self)"].cross_file  # and in a method


def test_what_is_not_cross_file(candidates) -> None:
    positions = line_positions(candidates)
    assert not positions["return helper(1)"].cross_file  # the parameter hides the import
    assert not positions["local(),"].cross_file  # defined in the same module
    # LIMIT is imported from another module, but only functions and classes count
    assert not positions["return total, box, text, result, LIMIT"].cross_file


def test_a_name_already_typed_is_not_cross_file(candidates) -> None:
    function, line, uses = next(item for item in candidates.lines
                                if item[1].code == "total = helper(values)")
    typed = line.indent + len("total = helper(")
    assert not build.line_position(PROJECT, "pkg/uses.py", function, line, uses, "mid",
                                   typed).cross_file
    halfway = line.indent + len("total = hel")  # the rest of the name is still to write
    assert build.line_position(PROJECT, "pkg/uses.py", function, line, uses, "mid",
                               halfway).helpers == ["pkg.helpers.helper"]


# -- blocks -------------------------------------------------------------------------------------
def test_blocks_start_after_the_docstring(candidates) -> None:
    blocks = {block.function: block for block in candidates.blocks}
    # not stub (only pass), outer (no docstring), outer.inner (nested: not found by name)
    assert set(blocks) == {"uses", "shadowed", "Thing.method"}
    uses = blocks["uses"]
    # the first statement: a comment line before it stays in the document
    assert (uses.line, uses.col, uses.prefix) == (line_of("total = "), 4, "    ")
    assert uses.end_line == line_of("return total, box")
    assert uses.reference.startswith("total = helper(values)  # trailing comment\n    box")
    assert uses.reference.endswith("return total, box, text, result, LIMIT")
    assert uses.cross_file and uses.helpers == ["pkg.helpers.Box", "pkg.helpers.helper"]
    assert uses.task == "pkg/uses.py::uses"
    assert blocks["Thing.method"].reference == "value = helper(self)\n        return value"
    assert blocks["Thing.method"].task is None


# -- sampling and the split ---------------------------------------------------------------------
def test_mid_cut_leaves_typed_and_rest() -> None:
    line = build.Line(0, "    value = compute(x)", 4, len("    value = compute(x)"))
    cuts = {build.mid_cut(line, random.Random(seed)) for seed in range(200)}
    assert min(cuts) == 4 + build.MIN_TYPED
    assert max(cuts) == len(line.text) - build.MIN_REST
    assert build.mid_cut(build.Line(0, "  pass", 2, 6), random.Random(0)) is None


def test_draw_takes_at_most_half_preferred() -> None:
    preferred, others = list(range(10)), list(range(100, 200))
    chosen = build.draw(random.Random(1), preferred, others, 8)
    assert len(chosen) == 8 and len(set(chosen)) == 8
    assert sum(item < 100 for item in chosen) >= 4
    assert chosen == build.draw(random.Random(1), preferred, others, 8)
    assert sorted(build.draw(random.Random(1), preferred, [], 8)) == sorted(
        set(build.draw(random.Random(1), preferred, [], 8)))  # filled from preferred
    assert len(build.draw(random.Random(1), [1], [2], 8)) == 2  # no more than there is


def test_split_is_fixed_by_the_id() -> None:
    ids = [f"pkg/m.py:{n}:4:line" for n in range(2000)]
    splits = [build.split_of(i) for i in ids]
    assert splits == [build.split_of(i) for i in ids]
    assert 0.35 < splits.count("heldout") / len(ids) < 0.45


# -- positions.json -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def corpus() -> dict:
    return load_positions()


def test_positions_file_is_as_promised(corpus) -> None:
    positions = corpus["positions"]
    assert 150 <= len(positions) <= 250
    assert corpus["tune_on"] == "dev"
    assert len({p["id"] for p in positions}) == len(positions)
    assert {p["kind"] for p in positions} == {"line", "mid", "block"}
    assert {p["project"] for p in positions} == set(corpus["projects"])
    for position in positions:
        assert position["split"] == build.split_of(position["id"])
        assert position["reference"].strip() and not position["reference"].startswith("#")
        assert position["cross_file"] == bool(position["helpers"])
        if position["kind"] == "line":
            assert position["prefix"].strip() == "" and position["col"] == len(
                position["prefix"])
        if position["kind"] == "mid":
            assert len(position["prefix"].strip()) >= build.MIN_TYPED
    for split in ("dev", "heldout"):
        part = [p for p in positions if p["split"] == split]
        assert sum(p["cross_file"] for p in part) >= 10
        assert {p["kind"] for p in part} == {"line", "mid", "block"}
    heldout = sum(p["split"] == "heldout" for p in positions) / len(positions)
    assert 0.3 < heldout < 0.5


def test_positions_fit_the_unpacked_sources(corpus) -> None:
    """Only where the sdists have been unpacked (a benchmark or a build ran here)."""
    from corpus_tasks import UNPACKED, load_projects

    projects = load_projects()
    roots = {name: UNPACKED / projects[name].root for name in corpus["projects"]}
    if not all(root.is_dir() for root in roots.values()):
        pytest.skip("the sdists are not unpacked in .bench/corpus")
    for position in corpus["positions"]:
        source = (roots[position["project"]] / position["path"]).read_text(encoding="utf-8")
        document = document_at(source, position)
        assert with_suggestion(document, position, position["reference"]).startswith(
            "".join(source.splitlines(keepends=True)[:position["end_line"]]))


# -- the document and the scores ----------------------------------------------------------------
def test_document_cuts_the_line_and_keeps_the_rest(candidates) -> None:
    position = vars(line_positions(candidates, "mid", 3)["total = helper(values)"])
    document = document_at(MODULE, position)
    lines = document.splitlines()
    assert lines[position["line"]] == "    tot"
    assert lines[position["line"] + 1] == "    box = helpers.Box()"
    assert len(lines) == len(LINES)
    assert with_suggestion(document, position, "al = helper(values)  # trailing comment") \
        == MODULE


def test_document_of_a_block_loses_the_body(candidates) -> None:
    block = vars(next(b for b in candidates.blocks if b.function == "Thing.method"))
    document = document_at(MODULE, block)
    assert document.endswith('    def method(self):\n        """Doc."""\n        \n')
    assert with_suggestion(document, block, block["reference"]) == MODULE


def test_the_keystroke_before_is_the_enter_or_the_last_character(candidates) -> None:
    block = vars(next(b for b in candidates.blocks if b.function == "Thing.method"))
    earlier, line, col = key_before(document_at(MODULE, block), block)
    assert earlier.endswith('    def method(self):\n        """Doc."""\n')
    assert (line, col) == (block["line"] - 1, len('        """Doc."""'))
    position = vars(line_positions(candidates, "mid", 3)["total = helper(values)"])
    earlier, line, col = key_before(document_at(MODULE, position), position)
    assert earlier.splitlines()[line] == "    to" and (line, col) == (position["line"], 6)


def test_document_of_another_version_is_refused(candidates) -> None:
    position = vars(line_positions(candidates)["return inner"])
    with pytest.raises(PositionError):
        document_at(MODULE.replace("return inner", "return outer"), position)
    with pytest.raises(PositionError):
        document_at(MODULE.replace("\n    return inner", "\n  return inner"), position)


def test_code_end_reads_strings_and_comments() -> None:
    assert code_end("x = 1  # one") == 5
    assert code_end("s = '#' + \"#\"  # two") == len("s = '#' + \"#\"")
    assert code_end("s = '''a ' # b'''  # three") == len("s = '''a ' # b'''")
    assert code_end("s = 'it\\'s # not'") == len("s = 'it\\'s # not'")
    assert code_end("s = 'open # string") == len("s = 'open # string")


def test_suggested_line_is_the_first_line_without_its_comment() -> None:
    assert suggested_line("    return fo", "o(x)  # note\n    more") == "o(x)"
    assert suggested_line("    s = 'a # ", "b'  # c") == "b'"  # the cut is inside a string
    assert suggested_line("    x = ", "") == ""


def test_scores() -> None:
    line = {"kind": "line", "prefix": "    ", "reference": "total = helper(values)"}
    assert score(line, "total = helper(values)  \n    more") == {
        "exact": True, "similarity": 1.0, "empty": False}
    near = score(line, "total = helper(value)")
    assert not near["exact"] and 0.9 < near["similarity"] < 1.0
    assert score(line, "") == {"exact": False, "similarity": 0.0, "empty": True}
    assert ratio("", "") == 1.0
    block = {"kind": "block", "prefix": "    ",
             "reference": "x = 1\n\n    return x"}
    assert score(block, "x = 1   \n    return x\n")["block_similarity"] == 1.0
    assert score(block, "x = 1\n")["block_similarity"] < 0.7
    capped = score(block, "x = 1\n", max_lines=1)  # all that one line can hold
    assert capped["block_similarity_max_lines"] == 1.0 and capped["block_similarity"] < 0.7


# -- the benchmark's pure parts -----------------------------------------------------------------
@pytest.fixture(scope="module")
def bench():
    import bench_complete

    return bench_complete


def test_configurations(bench) -> None:
    from hearth.settings import Settings

    defaults = Settings()
    assert bench.configured(defaults, "hearth") == (defaults, True)
    plain, use_context = bench.configured(defaults, "plain")
    assert not use_context
    assert (plain.completion.prefix_lines, plain.completion.suffix_lines) == (256, 64)
    assert plain.completion.max_lines == defaults.completion.max_lines
    assert bench.server_options("plain", None)["completion"] == {
        "contextTokens": 0, "prefixLines": 256, "suffixLines": 64}
    assert bench.server_options("hearth", "qwen2.5-coder-1.5b")["completion"] == {
        "model": "qwen2.5-coder-1.5b"}
    with pytest.raises(ValueError):
        bench.configured(defaults, "other")


def test_limit_spreads_over_projects(bench, corpus) -> None:
    chosen = bench.select(corpus["positions"], "dev", None, 20)
    assert len(chosen) == 20 and all(p["split"] == "dev" for p in chosen)
    assert len({p["project"] for p in chosen}) >= 3
    assert chosen == bench.select(corpus["positions"], "dev", None, 20)
    assert chosen == sorted(chosen, key=lambda p: (p["project"], p["path"], p["line"],
                                                   p["col"], p["kind"]))
    one = corpus["positions"][0]["id"]
    assert [p["id"] for p in bench.select(corpus["positions"], "dev", one, None)] == [one]
    with pytest.raises(PositionError):
        bench.select(corpus["positions"], "dev", "no/such.py:1:0:line", None)


def test_typing_lines_are_dev_line_starts(bench, corpus) -> None:
    chosen = bench.typing_positions(corpus["positions"], 4)
    assert len(chosen) == 4 and len({p["project"] for p in chosen}) == 4
    assert all(p["kind"] == "line" and p["split"] == "dev"
               and 20 <= len(p["reference"]) <= 50 for p in chosen)


def run(kind: str = "line", **values) -> dict:
    record = {"config": "hearth", "split": "dev", "kind": kind, "cross_file": False,
              "error": None, "exact": False, "similarity": 0.5, "empty": False,
              "cached": False, "elapsed_s": 1.0, "prompt_tokens": 100, "prompt_evaluated": 90}
    if kind == "block":
        record.update(block_similarity=0.5, block_similarity_max_lines=0.75)
    return {**record, **values}


def test_figures_per_group(bench) -> None:
    runs = [run(exact=True, similarity=1.0, elapsed_s=2.0),
            run("mid", cross_file=True, elapsed_s=4.0),
            run("block", tests_passed=True, elapsed_s=6.0),
            run(cached=True, elapsed_s=0.001, prompt_tokens=0, prompt_evaluated=0),
            run(split="heldout")]
    rows = bench.summary(runs)
    dev = rows["hearth | dev | all"]
    assert dev["positions"] == 4 and dev["exact"] == 0.25 and dev["cached"] == 1
    assert dev["p50_s"] == 4.0  # the cached answer is not a latency
    assert (dev["tests_run"], dev["tests_passed"]) == (1, 1)
    assert dev["block_similarity_max_lines"] == 0.75
    assert rows["hearth | dev | cross-file"]["positions"] == 1
    assert rows["hearth | all | all"]["positions"] == 5
    assert "hearth | heldout | block" not in rows  # no empty groups
    failed = bench.figures([run(error="Boom", prompt_tokens=None, prompt_evaluated=None)])
    assert failed["errors"] == 1 and failed["p50_s"] is None


def test_typing_figures(bench) -> None:
    requests = [{"key": 1, "error": "cancelled", "latency_ms": 200.0, "stale": True},
                {"key": 2, "text": "x + 1", "latency_ms": 900.0, "stale": True},
                {"key": 3, "text": "+ 1", "latency_ms": 300.0, "stale": False},
                {"key": 4, "text": "", "latency_ms": 100.0, "stale": False},
                {"key": 5}]
    line = {"requests": requests, "code_action_during_ms": [5.0, 7.0],
            "server_answers": [{"cached": True, "promptEvaluated": 0, "promptTokens": 0},
                               {"cached": False, "promptEvaluated": 40, "promptTokens": 400}]}
    figures = bench.typing_figures({"lines": [line], "code_action_idle_ms": [1.0, 2.0, 3.0]})
    assert (figures["keystrokes"], figures["answered"], figures["cancelled_or_failed"],
            figures["unanswered"], figures["stale_answers"]) == (5, 3, 1, 1, 1)
    assert figures["keystroke_to_suggestion"]["n"] == 1  # the stale answer is not shown
    assert figures["suggestions_shown_per_keystroke"] == 0.2
    assert (figures["cache_hits"], figures["prompt_evaluated_mean"],
            figures["prompt_tokens_mean"]) == (1, 40, 400)
    assert figures["code_action_while_typing"]["n"] == 2
    silent = bench.typing_figures({"lines": [{**line, "server_answers": None}],
                                   "code_action_idle_ms": []})
    assert silent["cache_hits"] is None and silent["code_action_idle"] == {"n": 0}


def test_answer_text(bench) -> None:
    from lsprotocol import types

    item = types.InlineCompletionItem(insert_text="rest()")
    assert bench.answer_text(types.InlineCompletionList(items=[item])) == "rest()"
    assert bench.answer_text([item]) == "rest()"
    assert bench.answer_text(None) == ""
    snippet = types.InlineCompletionItem(insert_text=types.StringValue(value="snippet"))
    assert bench.answer_text([snippet]) == "snippet"
