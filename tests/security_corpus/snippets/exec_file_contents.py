# expect: HS101
def load_plugin(path):
    with open(path) as handle:
        exec(handle.read())
