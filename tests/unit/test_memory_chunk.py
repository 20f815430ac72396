"""Chunking: Python by syntax tree, other text by aligned, overlapping line windows."""

from __future__ import annotations

import textwrap

from hearth.core.memory.chunk import chunk_file, chunk_lines
from hearth.core.memory.settings import IndexSettings

SOURCE = textwrap.dedent('''\
    """Module docstring."""
    import os

    LIMIT = 3


    @cache
    def helper(x):
        """Double x."""
        return x * 2


    class Small:
        def go(self):
            return 1


    async def fetch():
        return await thing()


    if __name__ == "__main__":
        helper(1)
''')


def spans(chunks):
    return [(c.kind, c.name, c.start_line, c.end_line) for c in chunks]


def test_python_functions_classes_and_module_code_become_chunks() -> None:
    chunks = chunk_file("pkg/mod.py", SOURCE, IndexSettings())
    assert spans(chunks) == [
        ("module", "<module>", 1, 4),
        ("function", "helper", 7, 10),
        ("class", "Small", 13, 15),
        ("function", "fetch", 18, 19),
        ("module", "<module>", 22, 23),
    ]
    helper = chunks[1]
    assert helper.text.startswith("@cache\ndef helper(x):")
    assert helper.has_docstring and helper.defined_name == "helper"
    assert not chunks[2].has_docstring
    assert all(chunk.path == "pkg/mod.py" for chunk in chunks)


def test_definitions_carry_their_name_and_parameters_in_words() -> None:
    source = textwrap.dedent('''\
        class HTTPClient(Base):
            def __init__(self, base_url, *, retries=3):
                self.base_url = base_url


        async def fetch_JSON(url, /, timeout=None, *args, **options):
            pass

        LIMIT = 3
        ''')
    labels = {chunk.name: chunk.label for chunk in chunk_file("a.py", source, IndexSettings())}
    assert labels == {"HTTPClient": "http client (base url, retries)",
                      "fetch_JSON": "fetch json (url, timeout, args, options)",
                      "<module>": ""}


def test_large_class_is_split_into_methods_with_its_header_as_context() -> None:
    methods = "\n".join(
        f"    def method_{n}(self):\n        value = {n}\n        return value\n"
        for n in range(8)
    )
    source = f'class Big(Base):\n    """Big docstring."""\n    kind = "big"\n\n{methods}'
    chunks = chunk_file("big.py", source, IndexSettings(max_class_lines=15))
    header, first = chunks[0], chunks[1]
    assert (header.kind, header.name, header.start_line, header.end_line) == ("class", "Big", 1, 3)
    assert header.has_docstring
    assert (first.kind, first.name, first.start_line, first.end_line) == (
        "method", "Big.method_0", 5, 7)
    assert first.text.startswith("class Big(Base):\n    ...\n    def method_0(self):")
    assert [c.name for c in chunks[1:]] == [f"Big.method_{n}" for n in range(8)]


def test_nested_class_in_a_large_class_gets_a_qualified_name() -> None:
    body = "\n".join(f"    x{n} = {n}" for n in range(20))
    source = f"class Outer:\n{body}\n    class Inner:\n        def run(self):\n            pass\n"
    chunks = chunk_file("n.py", source, IndexSettings(max_class_lines=15))
    assert ("class", "Outer.Inner", 22, 24) in spans(chunks)


def test_python_that_does_not_parse_falls_back_to_windows() -> None:
    chunks = chunk_file("broken.py", "def broken(:\n    pass\n", IndexSettings())
    assert spans(chunks) == [("window", "broken.py:1", 1, 2)]


def test_long_module_code_is_windowed() -> None:
    source = "\n".join(f"VALUE_{n} = {n}" for n in range(100)) + "\n"
    chunks = chunk_file("consts.py", source, IndexSettings(window_lines=40, window_overlap=5))
    assert chunks[0].start_line == 1 and chunks[-1].end_line == 100
    assert all(chunk.kind == "module" for chunk in chunks)
    for before, after in zip(chunks, chunks[1:]):
        assert before.end_line - after.start_line + 1 == 5  # the overlap


def test_other_languages_get_windows_ending_at_breaks_with_overlap() -> None:
    lines = []
    for block in range(6):
        lines += [f"function f{block}() {{"] + [f"  step({n});" for n in range(8)] + ["}", ""]
    chunks = chunk_lines("app.js", "\n".join(lines), IndexSettings(window_lines=25,
                                                                   window_overlap=4))
    assert chunks[0].start_line == 1
    assert chunks[-1].end_line == len(lines) - 1 or chunks[-1].end_line == len(lines)
    for chunk in chunks[:-1]:
        last = lines[chunk.end_line - 1].strip()
        assert last in ("}", ""), f"window ends mid-block at {chunk.end_line}: {last!r}"
    covered = set()
    for chunk in chunks:
        covered.update(range(chunk.start_line, chunk.end_line + 1))
    assert covered >= {n + 1 for n, line in enumerate(lines) if line.strip()}
    assert all(b.start_line <= a.end_line + 1 for a, b in zip(chunks, chunks[1:]))


def test_blank_only_windows_are_dropped() -> None:
    assert chunk_lines("notes.txt", "\n\n\n\n", IndexSettings()) == []
