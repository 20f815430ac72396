# expect: HS101
def run(source):
    code = compile(source, '<user>', 'exec')
    exec(code, {})
