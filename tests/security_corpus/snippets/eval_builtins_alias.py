# expect: HS101
import builtins


def ev(s):
    return builtins.eval(s)
