# fix: E712 6
"""Flags."""


def enabled(flags, name):
    if flags.get(name) == True:
        return "on"
    return "off"
