# expect: HS107
import os


def publish(path):
    os.chmod(path, 0o777)
