# fix: F841 8
"""Safe division."""


def safe_div(a, b):
    try:
        return a / b
    except ZeroDivisionError as error:
        return None
