# expect: none
import shlex
import subprocess


def show(path):
    subprocess.run('ls -l ' + shlex.quote(path), shell=True, check=True)
