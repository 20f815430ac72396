# expect: HS102
import os


def usage(folder):
    return os.popen('du -sh {}'.format(folder)).read()
