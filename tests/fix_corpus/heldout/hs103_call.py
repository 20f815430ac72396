# fix: HS103 8
"""Backups."""

import subprocess


def backup(src, dst):
    return subprocess.call(f"cp -r {src} {dst}", shell=True)
