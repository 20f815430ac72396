# fix: HS103 8
"""Listing."""

import subprocess


def list_dir(path):
    return subprocess.run("ls -l " + path, shell=True, capture_output=True).stdout
