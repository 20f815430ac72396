# fix: E711 6
"""Filters."""


def present(items):
    return [item for item in items if item != None]
