# expect: HS103
import subprocess


def grep(pattern, path):
    return subprocess.check_output('grep %s %s' % (pattern, path), shell=True)
