# expect: none
import dis


def is_valid(source):
    try:
        compile(source, '<check>', 'exec')
    except SyntaxError:
        return False
    return True


def show(source):
    dis.dis(compile(source, '<dis>', 'exec'))
