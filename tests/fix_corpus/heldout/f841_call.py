# fix: F841 8
"""Cache."""

import shutil


def clear(folder):
    removed = shutil.rmtree(folder, ignore_errors=True)
    return folder
