# fix: F821 10
"""Text."""


def shout(text):
    return text.upper() + "!"


def greet(name):
    return shuot("hello " + name)
