# fix: E999 5
"""Greetings."""


def greet(name)
    return f"Hello, {name}!"
