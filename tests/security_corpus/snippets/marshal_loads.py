# expect: HS104
import marshal


def read_code(data):
    return marshal.loads(data)
