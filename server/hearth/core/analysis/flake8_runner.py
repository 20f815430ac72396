"""Run flake8 in-process on a source text (the editor's buffer, saved or not, or generated code)
with the project's own flake8 configuration, and report what it finds as `Finding`s.

Severity mapping (flake8 itself has none):

* ``error``: code that cannot run -- syntax errors (E9xx, E999), undefined names (F821, F822,
  F823), duplicate arguments (F831), ``is``/assert/if/print misuse that is always wrong (F63x),
  and statements outside their context that Python rejects at compile time (F70x);
* ``warning``: every other pyflakes (F) and pycodestyle error (E) code, and codes from other
  plugins (they usually report likely bugs);
* ``information``: pycodestyle warnings (W) and complexity or convention codes (C, e.g. C901).
"""

from __future__ import annotations

import argparse
import configparser
import logging
import os
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from flake8 import checker, exceptions, processor, utils
from flake8.options.parse_args import parse_args
from flake8.plugins import finder, reporter
from flake8.style_guide import Decision, StyleGuideManager
from flake8.violation import Violation

from hearth.core.analysis.findings import Finding, Severity, source_lines, utf8_offset_to_column
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


def run_flake8(
    source: str, filename: str | Path, project_root: Path | None = None
) -> list[Finding]:
    """Lint ``source`` as if it were the contents of ``filename``.

    The configuration is the ``[flake8]`` section of ``setup.cfg``, ``tox.ini`` or ``.flake8``
    in ``project_root`` (the first that has one, as flake8 chooses), parsed once and re-read
    when one of those files changes; with no ``project_root``, flake8's defaults. A relative
    ``filename`` is taken relative to ``project_root``; it decides per-file-ignores, and a file
    the configuration excludes gets no findings. Raises HearthError if the configuration is
    invalid.
    """
    project_root = Path(project_root) if project_root is not None else None
    setup = _setup_for(project_root)
    path = _absolute_path(filename, project_root)
    if _is_excluded(path, setup.options, project_root):
        logger.debug("%s is excluded by the flake8 configuration", path)
        return []
    lines = source_lines(_without_lone_surrogates(source))
    file_checker = _TextFileChecker(
        lines=lines, filename=path, plugins=setup.checkers, options=setup.options
    )
    try:
        _, results, _ = file_checker.run_checks()
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


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _without_lone_surrogates(source: str) -> str:
    """``source`` with each lone surrogate (which a client's JSON can carry, and which no
    UTF-8 file can hold) as U+FFFD: compile() refuses the text otherwise. One code point for
    one, and the same length in UTF-8 and UTF-16, so every position stays where it was."""
    return _LONE_SURROGATE.sub("\ufffd", source) if _LONE_SURROGATE.search(source) else source


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
