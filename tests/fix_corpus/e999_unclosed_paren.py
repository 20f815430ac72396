# fix: E999 6
"""Scaling."""


def scale(values, factor):
    return [v * factor for v in values
