"""The history of one workspace's actions in SQLite: each request and its answer, what became
of the answer (applied, kept, undone) and what the user said of it.

One database file per workspace. Writes are one transaction each in WAL mode with
``synchronous=FULL``: a process killed mid-write loses at most the entry it was writing. The
schema carries its version in ``PRAGMA user_version`` and is migrated forward on open. A file
SQLite cannot read is set aside (renamed) and a new one is made, with a message for the user;
opening never raises for a corrupt file. Nothing here redacts: ``Entry`` texts are stored as
given, so the caller (core.history.recorder) redacts them first.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # sqlite3 is imported when the history is first opened, not at start-up
    import sqlite3

log = logging.getLogger(__name__)

# Each step takes the schema from version i to i + 1 (index i); version 0 is an empty file.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE entries (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        time REAL NOT NULL,
        action TEXT NOT NULL,
        file TEXT,
        target TEXT,
        source_hash TEXT NOT NULL,
        instruction TEXT,
        model TEXT,
        settings_hash TEXT NOT NULL,
        cache_key TEXT,
        title TEXT NOT NULL,
        confidence REAL,
        low_confidence INTEGER NOT NULL DEFAULT 0,
        reasons TEXT NOT NULL DEFAULT '[]',
        elapsed_s REAL NOT NULL,
        tokens INTEGER NOT NULL DEFAULT 0,
        target_text TEXT,
        answer TEXT,
        result TEXT,
        cached INTEGER NOT NULL DEFAULT 0,
        outcome TEXT,
        feedback TEXT,
        note TEXT,
        used TEXT NOT NULL DEFAULT '[]'
    );
    CREATE INDEX entries_by_key ON entries (cache_key);
    CREATE INDEX entries_by_action ON entries (action, time);
    CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
    """,
    # 2: what the user made of an applied answer by the next save (outcome "edited").
    """
    ALTER TABLE entries ADD COLUMN final TEXT;
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)
OUTCOMES = ("applied", "not applied", "kept", "edited", "undone")
RATINGS = ("good", "bad")


@dataclass
class Entry:
    """One action's request and answer. ``target_text``: what the action was asked about (the
    function or lines, redacted); ``answer``: the chosen answer's code or document (redacted);
    ``result``: what the response cache replays (JSON, redacted); ``used``: the ids of past
    answers the request was shown as examples; ``final``: the function as the user saved it,
    when they kept it with changes (outcome "edited", redacted)."""

    action: str
    title: str
    source_hash: str
    settings_hash: str
    elapsed_s: float
    file: str | None = None
    target: str | None = None
    instruction: str | None = None
    model: str | None = None
    cache_key: str | None = None
    confidence: float | None = None
    low_confidence: bool = False
    reasons: list[str] = field(default_factory=list)
    tokens: int = 0
    target_text: str | None = None
    answer: str | None = None
    result: dict[str, Any] | None = None
    cached: bool = False
    outcome: str | None = None
    feedback: str | None = None
    note: str | None = None
    used: list[int] = field(default_factory=list)
    final: str | None = None
    time: float = field(default_factory=time.time)
    id: int | None = None

    @property
    def accepted(self) -> bool:
        """The user kept it (or applied it, or said it was good) and never said it was bad."""
        if self.feedback is not None:
            return self.feedback == "good"
        return self.outcome in ("applied", "kept", "edited")

    @property
    def taught(self) -> str | None:
        """What the user ended with: their edited version, or the answer as it was."""
        return self.final or self.answer

    @property
    def rejected(self) -> bool:
        if self.feedback is not None:
            return self.feedback == "bad"
        return self.outcome == "undone"


_COLUMNS = ("time", "action", "file", "target", "source_hash", "instruction", "model",
            "settings_hash", "cache_key", "title", "confidence", "low_confidence", "reasons",
            "elapsed_s", "tokens", "target_text", "answer", "result", "cached", "outcome",
            "feedback", "note", "used", "final")


def _row_values(entry: Entry) -> tuple[Any, ...]:
    return (entry.time, entry.action, entry.file, entry.target, entry.source_hash,
            entry.instruction, entry.model, entry.settings_hash, entry.cache_key, entry.title,
            entry.confidence, int(entry.low_confidence), json.dumps(entry.reasons),
            entry.elapsed_s, entry.tokens, entry.target_text, entry.answer,
            json.dumps(entry.result) if entry.result is not None else None, int(entry.cached),
            entry.outcome, entry.feedback, entry.note, json.dumps(entry.used), entry.final)


def errors() -> tuple[type[Exception], ...]:
    """What a history operation may raise when the file cannot be read or written."""
    import sqlite3

    return (sqlite3.Error, OSError)


def _entry(row: sqlite3.Row) -> Entry:
    return Entry(
        id=row["id"], time=row["time"], action=row["action"], file=row["file"],
        target=row["target"], source_hash=row["source_hash"], instruction=row["instruction"],
        model=row["model"], settings_hash=row["settings_hash"], cache_key=row["cache_key"],
        title=row["title"], confidence=row["confidence"],
        low_confidence=bool(row["low_confidence"]), reasons=json.loads(row["reasons"]),
        elapsed_s=row["elapsed_s"], tokens=row["tokens"], target_text=row["target_text"],
        answer=row["answer"], result=json.loads(row["result"]) if row["result"] else None,
        cached=bool(row["cached"]), outcome=row["outcome"], feedback=row["feedback"],
        note=row["note"], used=json.loads(row["used"]), final=row["final"])


@dataclass(frozen=True)
class Retention:
    """How much history to keep: entries younger than ``max_age_days`` (0: any age), at most
    ``max_entries`` (the newest), whose texts come to at most ``max_megabytes`` (0: any)."""

    max_age_days: int = 90
    max_entries: int = 5000
    max_megabytes: float = 100


class HistoryStore:
    """The history database at ``path``, opened on first use, safe to share between threads
    (one connection, one lock: SQLite serialises writers anyway, and the history's writes are
    small). ``on_problem`` hears, in a sentence for the user, when a corrupt file was set
    aside or the database cannot be written."""

    def __init__(self, path: Path, retention: Retention = Retention(), *,
                 on_problem: Callable[[str], None] | None = None) -> None:
        self.path = path
        self.retention = retention
        self.on_problem = on_problem or (lambda message: log.warning("%s", message))
        self._lock = threading.RLock()
        self._db: sqlite3.Connection | None = None
        self._writes = 0

    # -- opening -----------------------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        import sqlite3

        if self._db is not None:
            return self._db
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = self._open_checked()
        except sqlite3.DatabaseError as exc:
            aside = self._set_aside()
            self.on_problem(f"Hearth's history at {self.path} could not be read ({exc}); it was "
                            f"moved to {aside.name} and a new history was started.")
            self._db = self._open_checked()
        return self._db

    def _open_checked(self) -> sqlite3.Connection:
        import sqlite3

        db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None,
                             timeout=5.0)
        try:
            db.row_factory = sqlite3.Row
            # Reading the header and checking the pages is what finds a damaged file.
            if db.execute("PRAGMA quick_check").fetchone()[0] != "ok":
                raise sqlite3.DatabaseError("the integrity check failed")
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            self._migrate(db)
        except BaseException:
            db.close()
            raise
        return db

    def _migrate(self, db: sqlite3.Connection) -> None:
        import sqlite3

        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise sqlite3.DatabaseError(
                f"schema version {version} is newer than this Hearth's {SCHEMA_VERSION}")
        for step in range(version, SCHEMA_VERSION):
            db.execute("BEGIN IMMEDIATE")
            try:
                for statement in _statements(MIGRATIONS[step]):
                    db.execute(statement)
                db.execute(f"PRAGMA user_version = {step + 1}")
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    def _set_aside(self) -> Path:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        aside = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
        for suffix in ("", "-wal", "-shm"):
            part = Path(str(self.path) + suffix)
            if part.exists():
                part.replace(Path(str(aside) + suffix))
        return aside

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            db = self._connect()
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    # -- writing -----------------------------------------------------------------------------
    def add(self, entry: Entry) -> int:
        """Store ``entry`` (one transaction) and return its id; old entries beyond the
        retention go every so often."""
        with self._transaction() as db:
            cursor = db.execute(
                f"INSERT INTO entries ({', '.join(_COLUMNS)}) "
                f"VALUES ({', '.join('?' for _ in _COLUMNS)})", _row_values(entry))
            entry.id = int(cursor.lastrowid or 0)
        self._writes += 1
        if self._writes % 50 == 1:
            self.prune()
        return entry.id

    def set_outcome(self, entry_id: int, outcome: str, final: str | None = None) -> bool:
        """What became of an answer; ``final``: the user's version (outcome "edited")."""
        if outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {', '.join(OUTCOMES)}, got {outcome!r}")
        with self._transaction() as db:
            return db.execute("UPDATE entries SET outcome = ?, final = ? WHERE id = ?",
                              (outcome, final, entry_id)).rowcount > 0

    def set_feedback(self, entry_id: int, rating: str, note: str | None = None) -> bool:
        """The user's word on an entry; False when there is no such entry."""
        if rating not in RATINGS:
            raise ValueError(f"rating must be good or bad, got {rating!r}")
        with self._transaction() as db:
            return db.execute("UPDATE entries SET feedback = ?, note = ? WHERE id = ?",
                              (rating, note, entry_id)).rowcount > 0

    def count(self, name: str, by: int = 1) -> None:
        """Add to a counter (the response cache's lookups and hits)."""
        with self._transaction() as db:
            db.execute("INSERT INTO counters (name, value) VALUES (?, ?) ON CONFLICT(name) "
                       "DO UPDATE SET value = value + excluded.value", (name, by))

    def prune(self, now: float | None = None) -> int:
        """Drop entries older than the retention's age and beyond its count; how many went."""
        now = time.time() if now is None else now
        with self._transaction() as db:
            gone = 0
            if self.retention.max_age_days > 0:
                cutoff = now - self.retention.max_age_days * 86400
                gone += db.execute("DELETE FROM entries WHERE time < ?", (cutoff,)).rowcount
            gone += db.execute(
                "DELETE FROM entries WHERE id NOT IN "
                "(SELECT id FROM entries ORDER BY time DESC, id DESC LIMIT ?)",
                (self.retention.max_entries,)).rowcount
            limit = self.retention.max_megabytes * 1_000_000
            cut = 0
            if limit > 0 and (db.execute(f"SELECT SUM({_SIZE}) FROM entries").fetchone()[0]
                              or 0) > limit:
                # Down to nine tenths, so that the file is compacted now and then, not at
                # every write once it is full.
                cut = db.execute(
                    "DELETE FROM entries WHERE id IN (SELECT id FROM (SELECT id, SUM(size) "
                    "OVER (ORDER BY time DESC, id DESC) AS kept FROM (SELECT id, time, "
                    f"{_SIZE} AS size FROM entries)) WHERE kept > ?)", (0.9 * limit,)).rowcount
        if cut:
            with self._lock:
                self._connect().execute("VACUUM")
        return gone + cut

    def clear(self) -> int:
        with self._transaction() as db:
            gone = db.execute("DELETE FROM entries").rowcount
            db.execute("DELETE FROM counters")
        with self._lock:
            self._connect().execute("VACUUM")
        return gone

    # -- reading -----------------------------------------------------------------------------
    def _select(self, where: str = "", args: tuple[Any, ...] = (), *,
                limit: int | None = None) -> list[Entry]:
        sql = "SELECT * FROM entries" + (f" WHERE {where}" if where else "") \
            + " ORDER BY time DESC, id DESC" + (" LIMIT ?" if limit is not None else "")
        with self._lock:
            rows = self._connect().execute(
                sql, args + ((limit,) if limit is not None else ())).fetchall()
        return [_entry(row) for row in rows]

    def get(self, entry_id: int) -> Entry | None:
        found = self._select("id = ?", (entry_id,))
        return found[0] if found else None

    def entries(self, *, action: str | None = None, limit: int | None = None) -> list[Entry]:
        """Newest first."""
        if action is not None:
            return self._select("action = ?", (action,), limit=limit)
        return self._select(limit=limit)

    def by_cache_key(self, key: str) -> Entry | None:
        """The newest answer stored under ``key`` that the user did not reject."""
        for entry in self._select("cache_key = ? AND result IS NOT NULL", (key,), limit=5):
            if not entry.rejected:
                return entry
        return None

    def judged(self, action: str, limit: int = 200) -> list[Entry]:
        """The newest answers of ``action`` the user accepted or rejected."""
        return self._select(
            "action = ? AND (feedback IS NOT NULL "
            "OR outcome IN ('applied', 'kept', 'edited', 'undone'))",
            (action,), limit=limit)

    def counter(self, name: str) -> int:
        with self._lock:
            row = self._connect().execute("SELECT value FROM counters WHERE name = ?",
                                          (name,)).fetchone()
        return int(row[0]) if row else 0

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None


# What an entry's texts take, in bytes: what the size limit counts.
_SIZE = " + ".join(f"COALESCE(LENGTH(CAST({column} AS BLOB)), 0)" for column in (
    "target_text", "answer", "result", "reasons", "instruction", "note", "final"))


def _statements(script: str) -> list[str]:
    """A migration's statements, one by one (``executescript`` would commit the
    transaction the migration runs in)."""
    return [part.strip() for part in script.split(";") if part.strip()]
