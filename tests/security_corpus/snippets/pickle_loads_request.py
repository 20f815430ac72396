# expect: HS104
import pickle
from flask import request


def restore():
    return pickle.loads(request.data)
