"""One workspace's analysis state: the diagnostics policy and jedi's view of its environment.

A Session owns one per workspace and invalidates it when the environment may have changed (a
virtualenv created or removed, the settings changed), so nothing here outlives what it reads.
"""

from __future__ import annotations

import ast
import logging
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from hearth.core.analysis.findings import Finding
from hearth.core.analysis.flake8_runner import SegmentCache, run_flake8
from hearth.core.analysis.security import scan
from hearth.core.errors import HearthError

log = logging.getLogger(__name__)
TREES_KEPT = 4  # the open documents' latest texts, roughly
# Blocks of top-level statements whose token-check results flake8 may replay: a
# 1,000-line module has about 100, so this holds a dozen such files' blocks with room
# for the versions typing leaves behind.
FLAKE8_BLOCKS_KEPT = 2048


@dataclass(frozen=True)
class DiagnosticsPolicy:
    """Which analysers the user wants, and the security rules they turned off."""

    flake8: bool = True
    security: bool = True
    disabled_rules: tuple[str, ...] = ()
    # The severity of security findings in test code (security_testcode.py says what is).
    security_in_tests: str = "hint"

    def enabled(self, code: str) -> bool:
        return code not in self.disabled_rules


class AnalysisContext:
    """flake8, the security rules and jedi for one workspace (None: a loose file).

    jedi's project and its environment's search path are read once and kept until
    ``invalidate``; a jedi Script is kept only for the latest source (parso's diff parser
    updates a cached tree in place, so an older Script would go stale). Thread-safe: the
    inference thread and a warm-up may both use it.
    """

    def __init__(self, workspace: Path | None = None,
                 policy: DiagnosticsPolicy | None = None) -> None:
        self.workspace = workspace
        self.policy = policy or DiagnosticsPolicy()
        # jedi's state; held through slow work (a jedi inference in `memo`, the environment's
        # sys.path), so the parse cache has a lock of its own: a code action list waiting
        # for it behind the warm-up's inference took 0.5 s (docs/BENCHMARKS.md).
        self._lock = threading.RLock()
        self._trees_lock = threading.Lock()
        self._project = None
        self._search_path: tuple[str, ...] | None = None
        self._script_key: tuple | None = None
        self._script = None
        self._memo: dict[tuple, object] = {}  # per-generation answers (a return type, ...)
        self._trees: OrderedDict[str, ast.Module | None] = OrderedDict()
        # flake8's token checks per unchanged block of statements (flake8_runner says how)
        self.flake8_blocks = SegmentCache(FLAKE8_BLOCKS_KEPT)

    # -- diagnostics --------------------------------------------------------------------------
    def diagnostics(self, source: str, path: Path | None,
                    on_flake8_error: Callable[[HearthError], None] | None = None,
                    ) -> list[Finding]:
        """flake8 and the security rules as the policy asks. A broken flake8 configuration
        raises HearthError, or is passed to ``on_flake8_error`` and the security rules still
        run."""
        findings: list[Finding] = []
        if self.policy.flake8:
            try:
                findings += run_flake8(source, path or Path("untitled.py"), self.workspace,
                                       cache=self.flake8_blocks)
            except HearthError as exc:
                if on_flake8_error is None:
                    raise
                on_flake8_error(exc)
        if self.policy.security:
            # Relative to the workspace: a workspace inside a folder named tests is not all
            # test code.
            where = path
            if path is not None and self.workspace is not None \
                    and path.is_relative_to(self.workspace):
                where = path.relative_to(self.workspace)
            findings += scan(source, disabled=[r for r in self.policy.disabled_rules
                                               if r.startswith("HS")],
                             path=where, test_severity=self.policy.security_in_tests)
        return findings

    # -- parsing ------------------------------------------------------------------------------
    def parse(self, source: str) -> ast.Module | None:
        """The tree of ``source`` (None if it does not parse), kept for the few latest texts:
        every code action request lists four actions on the same text, and parsing a
        2,000-line file takes about 20 ms. Read it, never change it."""
        with self._trees_lock:
            if source in self._trees:
                self._trees.move_to_end(source)
                return self._trees[source]
        try:
            tree = ast.parse(source)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            tree = None
        with self._trees_lock:
            self._trees[source] = tree
            while len(self._trees) > TREES_KEPT:
                self._trees.popitem(last=False)
        return tree

    # -- jedi ---------------------------------------------------------------------------------
    def jedi_project(self):
        import jedi

        with self._lock:
            if self._project is None and self.workspace is not None:
                self._project = jedi.Project(self.workspace)
            return self._project

    def script(self, source: str, path: Path):
        import jedi

        with self._lock:
            key = (source, path)
            if self._script_key != key:
                self._script = jedi.Script(source, path=path, project=self.jedi_project())
                self._script_key = key
            return self._script

    def search_path(self) -> tuple[str, ...]:
        """Where the workspace's interpreter finds modules: the workspace root, then the
        sys.path of the environment jedi picks for it (its virtualenv, else this one)."""
        with self._lock:
            if self._search_path is None:
                paths = [str(self.workspace)] if self.workspace is not None else []
                try:
                    project = self.jedi_project()
                    environment = project.get_environment() if project is not None else None
                    paths += list(environment.get_sys_path()) if environment is not None \
                        else sys.path
                except Exception:  # noqa: BLE001 - a broken virtualenv must not break checks
                    log.warning("Could not read the workspace's Python environment",
                                exc_info=True)
                    paths += sys.path
                self._search_path = tuple(dict.fromkeys(p for p in paths if p))
            return self._search_path

    def memo(self, key: tuple, compute):
        """``compute()`` once per key until ``invalidate`` (answers about one source text,
        shared by the candidates of a request)."""
        with self._lock:
            if key not in self._memo:
                if len(self._memo) > 256:
                    self._memo.clear()
                self._memo[key] = compute()
            return self._memo[key]

    def invalidate(self) -> None:
        """Forget the environment: a virtualenv appeared or went, or the settings changed."""
        with self._lock:
            self._project = None
            self._search_path = None
            self._script_key = self._script = None
            self._memo.clear()
            self.flake8_blocks.clear()
        with self._trees_lock:
            self._trees.clear()
