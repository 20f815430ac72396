# expect: HS103
import subprocess as sp


def run(cmd):
    return sp.Popen(cmd, shell=True)
