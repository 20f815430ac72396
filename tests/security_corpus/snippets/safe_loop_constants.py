# expect: none
import subprocess

for cmd in ('ver', 'cmd /c ver'):
    subprocess.check_output(cmd, shell=True)
