# expect: HS101
def parse_value(text):
    return eval(text)
