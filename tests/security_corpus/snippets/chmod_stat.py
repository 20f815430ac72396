# expect: HS107
import os
import stat


def share(path):
    os.chmod(path, stat.S_IRWXU | stat.S_IRWXO)
