# fix: HS101 6
"""Config values."""


def parse_value(text):
    return eval(text)
