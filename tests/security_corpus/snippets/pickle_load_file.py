# expect: HS104
import pickle


def load_cache(path):
    with open(path, 'rb') as handle:
        return pickle.load(handle)
