"""The guardrails' audit log: one JSON line per decision (time, action, rule, decision and a
hash of the text concerned), never source code or a secret."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import threading
from collections.abc import Iterable
from datetime import UTC, datetime
from logging.handlers import RotatingFileHandler
from pathlib import Path

import platformdirs

from hearth.core.guardrails.rules import GuardFinding

logger = logging.getLogger(__name__)

LOG_DIR_ENV = "HEARTH_LOG_DIR"
FILE_NAME = "audit.jsonl"
MAX_BYTES = 5 * 1024 * 1024
BACKUPS = 3
HASH_CHARS = 16

# Fields are identifiers that Hearth itself chooses; anything else is hashed rather than written,
# so a caller's mistake cannot put code or a secret in the log.
_SAFE_FIELD = re.compile(r"[\w.:/-]{1,64}")
_HEX = re.compile(r"[0-9a-f]{8,64}")


def default_audit_path() -> Path:
    """``$HEARTH_LOG_DIR/audit.jsonl`` if set, else the platform's user log folder for hearth."""
    override = os.environ.get(LOG_DIR_ENV)
    folder = Path(override).expanduser() if override else platformdirs.user_log_path(
        "hearth", appauthor=False)
    return folder / FILE_NAME


def subject_digest(text: str) -> str:
    """The first 16 hex digits of the SHA-256 of ``text`` (UTF-8): enough to match two records
    about the same text, not enough to reveal it.

    Hash whole texts (an instruction, a candidate, a snippet), never a secret on its own: a short
    password's hash can be reversed by trying every short password.
    """
    return hashlib.sha256(text.encode("utf-8", errors="surrogatepass")).hexdigest()[:HASH_CHARS]


class _QuietRotatingHandler(RotatingFileHandler):
    """Reports a failed write once through the module logger instead of printing a traceback."""

    failed = False

    def handleError(self, record: logging.LogRecord) -> None:
        if not self.failed:
            self.failed = True
            logger.warning("Cannot write the audit log %s", self.baseFilename, exc_info=True)


_handlers: dict[Path, _QuietRotatingHandler] = {}
_handlers_lock = threading.Lock()


def _handler_for(path: Path, max_bytes: int, backups: int) -> _QuietRotatingHandler:
    """One handler per file in this process, so that every AuditLog on it shares one lock."""
    with _handlers_lock:
        handler = _handlers.get(path)
        if handler is None:
            path.parent.mkdir(parents=True, exist_ok=True)
            handler = _QuietRotatingHandler(path, maxBytes=max_bytes, backupCount=backups,
                                            encoding="utf-8", delay=True)
            handler.setFormatter(logging.Formatter("%(message)s"))
            _handlers[path] = handler
        return handler


class AuditLog:
    """Appends guardrail decisions to a JSON-lines file, rotated at ``max_bytes`` (keeping
    ``backups`` older files). Safe to share between threads; never raises on a write."""

    def __init__(self, path: Path | None = None, *, max_bytes: int = MAX_BYTES,
                 backups: int = BACKUPS) -> None:
        self.path = (path or default_audit_path()).expanduser().resolve()
        self._max_bytes = max_bytes
        self._backups = backups
        self._unavailable = False

    def record(self, action: str, rule: str, decision: str, *,
               subject_hash: str | None = None) -> None:
        """Write one decision. ``subject_hash`` should come from ``subject_digest(text)``."""
        entry = {
            "time": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "action": _safe(action),
            "rule": _safe(rule),
            "decision": _safe(decision),
        }
        if subject_hash is not None:
            entry["subject"] = (subject_hash if _HEX.fullmatch(subject_hash)
                                else subject_digest(subject_hash))
        self._write(json.dumps(entry, ensure_ascii=True))

    def record_findings(self, action: str, findings: Iterable[GuardFinding], *,
                        subject: str | None = None) -> None:
        """Write a line for each finding; ``subject`` is the text they concern (hashed here)."""
        digest = subject_digest(subject) if subject is not None else None
        for finding in findings:
            self.record(action, finding.rule, finding.decision, subject_hash=digest)

    def close(self) -> None:
        """Close the file (a later ``record`` opens it again)."""
        with _handlers_lock:
            handler = _handlers.pop(self.path, None)
        if handler is not None:
            handler.close()

    def _write(self, line: str) -> None:
        if self._unavailable:
            return
        try:
            handler = _handler_for(self.path, self._max_bytes, self._backups)
        except OSError as error:
            self._unavailable = True
            logger.warning("Audit log disabled: cannot create %s (%s)", self.path.parent, error)
            return
        handler.handle(logging.makeLogRecord({"msg": line, "levelno": logging.INFO,
                                              "levelname": "INFO"}))


def _safe(value: str) -> str:
    text = str(value)
    if _SAFE_FIELD.fullmatch(text):
        return text
    logger.warning("Audit field is not an identifier; writing its hash instead")
    return "sha256:" + subject_digest(text)
