# fix: F841 7
"""Stats."""


def mean(values):
    total = 0
    largest = max(values)
    for value in values:
        total += value
    return total / len(values)
