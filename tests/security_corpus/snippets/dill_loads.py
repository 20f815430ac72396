# expect: HS104
import dill


def thaw(blob):
    return dill.loads(blob)
