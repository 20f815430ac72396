"""Where indexes and exported models live: the platformdirs user cache for "hearth" (or
$HEARTH_CACHE_DIR), one folder per workspace named after a hash of its resolved root."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import platformdirs

CACHE_ENV = "HEARTH_CACHE_DIR"


def cache_base() -> Path:
    override = os.environ.get(CACHE_ENV)
    if override:
        return Path(override).expanduser()
    return platformdirs.user_cache_path("hearth", appauthor=False)


def workspace_key(root: Path) -> str:
    """A file name for the workspace at ``root``: its folder's name and a hash of its path."""
    resolved = root.resolve()
    digest = hashlib.sha256(str(resolved).encode("utf-8")).hexdigest()[:16]
    readable = re.sub(r"[^A-Za-z0-9_.-]", "_", resolved.name)[:40] or "root"
    return f"{readable}-{digest}"


def workspace_cache_dir(root: Path) -> Path:
    return cache_base() / "index" / workspace_key(root)
