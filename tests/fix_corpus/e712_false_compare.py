# fix: E712 6
"""Filters."""


def inactive(users):
    return [u for u in users if u.active == False]
