# fix: HS102 8
"""Archiving."""

import os


def archive(folder):
    os.system("tar czf backup.tgz " + folder)
