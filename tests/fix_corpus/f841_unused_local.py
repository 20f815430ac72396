# fix: F841 6
"""Totals."""


def total(values):
    count = len(values)
    return sum(values)
