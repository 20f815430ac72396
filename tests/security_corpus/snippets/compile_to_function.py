# expect: HS101
import types


def build(src):
    code = compile(src, '<gen>', 'exec')
    return types.FunctionType(code.co_consts[0], {})
