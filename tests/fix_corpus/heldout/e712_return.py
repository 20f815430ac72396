# fix: E712 6
"""Flags."""


def enabled(settings):
    return settings.get("debug") == True
