"""Every test's history goes to a folder of its own run, never to the user's data folder."""

from __future__ import annotations

import os
import tempfile

os.environ.setdefault("HEARTH_DATA_DIR", tempfile.mkdtemp(prefix="hearth-test-data-"))
