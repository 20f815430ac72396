# expect: HS102
import os
import sys

os.system(f'ping -c 1 {sys.argv[1]}')
