# fix: F821 7
"""Averages."""


def average(values):
    total = sum(values)
    return totl / len(values)
