# fix: F401 4
"""Paths."""

from pathlib import Path, PurePath


def home():
    return Path.home()
