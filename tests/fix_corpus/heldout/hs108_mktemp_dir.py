# fix: HS108 8
"""Scratch files."""

import tempfile


def scratch_path():
    return tempfile.mktemp(suffix=".txt")
