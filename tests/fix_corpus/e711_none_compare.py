# fix: E711 6
"""Defaults."""


def or_default(value, default):
    if value == None:
        return default
    return value
