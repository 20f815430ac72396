# expect: HS102
import os


def archive(folder):
    os.system('tar czf backup.tgz ' + folder)
