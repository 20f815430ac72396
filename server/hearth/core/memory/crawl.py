"""Find the workspace files worth indexing: honour .gitignore and excludes, skip vendored
folders, secrets, binaries, oversized and minified files, and never loop or run unbounded."""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from hearth.core.errors import HearthError
from hearth.core.memory.settings import (
    GENERATED_FILES,
    SECRET_FILES,
    VENDORED_DIRS,
    IndexSettings,
)

if TYPE_CHECKING:
    import pathspec

logger = logging.getLogger(__name__)

_BINARY_SNIFF_BYTES = 8192
_CANCEL_CHECK_EVERY = 256


@dataclass(frozen=True)
class CrawledFile:
    """A candidate file: its workspace-relative POSIX path, absolute path and stat facts."""

    rel_path: str
    path: Path
    size: int
    mtime_ns: int


@dataclass
class _IgnoreScope:
    """A .gitignore file's rules, which apply below the folder that holds it."""

    prefix: str
    spec: pathspec.PathSpec

    def ignores(self, rel_path: str, is_dir: bool) -> bool:
        if not rel_path.startswith(self.prefix):
            return False
        local = rel_path[len(self.prefix):]
        return self.spec.match_file(local + "/" if is_dir else local)


class IgnoreRules:
    """Every reason a path is left out: built-in lists, the user's excludes and .gitignore."""

    def __init__(self, settings: IndexSettings) -> None:
        import pathspec  # loaded with the first index, not with the server

        builtin = [f"{name}/" for name in VENDORED_DIRS]
        builtin += list(SECRET_FILES) + list(GENERATED_FILES)
        self._builtin = pathspec.GitIgnoreSpec.from_lines(builtin)
        self._user = pathspec.GitIgnoreSpec.from_lines(settings.exclude)
        self._honour_gitignore = settings.honour_gitignore

    def excludes(self, root: Path, rel_path: str) -> bool:
        """Decide for one file, as the walk would: check every folder on the way down."""
        parts = rel_path.split("/")
        scopes: list[_IgnoreScope] = []
        for depth in range(len(parts)):
            rel_folder = "/".join(parts[:depth])
            scope = self.scope_for(root / rel_folder if rel_folder else root, rel_folder)
            if scope is not None:
                scopes.append(scope)
            is_dir = depth < len(parts) - 1
            if self.ignores("/".join(parts[: depth + 1]), is_dir, scopes):
                return True
        return False

    def ignores(self, rel_path: str, is_dir: bool, scopes: list[_IgnoreScope]) -> bool:
        probe = rel_path + "/" if is_dir else rel_path
        if self._builtin.match_file(probe) or self._user.match_file(probe):
            return True
        return any(scope.ignores(rel_path, is_dir) for scope in scopes)

    def scope_for(self, folder: Path, rel_folder: str) -> _IgnoreScope | None:
        if not self._honour_gitignore:
            return None
        gitignore = folder / ".gitignore"
        try:
            lines = gitignore.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            return None
        import pathspec

        prefix = f"{rel_folder}/" if rel_folder else ""
        return _IgnoreScope(prefix, pathspec.GitIgnoreSpec.from_lines(lines))


def crawl(
    root: Path,
    settings: IndexSettings,
    cancel: Callable[[], bool] | None = None,
) -> list[CrawledFile]:
    """Walk ``root`` without following symlinks and return the files to consider, sorted.

    The walk stops (with a warning) after ``settings.max_files`` candidates and whenever
    ``cancel()`` turns true, so a huge or looping tree cannot hang the caller.
    """
    rules = IgnoreRules(settings)
    found: list[CrawledFile] = []
    for entry in _walk(root.resolve(), rules, settings, cancel):
        found.append(entry)
        if len(found) >= settings.max_files:
            logger.warning(
                "Stopped crawling %s after %d files (max_files); raise index.maxFiles or "
                "exclude folders to index the rest.", root, settings.max_files,
            )
            break
    found.sort(key=lambda item: item.rel_path)
    return found


def _walk(
    root: Path,
    rules: IgnoreRules,
    settings: IndexSettings,
    cancel: Callable[[], bool] | None,
) -> Iterator[CrawledFile]:
    root_scope = rules.scope_for(root, "")
    pending: list[tuple[Path, str, list[_IgnoreScope]]] = [
        (root, "", [root_scope] if root_scope else [])
    ]
    seen_dirs: set[tuple[int, int]] = set()
    visited = 0
    while pending:
        folder, rel_folder, scopes = pending.pop()
        try:
            folder_stat = folder.stat()
        except OSError:
            continue
        identity = (folder_stat.st_dev, folder_stat.st_ino)
        if identity in seen_dirs:
            continue
        seen_dirs.add(identity)
        try:
            entries = sorted(os.scandir(folder), key=lambda item: item.name)
        except OSError as exc:
            logger.debug("Cannot list %s: %s", folder, exc)
            continue
        for entry in entries:
            visited += 1
            if cancel is not None and visited % _CANCEL_CHECK_EVERY == 0 and cancel():
                return
            rel_path = f"{rel_folder}/{entry.name}" if rel_folder else entry.name
            candidate = _classify(entry, rel_path, rules, scopes, settings)
            if candidate == "dir":
                sub_scope = rules.scope_for(Path(entry.path), rel_path)
                pending.append(
                    (Path(entry.path), rel_path, scopes + [sub_scope] if sub_scope else scopes)
                )
            elif isinstance(candidate, CrawledFile):
                yield candidate


def _classify(
    entry: os.DirEntry[str],
    rel_path: str,
    rules: IgnoreRules,
    scopes: list[_IgnoreScope],
    settings: IndexSettings,
) -> CrawledFile | str | None:
    """Say whether ``entry`` is a folder to descend into, a candidate file, or skipped."""
    try:
        # Symlinks are skipped outright: a linked folder can loop, a linked file can point
        # outside the workspace (or at a secret).
        if entry.is_symlink():
            return None
        entry_stat = entry.stat(follow_symlinks=False)
    except OSError:
        return None
    is_dir = stat.S_ISDIR(entry_stat.st_mode)
    if not is_dir and not stat.S_ISREG(entry_stat.st_mode):
        return None
    if rules.ignores(rel_path, is_dir, scopes):
        return None
    if is_dir:
        return "dir"
    if entry_stat.st_size > settings.max_file_bytes or entry_stat.st_size == 0:
        return None
    return CrawledFile(rel_path, Path(entry.path), entry_stat.st_size, entry_stat.st_mtime_ns)


def decode_indexable(data: bytes, settings: IndexSettings) -> str | None:
    """Return the text of a file worth indexing, or None for binary, minified or generated
    content (a NUL byte, undecodable UTF-8, or a mean line length over the limit)."""
    if len(data) > settings.max_file_bytes or b"\x00" in data[:_BINARY_SNIFF_BYTES]:
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    lines = text.splitlines()
    if not lines or not text.strip():
        return None
    if len(text) / len(lines) > settings.max_mean_line_length:
        return None
    if _looks_generated(lines):
        return None
    return text


def _looks_generated(lines: list[str]) -> bool:
    head = "\n".join(lines[:5]).lower()
    return "@generated" in head or "do not edit" in head and "generated" in head


def read_indexable(path: Path, settings: IndexSettings) -> str | None:
    """Read ``path`` and apply :func:`decode_indexable`; unreadable files give None."""
    try:
        with path.open("rb") as handle:
            data = handle.read(settings.max_file_bytes + 1)
    except OSError as exc:
        logger.debug("Cannot read %s: %s", path, exc)
        return None
    return decode_indexable(data, settings)


def relative_path(root: Path, path: Path) -> str:
    """``path`` (absolute, or relative to ``root``) as a POSIX path relative to ``root``;
    "" for the root itself. Raises HearthError for a path outside it."""
    candidate = Path(path)
    if not candidate.is_absolute():
        candidate = root / candidate
    try:
        relative = candidate.resolve().relative_to(root)
    except ValueError as exc:
        raise HearthError(
            f"{path} is outside the indexed workspace {root}.",
            "Index the workspace folder that contains it.",
        ) from exc
    return relative.as_posix() if relative.parts else ""
