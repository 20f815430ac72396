# expect: HS104
from pickle import Unpickler


def read(stream):
    return Unpickler(stream).load()
