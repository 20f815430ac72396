"""Run flake8 in-process on a source text (the editor's buffer, saved or not, or generated code)
with the project's own flake8 configuration, and report what it finds as `Finding`s.

Severity mapping (flake8 itself has none):

* ``error``: code that cannot run -- syntax errors (E9xx, E999), undefined names (F821, F822,
  F823), duplicate arguments (F831), ``is``/assert/if/print misuse that is always wrong (F63x),
  and statements outside their context that Python rejects at compile time (F70x);
* ``warning``: every other pyflakes (F) and pycodestyle error (E) code, and codes from other
  plugins (they usually report likely bugs);
* ``information``: pycodestyle warnings (W) and complexity or convention codes (C, e.g. C901).

Given a ``SegmentCache`` (the diagnostics' one, owned by the workspace's `AnalysisContext`),
the token checks (pycodestyle) are not run again over a block of top-level statements whose
text, and whatever else the checks read there, is unchanged since an earlier run: their
results are replayed, moved to where the block now is. pyflakes and the other tree plugins see
names across the whole module, so they run over the whole file every time.
"""

from __future__ import annotations

import argparse
import ast
import configparser
import itertools
import logging
import os
import re
import threading
import tokenize
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from flake8 import checker, defaults, exceptions, processor, utils
from flake8.options.parse_args import parse_args
from flake8.plugins import finder, reporter
from flake8.style_guide import Decision, StyleGuideManager
from flake8.violation import Violation
from pycodestyle import STARTSWITH_DEF_REGEX, STARTSWITH_TOP_LEVEL_REGEX, expand_indent

from hearth.core.analysis.findings import (
    Finding,
    Severity,
    source_lines,
    utf8_offset_to_column,
    without_lone_surrogates,
)
from hearth.core.analysis.lru import BoundedCache
from hearth.core.errors import HearthError

logger = logging.getLogger(__name__)

# The files flake8 reads its configuration from, in the order flake8 itself looks at them.
CONFIG_FILE_NAMES = ("setup.cfg", "tox.ini", ".flake8")

RULES_URL = "https://www.flake8rules.com/rules/{code}.html"
_DOCUMENTED_CODE = re.compile(r"[EWF]\d{3}|C901")
_ERROR_CODE = re.compile(r"E9\d\d|F82[123]|F831|F63\d|F70\d")
# Codes whose column flake8 reports as the 1-based offset of a SyntaxError.
_SYNTAX_ERROR_CODES = frozenset({"E999"})
# Codes that are about the rest of the line from their column on.
_REST_OF_LINE_CODES = frozenset({"E501", "W505"})
_QUOTED_NAME = re.compile(r"'([^'\n]+)'")
_TOKEN_AT = re.compile(r"\w+|[^\w\s]+|\s+")

ConfigStamp = tuple[tuple[str, int, int], ...]

# The token plugins whose results over a block of whole top-level statements depend only on
# the block's lines, the checker's state where the block starts, the line before it and the
# lines `blank_lines`' one-liner test reads after it (all kept with the block), and whether
# it is the first block (E501 spares a shebang on line 1). Read from pycodestyle 2.15.0's
# checks; the parameters a plugin asks for must be exactly these, or every check runs.
# W391/W292 compare with the file's last line: the last block is never replayed.
_SEGMENTABLE_PLUGINS = {
    ("pycodestyle", "E"): frozenset({
        "blank_before", "blank_lines", "checker_state", "hang_closing", "indent_char",
        "indent_level", "indent_size", "line_number", "lines", "logical_line",
        "max_doc_length", "noqa", "previous_indent_level", "previous_logical",
        "previous_unindented_logical_line", "tokens", "verbose"}),
    ("pycodestyle", "W"): frozenset({
        "indent_char", "line_number", "lines", "max_line_length", "multiline", "noqa",
        "physical_line", "total_lines"}),
}
_setup_serials = itertools.count(1)


@dataclass(frozen=True)
class _Flake8Setup:
    """flake8's plugins and options for one project, parsed once and reused for every check."""

    stamp: ConfigStamp
    config_path: Path | None
    checkers: finder.Checkers
    options: argparse.Namespace
    guide: StyleGuideManager
    # Plugins that check the AST report columns as ast does: UTF-8 byte offsets.
    byte_column_prefixes: tuple[str, ...]
    # Unique per setup in this process: cached results are only replayed under the options and
    # plugins that made them.
    serial: int = 0
    # Whether the token plugins are the ones whose results can be replayed per block.
    segmentable: bool = False


_setups: dict[Path | None, _Flake8Setup | tuple[ConfigStamp, HearthError]] = {}
_setups_lock = threading.Lock()


class _TextFileChecker(checker.FileChecker):
    """flake8's per-file checker, fed the given lines instead of reading the file from disk."""

    def __init__(
        self,
        *,
        lines: list[str],
        filename: str,
        plugins: finder.Checkers,
        options: argparse.Namespace,
    ) -> None:
        self._lines = lines
        super().__init__(filename=filename, plugins=plugins, options=options)

    def _make_processor(self) -> processor.FileProcessor:
        return processor.FileProcessor(self.filename, self.options, lines=list(self._lines))


# ---------------------------------------------------------------------------------------------
# Replaying the token checks per block of statements


@dataclass(frozen=True)
class _Segment:
    """What the token checks reported over one block, and the checker's state after it."""

    # (code, line relative to the block's first line, column, text, the noqa line)
    results: tuple[tuple[str, int, int, str, str | None], ...]
    exit_state: tuple
    # The lines just before and after the block that pycodestyle's blank-line checks read,
    # and whether they read to the start or the end of the file.
    before: tuple[str, ...]
    to_start: bool
    after: tuple[str, ...]
    to_end: bool


SegmentCache = BoundedCache[_Segment]


class _SegmentsDiverged(Exception):
    """The tokens did not end a block where its statements end: check the file afresh."""


class _BlockProcessor(processor.FileProcessor):
    """A processor that notes where each block of statements ends when it parses the file."""

    block_ends: list[int] | tuple[()] = ()

    def build_ast(self) -> ast.AST:
        tree = super().build_ast()
        self.block_ends = block_ends(tree)
        return tree


def block_ends(tree: ast.AST) -> list[int]:
    """The last line (1-based) of each block, in order: a group of top-level statements, or,
    in a top-level class, of the statements of its body. Statements that share a line
    (``a = 1; b = 2``) are one group."""
    ends: list[int] = []

    def add(statement: ast.stmt) -> bool:
        first = min([statement.lineno,
                     *(d.lineno for d in getattr(statement, "decorator_list", ()))])
        last = statement.end_lineno or statement.lineno
        if ends and first <= ends[-1]:
            ends[-1] = max(ends[-1], last)
            return False
        ends.append(last)
        return True

    for statement in getattr(tree, "body", ()):
        if add(statement) and isinstance(statement, ast.ClassDef):
            ends.pop()
            for inner in statement.body:
                add(inner)
            if not ends or ends[-1] < (statement.end_lineno or statement.lineno):
                ends.append(statement.end_lineno or statement.lineno)
    return ends


class _SegmentedFileChecker(_TextFileChecker):
    """flake8's token loop, replaying the results of a known block instead of checking it.

    A block ends with the NEWLINE token of its last statement (see ``block_ends``); the lines
    after the last block's predecessor are always checked (W391 and W292 look at the file's
    end). A replayed block's tokens are still read, since the tokenizer's state runs through
    the file, but no check runs on them, and the processor is left in the state that checking
    them left before. The tokens are flake8's own list of the file's tokens (it makes one for
    ``# noqa`` anyway), read as its tokenizer would have yielded them: one tokenizing, not two.
    """

    def __init__(self, *, cache: SegmentCache, serial: int, **kwargs) -> None:
        self._cache = cache
        self._serial = serial
        # (line_number, indent level) of each def, class or decorator logical line of the block
        self._definitions: list[tuple[int, int]] = []
        super().__init__(**kwargs)

    def _make_processor(self) -> processor.FileProcessor:
        return _BlockProcessor(self.filename, self.options, lines=list(self._lines))

    def run_logical_checks(self) -> None:
        super().run_logical_checks()
        fp = self.processor
        assert fp is not None
        if STARTSWITH_TOP_LEVEL_REGEX.match(fp.logical_line):
            # pycodestyle's blank-line checks read lines around these, perhaps past the block.
            self._definitions.append((fp.line_number, fp.indent_level))

    def _tokens(self) -> Iterator[tokenize.TokenInfo]:
        """``processor.generate_tokens()``, from the processor's list of the file's tokens.

        flake8's tokenizer reads the file a line at a time through the processor, so when it
        yields a token it has read up to the token's last line: that is ``line_number``, and
        ``indent_char`` is the first character of the first indented line read so far. If the
        file does not tokenize, its own generator runs, to fail where it fails.
        """
        fp = self.processor
        assert fp is not None
        try:
            file_tokens = fp.file_tokens
        except (tokenize.TokenError, SyntaxError):
            yield from fp.generate_tokens()
            return
        indented = next((index for index, line in enumerate(fp.lines)
                         if line[:1] in defaults.WHITESPACE), None)
        for token in file_tokens:
            if token.start[0] > fp.total_lines:
                break
            fp.line_number = min(token.end[0], fp.total_lines)
            if fp.indent_char is None and indented is not None and fp.line_number > indented:
                fp.indent_char = fp.lines[indented][0]
            fp.tokens.append(token)
            yield token

    def process_tokens(self) -> None:
        fp = self.processor
        assert isinstance(fp, _BlockProcessor)
        boundaries = fp.block_ends[:-1]
        if not boundaries:
            super().process_tokens()
            return
        indents: list[str] = []  # the tokenizer's indentation stack
        index, start, end = 0, 1, boundaries[0]
        key = self._key(start, end, indents)
        known = self._known(key, start, end)
        mark = len(self.results)
        self._definitions = []
        parens = 0
        prev_physical = ""
        for token in self._tokens():
            if token.type == tokenize.INDENT:
                indents.append(token.string)
            elif token.type == tokenize.DEDENT and indents:
                indents.pop()
            if index < len(boundaries) and token.start[0] > end:
                if known is not None:
                    raise _SegmentsDiverged
                index = len(boundaries)  # no block ended where expected: check the rest
            if known is not None:
                prev_physical = token.line
                if token.type != tokenize.NEWLINE or token.start[0] != end:
                    continue
                self._replay(known, start)
                parens = 0
            else:
                # flake8's own loop (FileChecker.process_tokens)
                self.statistics["tokens"] += 1
                self.check_physical_eol(token, prev_physical)
                token_type, text = token[0:2]
                if token_type == tokenize.OP:
                    parens = processor.count_parentheses(parens, text)
                elif parens == 0:
                    if processor.token_is_newline(token):
                        self.handle_newline(token_type)
                prev_physical = token[4]
                if not (index < len(boundaries) and token_type == tokenize.NEWLINE
                        and parens == 0 and token.start[0] == end):
                    continue
                if key is not None and not fp.tokens:
                    self._store(key, start, end, mark)
            # A block ended: the next one starts on the following line.
            index += 1
            start = end + 1
            key = known = None
            if index < len(boundaries):
                end = boundaries[index]
                key = self._key(start, end, indents)
                known = self._known(key, start, end)
            mark = len(self.results)
            self._definitions = []

        if fp.tokens:
            self.run_physical_checks(fp.lines[-1])
            self.run_logical_checks()

    # -- the state a block starts and ends in

    def _state(self) -> tuple | None:
        fp = self.processor
        assert fp is not None
        try:
            states = tuple(sorted(
                (name, tuple(sorted(state.items())))
                for name, state in fp._checker_states.items()))
            hash(states)
        except TypeError:  # a plugin keeps state that is not plain values: no replay
            return None
        return (fp.blank_before, fp.blank_lines, fp.indent_level, fp.previous_indent_level,
                fp.previous_logical, fp.previous_unindented_logical_line, fp.logical_line,
                states)

    def _key(self, start: int, end: int, indents: list[str]) -> tuple | None:
        state = self._state()
        if state is None:
            return None
        fp = self.processor
        assert fp is not None
        # logical_line is rebuilt before any check reads it; indent_char and the indentation
        # stack (the DEDENT tokens the block starts with) are the tokenizer's.
        return (self._serial, "".join(fp.lines[start - 1:end]), start == 1, state[:6],
                state[7], fp.indent_char, tuple(indents))

    def _known(self, key: tuple | None, start: int, end: int) -> _Segment | None:
        if key is None:
            return None
        known = self._cache.get(key)
        if known is None:
            return None
        assert self.processor is not None
        lines = self.processor.lines
        first = start - 1 - len(known.before)
        if first < 0 or tuple(lines[first:start - 1]) != known.before or (
                known.to_start and first != 0):
            return None
        if tuple(lines[end:end + len(known.after)]) != known.after or (
                known.to_end and len(lines) != end + len(known.after)):
            return None
        return known

    def _store(self, key: tuple, start: int, end: int, mark: int) -> None:
        results = self.results[mark:]
        if any(not start <= line <= end for _, line, _, _, _ in results):
            return
        exit_state = self._state()
        if exit_state is None:
            return
        assert self.processor is not None
        lines = self.processor.lines
        low, high = start - 1, end - 1  # the 0-based lines read
        to_start = to_end = False
        for line_number, indent_level in self._definitions:
            first, reached_start = _blank_lines_reach_back(lines, line_number, indent_level)
            last, reached_end = _one_liner_reach(lines, line_number)
            if first < low:
                low = first
            if last > high:
                high = last
            to_start, to_end = to_start or reached_start, to_end or reached_end
        self._cache.put(key, _Segment(
            results=tuple((code, line - start, column, text, physical)
                          for code, line, column, text, physical in results),
            exit_state=exit_state, before=tuple(lines[low:start - 1]), to_start=to_start,
            after=tuple(lines[end:high + 1]), to_end=to_end))

    def _replay(self, known: _Segment, start: int) -> None:
        fp = self.processor
        assert fp is not None
        (fp.blank_before, fp.blank_lines, fp.indent_level, fp.previous_indent_level,
         fp.previous_logical, fp.previous_unindented_logical_line, fp.logical_line,
         states) = known.exit_state
        fp._checker_states = {name: dict(items) for name, items in states}
        fp.tokens = []
        self.results.extend((code, line + start, column, text, physical)
                            for code, line, column, text, physical in known.results)


def _blank_lines_reach_back(lines: list[str], line_number: int,
                            indent_level: int) -> tuple[int, bool]:
    """The first line (0-based) pycodestyle's ``blank_lines`` may read before a def, class or
    decorator logical line ending on ``line_number``, and whether it reads to the file's
    start: ``_is_one_liner`` reads the line before, E301/E306 search back for an ancestor."""
    first = max(line_number - 2, 0)
    if not indent_level:
        return first, line_number - 2 < 0
    ancestor_level = indent_level
    for index in range(line_number - 2, -1, -1):
        line = lines[index]
        if line.strip() and expand_indent(line) < ancestor_level:
            ancestor_level = expand_indent(line)
            if STARTSWITH_DEF_REGEX.match(line.lstrip()) or ancestor_level == 0:
                return index, False
    return 0, True


def _one_liner_reach(lines: list[str], line_number: int) -> tuple[int, bool]:
    """The last line (0-based) pycodestyle's ``_is_one_liner`` may read for a def, class or
    decorator logical line that ends on ``line_number``, and whether it reads to the end of
    the file. It looks for the def line at or after the logical line's last line, then for
    the next non-blank line after that."""
    index = line_number - 1
    while index < len(lines):
        text = lines[index].strip()
        if not text.startswith("@") and STARTSWITH_TOP_LEVEL_REGEX.match(text):
            break
        index += 1
    else:
        return len(lines) - 1, True
    index += 1
    while index < len(lines):
        if lines[index].strip():
            return index, False
        index += 1
    return len(lines) - 1, True


def _segmentable(checkers: finder.Checkers) -> bool:
    token_plugins = [*checkers.logical_line, *checkers.physical_line]
    return all(
        _SEGMENTABLE_PLUGINS.get((plugin.plugin.package, plugin.entry_name))
        == frozenset(plugin.parameters)
        for plugin in token_plugins)


def run_flake8(
    source: str, filename: str | Path, project_root: Path | None = None, *,
    cache: SegmentCache | None = None,
) -> list[Finding]:
    """Lint ``source`` as if it were the contents of ``filename``.

    The configuration is the ``[flake8]`` section of ``setup.cfg``, ``tox.ini`` or ``.flake8``
    in ``project_root`` (the first that has one, as flake8 chooses), parsed once and re-read
    when one of those files changes; with no ``project_root``, flake8's defaults. A relative
    ``filename`` is taken relative to ``project_root``; it decides per-file-ignores, and a file
    the configuration excludes gets no findings. Raises HearthError if the configuration is
    invalid. ``cache``: replay the token checks of unchanged blocks from it (the results are
    the same as without it).
    """
    project_root = Path(project_root) if project_root is not None else None
    setup = _setup_for(project_root)
    path = _absolute_path(filename, project_root)
    if _is_excluded(path, setup.options, project_root):
        logger.debug("%s is excluded by the flake8 configuration", path)
        return []
    lines = source_lines(without_lone_surrogates(source))
    try:
        results = _check(lines, path, setup, cache)
    except exceptions.PluginExecutionFailed as failure:
        logger.warning("flake8 could not check %s: %s", path, failure)
        return []
    except RecursionError:
        # Python's own parser gives up on such code too, so it cannot run: a syntax error.
        results = [("E999", 1, 1, "RecursionError: the code is nested too deeply to parse", None)]
    except (ValueError, MemoryError) as error:
        # flake8 builds the tree outside its plugins' guard, so what compile() refuses there
        # escapes it. Reported as the error it is: raising would stop the document's
        # diagnostics without a word.
        logger.warning("flake8 could not check %s: %r", path, error)
        results = [("E902", 1, 0, f"{type(error).__name__}: {error}"[:300], None)]
    findings = [
        _to_finding(code, line_number, column, text, lines, setup)
        for code, line_number, column, text, physical_line in results
        if _is_reported(setup, path, code, line_number, column, text, physical_line, lines)
    ]
    return sorted(findings, key=lambda f: (f.line, f.column, f.code))


def _check(lines: list[str], path: str, setup: _Flake8Setup,
           cache: SegmentCache | None) -> list[tuple]:
    """flake8's results for ``lines``: (code, line, column, text, noqa line)."""
    arguments = dict(lines=lines, filename=path, plugins=setup.checkers, options=setup.options)
    if cache is not None and setup.segmentable:
        try:
            _, results, _ = _SegmentedFileChecker(
                cache=cache, serial=setup.serial, **arguments).run_checks()
            return results
        except _SegmentsDiverged:
            logger.warning("flake8's tokens of %s did not follow its statements; checked "
                           "afresh", path)
    _, results, _ = _TextFileChecker(**arguments).run_checks()
    return results


def _setup_for(project_root: Path | None) -> _Flake8Setup:
    root = project_root.resolve() if project_root is not None else None
    stamp = _config_stamp(root)
    with _setups_lock:
        cached = _setups.get(root)
        if isinstance(cached, _Flake8Setup) and cached.stamp == stamp:
            return cached
        if isinstance(cached, tuple) and cached[0] == stamp:
            raise cached[1]
        try:
            setup = _build_setup(root, stamp)
        except HearthError as error:
            _setups[root] = (stamp, error)
            raise
        _setups[root] = setup
        return setup


def _config_stamp(root: Path | None) -> ConfigStamp:
    if root is None:
        return ()
    stamp = []
    for name in CONFIG_FILE_NAMES:
        try:
            status = (root / name).stat()
        except OSError:
            continue
        stamp.append((name, status.st_mtime_ns, status.st_size))
    return tuple(stamp)


def _find_config(root: Path | None) -> Path | None:
    if root is None:
        return None
    for name in CONFIG_FILE_NAMES:
        candidate = root / name
        if not candidate.is_file():
            continue
        parser = configparser.RawConfigParser()
        try:
            parser.read(candidate, encoding="utf-8")
        except (UnicodeDecodeError, configparser.Error) as error:
            # flake8 skips a config file it cannot parse while looking for one; so do we.
            logger.warning("Ignoring unreadable flake8 configuration %s: %s", candidate, error)
            continue
        if parser.has_section("flake8") or parser.has_section("flake8:local-plugins"):
            return candidate
    return None


def _build_setup(root: Path | None, stamp: ConfigStamp) -> _Flake8Setup:
    config_path = _find_config(root)
    argv: Sequence[str] = ["--config", str(config_path)] if config_path else ["--isolated"]
    logger.info("Loading flake8 configuration from %s", config_path or "flake8's defaults")
    try:
        plugins, options = parse_args(argv)
        if config_path is not None:
            _anchor_per_file_ignores(options, config_path.parent)
        guide = StyleGuideManager(options, reporter.make(plugins.reporters, options))
    except SystemExit as exit_:
        # argparse exits on an option value it cannot convert.
        raise _config_error(config_path, f"flake8 rejected an option (exit {exit_.code})")
    except (exceptions.Flake8Exception, configparser.Error, ValueError, OSError) as error:
        raise _config_error(config_path, str(error))
    byte_column_prefixes = tuple(plugin.entry_name for plugin in plugins.checkers.tree)
    return _Flake8Setup(
        stamp=stamp,
        config_path=config_path,
        checkers=plugins.checkers,
        options=options,
        guide=guide,
        byte_column_prefixes=byte_column_prefixes,
        serial=next(_setup_serials),
        segmentable=_segmentable(plugins.checkers),
    )


def _anchor_per_file_ignores(options: argparse.Namespace, config_dir: Path) -> None:
    """Make per-file-ignores paths relative to the config file's folder.

    flake8 resolves them against the working directory, which is the project root when flake8
    runs from the command line but not inside a language server serving several projects.
    """
    mapping = utils.parse_files_to_codes_mapping(options.per_file_ignores)
    options.per_file_ignores = "\n".join(
        f"{utils.normalize_path(pattern, str(config_dir))}:{','.join(codes)}"
        for pattern, codes in mapping
    )


def _config_error(config_path: Path | None, detail: str) -> HearthError:
    where = str(config_path) if config_path else "flake8's default configuration"
    return HearthError(
        f"The flake8 configuration in {where} is invalid: {detail}",
        hint="Fix the [flake8] section (run `flake8` in the project to see the same error).",
    )


def _absolute_path(filename: str | Path, project_root: Path | None) -> str:
    path = Path(filename)
    if not path.is_absolute() and project_root is not None:
        path = project_root / path
    return os.path.abspath(path)


def _is_excluded(path: str, options: argparse.Namespace, project_root: Path | None) -> bool:
    """Whether flake8 run over the project would skip this file (itself or a folder above it)."""
    patterns = [*options.exclude, *options.extend_exclude]
    file = Path(path)
    candidates = [file]
    root = Path(os.path.abspath(project_root)) if project_root is not None else None
    if root is not None and file.is_relative_to(root):
        candidates += [
            folder for folder in file.parents if folder.is_relative_to(root) and folder != root
        ]
    return any(
        utils.matches_filename(
            str(candidate),
            patterns=patterns,
            log_message='"%(path)s" has %(whether)sbeen excluded',
            logger=logger,
        )
        for candidate in candidates
    )


def _is_reported(
    setup: _Flake8Setup,
    path: str,
    code: str,
    line_number: int,
    column: int,
    text: str,
    physical_line: str | None,
    lines: list[str],
) -> bool:
    """Apply select/ignore, per-file-ignores and ``# noqa`` as flake8's style guide does."""
    guide = setup.guide.style_guide_for(path)
    if guide.should_report_error(code) is not Decision.Selected:
        return False
    if physical_line is None:
        # flake8 would read the line from the file on disk, which may not hold this text.
        physical_line = lines[line_number - 1] if 0 < line_number <= len(lines) else ""
    violation = Violation(code, path, line_number, column + 1, text, physical_line)
    return not violation.is_inline_ignored(setup.options.disable_noqa)


def _to_finding(
    code: str, line_number: int, column: int, text: str, lines: list[str], setup: _Flake8Setup
) -> Finding:
    line = min(max(line_number - 1, 0), max(len(lines) - 1, 0))
    content = lines[line].rstrip("\r\n") if lines else ""
    if code in _SYNTAX_ERROR_CODES:
        column = column - 1
    elif code.startswith(setup.byte_column_prefixes):
        column = utf8_offset_to_column(content, column)
    column = min(max(column, 0), len(content))
    return Finding(
        code=code,
        message=text,
        line=line,
        column=column,
        end_line=line,
        end_column=_end_column(code, text, content, column),
        severity=severity_for(code),
        source="flake8",
        url=rule_url(code),
    )


def _end_column(code: str, message: str, content: str, column: int) -> int:
    """Where the problem ends on its line; flake8 reports only where it starts."""
    if code in _REST_OF_LINE_CODES:
        return len(content)
    quoted = _QUOTED_NAME.search(message) if code.startswith("F") else None
    if quoted:
        # "'os.path as p' imported but unused" -> the name the source binds is the last word.
        name = quoted.group(1).split(" as ")[-1]
        for candidate in (name, name.rsplit(".", 1)[-1]):
            found = re.compile(rf"(?<!\w){re.escape(candidate)}(?!\w)").search(content, column)
            if found:
                return found.end()
    token = _TOKEN_AT.match(content, column)
    return token.end() if token else column


def severity_for(code: str) -> Severity:
    """The severity Hearth gives a flake8 code (see the module docstring)."""
    if _ERROR_CODE.fullmatch(code):
        return Severity.ERROR
    if code.startswith(("W", "C")):
        return Severity.INFORMATION
    return Severity.WARNING


def rule_url(code: str) -> str | None:
    """The flake8rules.com page for pycodestyle, pyflakes and mccabe codes; None for others."""
    return RULES_URL.format(code=code) if _DOCUMENTED_CODE.fullmatch(code) else None
