# fix: HS102 8
"""Disk usage."""

import os


def usage(folder):
    return os.popen("du -sh " + folder).read()
