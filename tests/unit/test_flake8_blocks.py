"""flake8's token checks replayed per unchanged block of statements give exactly what a fresh
run gives: on real modules under seeded random edits, and on the layouts pycodestyle's
blank-line checks read across blocks."""

from __future__ import annotations

import ast
import random
import sysconfig
from pathlib import Path

import pytest

from hearth.core.analysis.context import AnalysisContext
from hearth.core.analysis.flake8_runner import SegmentCache, block_ends, run_flake8

STDLIB = Path(sysconfig.get_paths()["stdlib"])
# Real code nobody here wrote, of different shapes: classes with many methods, long
# top-level functions, module constants, decorators, continuation lines.
MODULES = ["ftplib.py", "shlex.py", "textwrap.py", "fnmatch.py", "colorsys.py", "bisect.py"]
# What typing inserts: characters, indentation, whole definitions, openers left unclosed.
INSERTS = ["x", " ", "\n", "(", ")", ":", "    ", "def f():\n    pass\n", "#", "'", "\t",
           "import os\n", "class A:\n", "@dec\n", "\n\n\n", "\\\n", "'''", "λ", "  # noqa\n"]


def edits(source: str, rng: random.Random, count: int):
    """Variants of ``source`` with one or two edits each, half of them of the kinds typing
    leaves valid (a line doubled, blank lines added or removed, a comment, a longer name).
    An edit that breaks the syntax does not spoil the variants after it."""
    for _ in range(count):
        variant = source
        for _ in range(rng.choice((1, 1, 2))):
            lines = variant.splitlines(keepends=True)
            line = rng.randrange(len(lines))
            kind = rng.randrange(6)
            if kind == 0:
                lines.insert(line, lines[line])
            elif kind == 1:
                lines.insert(line, "\n" * rng.randint(1, 3))
            elif kind == 2 and not lines[line].strip():
                del lines[line]
            elif kind == 3:
                lines[line] = lines[line].rstrip("\n") + "  # note\n"
            elif kind == 4:
                lines[line] = lines[line].replace("(", "x(", 1)
            else:
                at = rng.randrange(len(variant) + 1)
                if rng.random() < 0.7:
                    variant = variant[:at] + rng.choice(INSERTS) + variant[at:]
                else:
                    variant = variant[:at] + variant[at + rng.randrange(40):]
                continue
            variant = "".join(lines)
        yield variant


def parses(source: str) -> bool:
    try:
        ast.parse(source)
    except SyntaxError:
        return False
    return True


@pytest.mark.parametrize("module", MODULES)
def test_replayed_results_equal_a_fresh_run_under_random_edits(module: str) -> None:
    original = (STDLIB / module).read_text(encoding="utf-8")
    cache = SegmentCache(4096)
    run_flake8(original, module, cache=cache)
    rng = random.Random(module)
    parsed = 0
    for source in edits(original, rng, 24):
        parsed += parses(source)
        assert run_flake8(source, module, cache=cache) == run_flake8(source, module), source
    # Not vacuous: edited files that parse were checked, and blocks were replayed.
    assert parsed >= 6 and cache.hits > 0, (parsed, cache.hits)


BLANK_LINES = '''"""Layouts whose blank-line findings depend on the lines around a block."""
import os


def one():
    return os.sep
def two():  # E302: one blank line short, read from the block before
    return 2



def three():  # E303: too many blank lines
    return 3
class Holder:
    """A class whose methods are blocks of their own."""
    def first(self):  # E301
        return 1

    @property

    def second(self):  # E304: a blank line after a decorator
        return 2
    def third(self): return 3
    def fourth(self): return 4
x = 1; y = 2
def last():
    return x + y
'''


@pytest.mark.parametrize("edit", [
    ("return 2\n", "return 22\n"),         # inside a block in the middle
    ('import os\n', 'import os\nimport sys\n'),  # the first block
    ("\n\n\n\ndef three", "\n\ndef three"),  # the blank lines between two blocks
    ("def fourth(self): return 4\n", "def fourth(self): return 4\n\n"),
    ("return x + y\n", "return x + y"),    # the last line (W292)
    ("return x + y\n", "return x + y\n\n"),  # a blank last line (W391)
])
def test_blank_line_checks_across_blocks(edit: tuple[str, str]) -> None:
    before, after = edit
    edited = BLANK_LINES.replace(before, after, 1)
    assert edited != BLANK_LINES
    cache = SegmentCache(256)
    first = run_flake8(BLANK_LINES, "layouts.py", cache=cache)
    assert {"E301", "E302", "E303", "E304"} <= {f.code for f in first}
    assert run_flake8(edited, "layouts.py", cache=cache) == run_flake8(edited, "layouts.py")
    assert cache.hits > 0


def test_a_file_that_does_not_parse_is_checked_whole() -> None:
    cache = SegmentCache(64)
    good = "def f():\n    return 1\n\n\ndef g():\n    return 2\n"
    run_flake8(good, "m.py", cache=cache)
    broken = good.replace("return 2", "return (2")
    assert run_flake8(broken, "m.py", cache=cache) == run_flake8(broken, "m.py")
    assert any(f.code == "E999" for f in run_flake8(broken, "m.py", cache=cache))


def test_blocks_are_top_level_statements_and_the_statements_of_top_level_classes() -> None:
    source = ("import os\n"              # 1
              "x = 1; y = 2\n"           # 2: two statements, one block
              "@decorator\n"             # 3
              "def f(\n"                 # 4
              "    a):\n"                # 5
              "    return a\n"           # 6
              "class C:\n"               # 7
              "    a = 1\n"              # 8
              "    def m(self):\n"       # 9
              "        return 1\n")      # 10
    assert block_ends(ast.parse(source)) == [1, 2, 6, 8, 10]


def test_the_workspace_context_replays_the_blocks_an_edit_left_alone(tmp_path: Path) -> None:
    context = AnalysisContext(tmp_path)
    source = (STDLIB / "textwrap.py").read_text(encoding="utf-8")
    context.diagnostics(source, tmp_path / "textwrap.py")
    hits = context.flake8_blocks.hits
    edited = source.replace("import re\n", "import re\nimport os\n", 1)
    findings = context.diagnostics(edited, tmp_path / "textwrap.py")
    assert context.flake8_blocks.hits > hits
    assert any(f.code == "F401" and "'os'" in f.message for f in findings)
    context.invalidate()
    assert len(context.flake8_blocks) == 0
