"""Logging to stderr and a rotating file in the user log folder; never to stdout (the protocol)."""

from __future__ import annotations

import logging
import os
import sys
from logging.handlers import RotatingFileHandler
from pathlib import Path

import platformdirs


def log_dir() -> Path:
    return Path(os.environ.get("HEARTH_LOG_DIR") or platformdirs.user_log_dir("hearth"))


def setup_logging(level: int = logging.INFO, *, to_file: bool = True) -> Path | None:
    root = logging.getLogger()
    root.setLevel(level)
    formatter = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    stderr = logging.StreamHandler(sys.stderr)
    stderr.setFormatter(formatter)
    root.handlers[:] = [stderr]
    # pygls logs every message it sends at INFO: keep that for --verbose only.
    pygls_level = logging.DEBUG if level <= logging.DEBUG else logging.WARNING
    logging.getLogger("pygls").setLevel(pygls_level)
    if not to_file:
        return None
    path = log_dir() / "hearth.log"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = RotatingFileHandler(path, maxBytes=5_000_000, backupCount=3, encoding="utf-8")
    except OSError as exc:
        logging.getLogger(__name__).warning("Cannot write the log file %s: %s", path, exc)
        return None
    handler.setFormatter(formatter)
    root.addHandler(handler)
    return path
