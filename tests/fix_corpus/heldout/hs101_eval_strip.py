# fix: HS101 6
"""Settings."""


def load(text):
    return eval(text.strip())
