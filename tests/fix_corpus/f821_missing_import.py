# fix: F821 6
"""Geometry."""


def hypotenuse(a, b):
    return math.sqrt(a * a + b * b)
