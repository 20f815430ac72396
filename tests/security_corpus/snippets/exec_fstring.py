# expect: HS101
def make_getter(field):
    exec(f'def get(obj): return obj.{field}', globals())
