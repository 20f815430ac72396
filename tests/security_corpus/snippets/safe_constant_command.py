# expect: none
import os
import subprocess

CLEAR = 'clear'
os.system(CLEAR)
subprocess.run('ls -l', shell=True, check=True)
