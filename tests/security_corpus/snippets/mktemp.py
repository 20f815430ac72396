# expect: HS108
import tempfile


def scratch():
    name = tempfile.mktemp(suffix='.txt')
    with open(name, 'w') as handle:
        handle.write('x')
    return name
