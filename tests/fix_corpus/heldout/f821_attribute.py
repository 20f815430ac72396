# fix: F821 6
"""Paths."""


def home_file(name):
    return os.path.join(os.path.expanduser("~"), name)
